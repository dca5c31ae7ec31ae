"""Scoring with a trained model: every segment of the library, or audio files outside it.

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


def score_library(home: Home, model_id: int, *, model=None, progress: Progress | None = None) -> dict:
    """Score every segment of the library with a model and store the scores (batched).

    Segments of tracks without the model's feature are skipped and counted.
    Returns ``{"segments", "skipped", "seconds", "segments_per_s"}``.
    """
    from haverford.core.inference import load_model

    started = time.perf_counter()
    db = home.connect()
    row = model_row(db, model_id)
    model = model or load_model(home, row)
    total, done, skipped = models_db.segment_count(db), 0, 0
    for ids in models_db.iter_segment_batches(db, batch=SCORE_BATCH):
        skipped += _score_segments(home, db, row, model, ids)
        done += len(ids)
        if progress:
            progress(done, total, "")
    seconds = time.perf_counter() - started
    return {"segments": done - skipped, "skipped": skipped, "seconds": round(seconds, 3),
            "segments_per_s": round((done - skipped) / seconds, 1) if seconds else None}


def _score_segments(home: Home, db, row: dict, model, ids: list[int]) -> int:
    """Score ``ids`` from the feature store and save the scores; return how many lacked the feature."""
    from haverford.core.inference import predict_p_banger

    locations = tracks_db.segment_locations(db, ids, row["feature"])
    usable = [loc for loc in locations if loc["path"] is not None]
    if usable:
        p = predict_p_banger(model, [home.store.read(usable, row["feature"]).astype(np.float32)])
        models_db.save_predictions(db, row["id"], [loc["segment_id"] for loc in usable], p)
    return len(locations) - len(usable)


def score_tracks(home: Home, track_ids: Iterable[int]) -> dict:
    """Score the segments of newly imported tracks with the active model, if there is one.

    Without an active model (or without tracks) nothing is loaded, so an import stays fast.
    Segments whose track lacks the model's feature are skipped (``haverford features --feature
    NAME`` computes it). Returns ``{"model_id", "segments", "skipped"}``; ``model_id`` None when
    nothing was scored.
    """
    from haverford.core.inference import load_model

    db = home.connect()
    row, track_ids = models_db.active_model(db), list(track_ids)
    if row is None or not track_ids:
        return {"model_id": None, "segments": 0, "skipped": 0}
    model = load_model(home, row)
    ids = [s for t in track_ids for s in tracks_db.segment_ids(db, t)]
    skipped = sum(_score_segments(home, db, row, model, ids[i:i + SCORE_BATCH])
                  for i in range(0, len(ids), SCORE_BATCH))
    return {"model_id": row["id"], "segments": len(ids) - skipped, "skipped": skipped}


def predict_files(home: Home, paths: Iterable[str], *, model_id: int | None = None,
                  progress: Progress | None = None) -> dict:
    """Classify audio files without adding them to the library (DESIGN.md's JSON shape).

    A file that cannot be decoded gets ``"error"`` and null scores; the others go on.
    """
    from haverford.core.inference import load_model

    paths = [str(p) for p in paths]
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise HaverfordError(f"no such file: {missing[0]}; give audio files to classify")
    row = model_row(home.connect(), model_id)
    model = load_model(home, row)
    tracks = []
    for done, path in enumerate(paths, start=1):
        tracks.append(predict_file(model, path, feature=row["feature"]))
        if progress:
            progress(done, len(paths), path)
    return {"model_id": row["id"], "tracks": tracks}


def _as_stored(x: np.ndarray) -> np.ndarray:
    """Round features through float16 as the store does, so files score like library segments."""
    return x.astype(np.float16).astype(np.float32)


def predict_file(model, path: str, *, feature: str) -> dict:
    """Segment scores and the track verdict of one audio file."""
    from haverford.core.inference import predict_p_banger

    try:
        batches = (_as_stored(features_mod.compute(feature, y)) for y in audio.iter_segments(path, batch=32))
        p = predict_p_banger(model, batches)
    except AudioError as exc:
        return {"path": path, "p_banger": None, "verdict": None, "segments": [], "error": str(exc)}
    mean = float(p.mean())
    return {"path": path, "p_banger": mean, "verdict": "banger" if mean >= 0.5 else "not_a_banger",
            "segments": [{"index": i, "start_s": i * SEGMENT_SECONDS, "p_banger": float(v)}
                         for i, v in enumerate(p)]}
