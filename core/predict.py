"""Scoring with a trained model: every segment of the library, or audio files outside it.

A track's verdict is ``banger`` when the mean p(banger) of its segments is at least 0.5.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from haverford.core import analyse, audio
from haverford.core.config import SEGMENT_SECONDS
from haverford.core.errors import AudioError, NotFoundError
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
    from haverford.core.inference import load_model, predict_p_banger

    started = time.perf_counter()
    db = home.connect()
    row = model_row(db, model_id)
    model = model or load_model(home, row)
    total, done, skipped = models_db.segment_count(db), 0, 0
    for ids in models_db.iter_segment_batches(db, batch=SCORE_BATCH):
        locations = tracks_db.segment_locations(db, ids, row["feature"])
        usable = [loc for loc in locations if loc["path"] is not None]
        skipped += len(locations) - len(usable)
        if usable:
            p = predict_p_banger(model, [home.store.read(usable, row["feature"]).astype(np.float32)])
            models_db.save_predictions(db, row["id"], [loc["segment_id"] for loc in usable], p)
        done += len(ids)
        if progress:
            progress(done, total, "")
    seconds = time.perf_counter() - started
    return {"segments": done - skipped, "skipped": skipped, "seconds": round(seconds, 3),
            "segments_per_s": round((done - skipped) / seconds, 1) if seconds else None}


def predict_files(home: Home, paths: Iterable[str], *, model_id: int | None = None,
                  progress: Progress | None = None) -> dict:
    """Classify audio files and folders without adding them to the library (DESIGN.md's JSON).

    Folders are read like ``ingest`` reads them. A file that cannot be used is an entry in
    ``errors`` (with the reason) and the others are scored; ``skipped`` lists files in the
    folders whose extension is not audio.
    """
    from haverford.core.inference import load_model
    from haverford.core.ingest import discover

    candidates, skipped, errors = discover(paths)
    row = model_row(home.connect(), model_id)
    model = load_model(home, row) if candidates else None
    tracks = []
    for done, candidate in enumerate(candidates, start=1):
        try:
            tracks.append(predict_file(model, candidate.path, feature=row["feature"]))
        except AudioError as exc:
            errors.append({"path": audio.display_path(candidate.path), "error": str(exc)})
        if progress:
            progress(done, len(candidates), str(candidate.path))
    return {"model_id": row["id"], "tracks": tracks, "errors": errors, "skipped": skipped}


def _as_stored(x: np.ndarray) -> np.ndarray:
    """Round features through float16 as the store does, so files score like library segments."""
    return x.astype(np.float16).astype(np.float32)


def predict_file(model, path: str | os.PathLike, *, feature: str) -> dict:
    """Segment scores and the track verdict of one audio file.

    Silent segments (``audio.SILENCE_DBFS``) are listed with ``p_banger`` None and left out of
    the track's mean, which decides its verdict.

    Raises
    ------
    AudioError
        When the file cannot be decoded, is too short, or has no audible segment.
    """
    from haverford.core.inference import predict_p_banger

    path = Path(path)
    info = audio.probe(path)
    scores: list[float | None] = []
    for values, silent in analyse.featurise(path, (feature,), info=info, decoding=audio.Decoding()):
        p = iter(predict_p_banger(model, [_as_stored(values[feature][~silent])]) if (~silent).any() else [])
        scores.extend(None if quiet else float(next(p)) for quiet in silent)
    audible = [v for v in scores if v is not None]
    mean = float(np.mean(audible))
    return {"path": audio.display_path(path), "p_banger": mean,
            "verdict": "banger" if mean >= 0.5 else "not_a_banger",
            "segments": [{"index": i, "start_s": i * SEGMENT_SECONDS, "p_banger": v, "silent": v is None}
                         for i, v in enumerate(scores)]}
