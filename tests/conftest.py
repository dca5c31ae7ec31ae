"""Shared fixtures: audio built on the spot (tones, clicks, noise), temporary homes, in-memory DBs,
and one small demo library per session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import haverford.db as dbm
from haverford.core.config import HOME_ENV
from haverford.core.home import Home


def tone(freq: float = 440.0, *, seconds: float = 12.0, sr: int = 22050, channels: int = 1,
         amplitude: float = 0.3) -> np.ndarray:
    """A sine tone [shape=(n,) or (n, channels)], float32."""
    t = np.arange(int(round(seconds * sr))) / sr
    y = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return y if channels == 1 else np.stack([y] * channels, axis=1)


def clicks(bpm: float = 128.0, *, seconds: float = 12.0, sr: int = 22050) -> np.ndarray:
    """A click track: a short decaying 60 Hz thump on every beat, float32 mono."""
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    thump = (np.sin(2 * np.pi * 60 * np.arange(2000) / sr) * np.exp(-np.arange(2000) / 300)).astype(np.float32)
    for start in np.arange(0, seconds, 60.0 / bpm):
        i = int(start * sr)
        y[i:i + len(thump)] += thump[: len(y) - i]
    return 0.8 * y


def write_audio(path: Path, y: np.ndarray, sr: int = 22050, **kwargs) -> Path:
    """Write ``y`` to ``path`` (format from the extension) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, **kwargs)
    return path


@pytest.fixture(autouse=True, scope="session")
def _component_manifests_scanned_once():
    """Streamlit's ``AppTest`` scans every installed distribution for component manifests each time
    a test creates one (``BidiComponentManager.discover_and_register_components``: ~0.5 s of CPU
    here, 19 of test_dashboard.py's 54 s). Installed packages do not change during a run, so the
    scan's result is kept for the test process; served dashboards still scan once, as in use."""
    import functools

    from streamlit.components.v2 import manifest_scanner

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_scanner, "scan_component_manifests",
                      functools.cache(manifest_scanner.scan_component_manifests))
        yield


@pytest.fixture
def memdb():
    """A fresh, migrated in-memory database."""
    return dbm.connect(":memory:")


@pytest.fixture
def home(tmp_path) -> Home:
    """An empty data home in a temporary folder."""
    return Home(tmp_path / "home")


@pytest.fixture
def library_dir(tmp_path) -> Path:
    """A small seed-style library: banger/ (click tracks) and not_a_banger/ (tones)."""
    root = tmp_path / "music"
    write_audio(root / "banger" / "kick 128.wav", clicks(128, seconds=12.0))
    write_audio(root / "banger" / "kick 140.flac", clicks(140, seconds=16.0))
    write_audio(root / "not_a_banger" / "tone.ogg", tone(330, seconds=11.0, sr=44100), sr=44100)
    return root


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder that ``build(folder)`` fills once per run, shared by the test workers.

    Every xdist worker would otherwise build each session template itself (the trained demo home
    is 12 s of CPU); the first worker to need one builds it under a lock and the others wait for
    it or find it built. The templates are read-only: tests that write take a copy."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's folder, shared by workers
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def train_template(tmp_path_factory):
    """A labelled library of 8 click tracks and 8 tones (3 segments each), built once per run;
    tests that write to it take a copy (``tests._train_home.copy_home``)."""
    from _train_home import build_home, settle

    folder = built_once(tmp_path_factory, "train-template", lambda f: settle(build_home(f)))
    return Home(folder / "home")


@pytest.fixture(scope="session")
def small_train_template(tmp_path_factory):
    """The same with 4 tracks of each kind, for the slower page and cross-check tests."""
    from _train_home import build_home, settle

    folder = built_once(tmp_path_factory, "small-train-template", lambda f: settle(build_home(f, per_class=4)))
    return Home(folder / "home")


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Home:
    """The demo library (4 generated tracks, simulated labellers, no model), built once per run.

    Read-only: a test that writes takes ``demo_copy``."""
    from _train_home import settle

    from haverford.core.demo import build_demo

    def build(folder: Path) -> None:
        build_demo(Home(folder / "home"), n_tracks=4, seed=0)
        settle(Home(folder / "home"))

    return Home(built_once(tmp_path_factory, "demo", build) / "home")


@pytest.fixture
def demo_copy(demo_home, tmp_path, monkeypatch) -> Home:
    """A private copy of the demo home that a test may write to, served by the dashboard
    (``HAVERFORD_HOME`` points at it)."""
    from _train_home import copy_home

    home = copy_home(demo_home, tmp_path)
    monkeypatch.setenv(HOME_ENV, str(home.path))
    return home


@pytest.fixture(scope="session")
def trained_demo_home(tmp_path_factory) -> Home:
    """The demo library of 8 tracks with a tiny ConvNet trained on it and active (no other models),
    built once per run. Read-only: tests that write take ``_train_home.copy_home``."""

    def build(folder: Path) -> None:
        from _train_home import settle

        from haverford.core.demo import build_demo
        from haverford.core.jobs import run_in_foreground
        from haverford.core.presets import TrainConfig

        home = Home(folder / "home")
        build_demo(home, n_tracks=8, seed=0)
        run_in_foreground(home, TrainConfig(preset="tiny", other_models=False), created_by="test")
        settle(home)

    return Home(built_once(tmp_path_factory, "trained-demo", build) / "home")


WARM_NUMBA = ("import numpy as np, librosa; y = np.random.default_rng(0).normal(size=4 * 22050).astype('float32'); "
              "librosa.beat.beat_track(y=y, sr=22050)")


def pytest_configure(config):
    """Compile librosa's beat tracker once, in one process, before any test worker starts.

    librosa's numba functions cache their machine code beside librosa itself. In a fresh
    virtualenv the first processes to need the beat tracker (a test, the dashboard's tempo worker)
    compile and write that cache at the same moment, and one of them crashed in a cached gufunc
    (``librosa.util.localmax``: a segmentation fault in CI on 2026-12-07). Afterwards every process
    loads the cache (about a second); the first compile takes ~30 s of CPU on 2 cores. Skipped
    when the cache already holds the beat tracker and ``localmax`` (the warm-up itself takes 6 s
    of wall time here, before any worker starts).

    Where Python writes no bytecode (``PYTHONDONTWRITEBYTECODE``, set on our machines), each of the
    suite's ~75 processes would compile Haverford's modules again (~0.3 s of CPU each): they are
    compiled once, in the background, and every later process reads the ``.pyc`` files."""
    if hasattr(config, "workerinput"):
        return
    # the xdist controller, or a run without workers
    if not numba_cache_ready():
        subprocess.run([sys.executable, "-c", WARM_NUMBA], check=True)
    if sys.dont_write_bytecode:  # e.g. PYTHONDONTWRITEBYTECODE=1: each process would compile Haverford again
        config._haverford_compileall = subprocess.Popen(  # in the background while the workers start
            [sys.executable, "-m", "compileall", "-q", *(str(ROOT / d) for d in ("core", "db", "dashboard"))],
            stdout=subprocess.DEVNULL)


def pytest_unconfigure(config):
    proc = getattr(config, "_haverford_compileall", None)
    if proc is not None:
        proc.wait()


def numba_cache_ready() -> bool:
    """Whether librosa's numba cache holds what ``WARM_NUMBA`` compiles (without importing librosa)."""
    import importlib.util

    spec = importlib.util.find_spec("librosa")
    if spec is None or not spec.submodule_search_locations:
        return False
    cache = Path(next(iter(spec.submodule_search_locations)))
    return all(any(cache.glob(f"**/__pycache__/{name}-*.nbi"))
               for name in ("beat.__beat_track_dp", "guf-utils._localmax", "beat.__dp_backtrack"))


ROOT = Path(__file__).resolve().parents[1]
DURATIONS = Path(__file__).with_name("durations.json")  # bench/suite_durations.py refreshes it
NEW_SLOW_FILE_S = 60.0  # a file not in the table yet that holds a test marked slow


def pytest_collection_modifyitems(config, items):
    """Longest files first, by their measured seconds (``tests/durations.json``): with workers taking
    whole files (``--dist loadfile``), the long files start at once and the short ones fill in at the
    end, instead of a long file started last leaving the other core idle (longest processing time
    first scheduling). A file missing from the table counts as long if it has a slow test. The sort
    is stable, so each file keeps its own order."""
    table = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    slow_files = {item.path.name for item in items if item.get_closest_marker("slow")}

    def seconds(item) -> float:
        name = item.path.name
        return table.get(name, NEW_SLOW_FILE_S if name in slow_files else 0.0)

    items.sort(key=lambda item: -seconds(item))
