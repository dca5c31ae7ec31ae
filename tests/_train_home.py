"""A tiny labelled library for the training tests: click tracks (bangers) and tones (not)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import soundfile as sf

from haverford.core.config import SR
from haverford.core.home import Home
from haverford.core.ingest import ingest

SECONDS = 15.0
PER_CLASS = 8


def click_track(rng: np.random.Generator, *, seconds: float = SECONDS) -> np.ndarray:
    """A four-on-the-floor kick with hi-hat noise at 120-140 BPM: a 'banger'."""
    n = int(seconds * SR)
    y = 0.02 * rng.standard_normal(n)
    beat = int(SR * 60 / rng.uniform(120, 140))
    t = np.arange(int(0.12 * SR)) / SR
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-t * 30)
    for start in range(0, n - len(kick), beat):
        y[start:start + len(kick)] += kick
        y[start + beat // 2:start + beat // 2 + 500] += 0.3 * rng.standard_normal(min(500, n - start - beat // 2))
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def tone_track(rng: np.random.Generator, *, seconds: float = SECONDS) -> np.ndarray:
    """A slow sustained chord of sine tones: 'not a banger'."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = rng.uniform(180, 400)
    y = sum(np.sin(2 * np.pi * f0 * r * t) for r in (1.0, 1.25, 1.5)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def write_library(folder: Path, *, per_class: int = PER_CLASS, seed: int = 0, offset: int = 0) -> Path:
    """WAVs under ``folder/banger`` and ``folder/not_a_banger``; returns ``folder``."""
    rng = np.random.default_rng(seed)
    for label, make in (("banger", click_track), ("not_a_banger", tone_track)):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            sf.write(folder / label / f"{label}-{offset + i:02d}.wav", make(rng), SR)
    return folder


def build_home(root: Path, *, per_class: int = PER_CLASS) -> Home:
    """A home with ``2 * per_class`` labelled tracks of 3 segments each, with the features a Retrain
    reads (``log_mel`` for the ConvNet, and ``percussive_mel`` for the other models) computed once."""
    home = Home(root / "home")
    ingest(home, [write_library(root / "audio", per_class=per_class)], workers=2,
           feature_names=("log_mel", "percussive_mel"))
    return home


def copy_home(template: Home, dest: Path) -> Home:
    """A private copy of a template home (tests that write runs and models).

    The WAL is folded into the database file first and not copied: a connection that closes
    during the copy deletes ``-wal``/``-shm`` under ``copytree``'s feet.
    """
    settle(template)
    shutil.copytree(template.path, dest / "home", ignore=shutil.ignore_patterns("*-wal", "*-shm"))
    return Home(dest / "home")


def settle(home: Home) -> Home:
    """Fold the WAL into the database file, so that a copy of the home needs only that file."""
    with contextlib.closing(sqlite3.connect(home.db_path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return home
