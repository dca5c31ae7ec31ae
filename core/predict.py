"""Scoring with a trained model: every segment of the library, or audio files outside it.

Which code scores depends on the model row's ``kind`` (``load_scorer``): a ConvNet or one of the
other models of ``core.classic``; both read the feature store and decode files the same way.

A track's verdict is ``banger`` when the mean p(banger) of its segments is at least 0.5.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from haverford.core import audio
from haverford.core import features as features_mod
from haverford.core.config import SEGMENT_SECONDS
from haverford.core.errors import AudioError, HaverfordError, NotFoundError
from haverford.core.home import Home
from haverford.db import models as models_db
from haverford.db import tracks as tracks_db

SCORE_BATCH = 512
Progress = Callable[[int, int, str], None]


def model_row(db, model_id: int | None) -> dict:
    """The model asked for, else the active one; errors say how to get one."""
    if model_id is None:
        row = models_db.active_model(db)
        if row is None:
            raise NotFoundError("no active model; train one with 'haverford train' "
                                "(or the dashboard's Train page)")
        return row
    row = models_db.get_model(db, int(model_id))
    if row is None:
        raise NotFoundError(f"no model with id {model_id}; list them on the dashboard's Train page")
    return row


def load_scorer(home: Home, row: dict):
    """The scorer of a model row, by its ``kind``: a ConvNet (``core.inference``, TensorFlow) or
    one of the other models (``core.classic``, scikit-learn). A scorer has ``features`` (the
    feature names it reads) and ``p_banger(xs)`` (feature name → batch, to p(banger) [shape=(n,)])."""
    if row.get("kind", models_db.CONVNET) == models_db.CLASSIC:
        from haverford.core.classic import load_scorer as load
    else:
        from haverford.core.inference import load_scorer as load
    return load(home, row)


def score_library(home: Home, model_id: int, *, scorer=None, progress: Progress | None = None) -> dict:
    """Score every segment of the library with a model and store the scores (batched).

    Segments of tracks without one of the model's features are skipped and counted.
    Returns ``{"segments", "skipped", "seconds", "segments_per_s"}``.
    """
    started = time.perf_counter()
    db = home.connect()
    row = model_row(db, model_id)
    scorer = scorer or load_scorer(home, row)
    total, done, skipped = models_db.segment_count(db), 0, 0
    for ids in models_db.iter_segment_batches(db, batch=SCORE_BATCH):
        locations = {f: tracks_db.segment_locations(db, ids, f) for f in scorer.features}
        usable = [i for i in range(len(ids)) if all(locations[f][i]["path"] is not None for f in scorer.features)]
        skipped += len(ids) - len(usable)
        if usable:
            xs = {f: home.store.read([locations[f][i] for i in usable], f).astype(np.float32)
                  for f in scorer.features}
            models_db.save_predictions(db, row["id"], [ids[i] for i in usable], scorer.p_banger(xs))
        done += len(ids)
        if progress:
            progress(done, total, "")
    seconds = time.perf_counter() - started
    return {"segments": done - skipped, "skipped": skipped, "seconds": round(seconds, 3),
            "segments_per_s": round((done - skipped) / seconds, 1) if seconds else None}


def predict_files(home: Home, paths: Iterable[str], *, model_id: int | None = None,
                  progress: Progress | None = None) -> dict:
    """Classify audio files without adding them to the library (DESIGN.md's JSON shape).

    A file that cannot be decoded gets ``"error"`` and null scores; the others go on.
    """
    paths = [str(p) for p in paths]
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise HaverfordError(f"no such file: {missing[0]}; give audio files to classify")
    row = model_row(home.connect(), model_id)
    scorer = load_scorer(home, row)
    tracks = []
    for done, path in enumerate(paths, start=1):
        tracks.append(predict_file(scorer, path))
        if progress:
            progress(done, len(paths), path)
    return {"model_id": row["id"], "tracks": tracks}


def _as_stored(x: np.ndarray) -> np.ndarray:
    """Round features through float16 as the store does, so files score like library segments."""
    return x.astype(np.float16).astype(np.float32)


def predict_file(scorer, path: str) -> dict:
    """Segment scores and the track verdict of one audio file, with a scorer from ``load_scorer``."""
    try:
        parts = [scorer.p_banger({f: _as_stored(features_mod.compute(f, y)) for f in scorer.features})
                 for y in audio.iter_segments(path, batch=32)]
        p = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    except AudioError as exc:
        return {"path": path, "p_banger": None, "verdict": None, "segments": [], "error": str(exc)}
    mean = float(p.mean())
    return {"path": path, "p_banger": mean, "verdict": "banger" if mean >= 0.5 else "not_a_banger",
            "segments": [{"index": i, "start_s": i * SEGMENT_SECONDS, "p_banger": float(v)}
                         for i, v in enumerate(p)]}
