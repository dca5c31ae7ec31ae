"""Scoring with a trained model: every segment of the library, or audio files outside it.

Which code scores depends on the model row's ``kind`` (``load_scorer``): a ConvNet or one of the
other models of ``core.classic``; both read the feature store and decode files the same way.

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
from haverford.core.vocabulary import BANGER, NOT_A_BANGER
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
        from haverford.core import classic

        return classic.load_scorer(home, row)
    from haverford.core import inference

    return inference.load_scorer(home, row)


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
        skipped += _score_segments(home, db, row, scorer, ids)
        done += len(ids)
        if progress:
            progress(done, total, "")
    seconds = time.perf_counter() - started
    return {"segments": done - skipped, "skipped": skipped, "seconds": round(seconds, 3),
            "segments_per_s": round((done - skipped) / seconds, 1) if seconds else None}


def _score_segments(home: Home, db, row: dict, scorer, ids: list[int]) -> int:
    """Score ``ids`` from the feature store with ``scorer`` and save the scores; return how many
    lacked one of its features."""
    locations = {f: tracks_db.segment_locations(db, ids, f) for f in scorer.features}
    usable = [i for i in range(len(ids)) if all(locations[f][i]["path"] is not None for f in scorer.features)]
    if usable:
        xs = {f: home.store.read([locations[f][i] for i in usable], f).astype(np.float32) for f in scorer.features}
        models_db.save_predictions(db, row["id"], [ids[i] for i in usable], scorer.p_banger(xs))
    return len(ids) - len(usable)


def score_tracks(home: Home, track_ids: Iterable[int]) -> dict:
    """Score the segments of newly imported tracks with the active model, if there is one.

    Without an active model (or without tracks) nothing is loaded, so an import stays fast.
    Segments whose track lacks the model's feature are skipped (``haverford features --feature
    NAME`` computes it). Returns ``{"model_id", "segments", "skipped"}``; ``model_id`` None when
    nothing was scored.
    """
    db = home.connect()
    row, track_ids = models_db.active_model(db), list(track_ids)
    if row is None or not track_ids:
        return {"model_id": None, "segments": 0, "skipped": 0}
    scorer = load_scorer(home, row)
    ids = [s for t in track_ids for s in tracks_db.segment_ids(db, t, audible_only=True)]
    skipped = sum(_score_segments(home, db, row, scorer, ids[i:i + SCORE_BATCH])
                  for i in range(0, len(ids), SCORE_BATCH))
    return {"model_id": row["id"], "segments": len(ids) - skipped, "skipped": skipped}


def predict_files(home: Home, paths: Iterable[str], *, model_id: int | None = None,
                  progress: Progress | None = None) -> dict:
    """Classify audio files and folders without adding them to the library (DESIGN.md's JSON).

    Folders are read like ``ingest`` reads them. A file that cannot be used is an entry in
    ``errors`` (with the reason) and the others are scored; ``skipped`` lists files in the
    folders whose extension is not audio.
    """
    from haverford.core.discover import discover

    candidates, skipped, errors = discover(paths)
    row = model_row(home.connect(), model_id)
    scorer = load_scorer(home, row) if candidates else None
    tracks = []
    for done, candidate in enumerate(candidates, start=1):
        try:
            tracks.append(predict_file(scorer, candidate.path))
        except AudioError as exc:
            errors.append({"path": audio.display_path(candidate.path), "error": str(exc)})
        if progress:
            progress(done, len(candidates), str(candidate.path))
    return {"model_id": row["id"], "tracks": tracks, "errors": errors, "skipped": skipped}


def _as_stored(x: np.ndarray) -> np.ndarray:
    """Round features through float16 as the store does, so files score like library segments."""
    return x.astype(np.float16).astype(np.float32)


def predict_file(scorer, path: str | os.PathLike) -> dict:
    """Segment scores and the track verdict of one audio file, with a scorer from ``load_scorer``.

    Silent segments (``audio.SILENCE_DBFS``) are listed with ``p_banger`` None and left out of
    the track's mean, which decides its verdict.

    Raises
    ------
    AudioError
        When the file cannot be decoded, is too short, or has no audible segment.
    """
    path = Path(path)
    info = audio.probe(path)
    scores: list[float | None] = []
    for values, silent in analyse.featurise(path, tuple(scorer.features), info=info, decoding=audio.Decoding()):
        audible = {f: _as_stored(values[f][~silent]) for f in scorer.features}
        p = iter(scorer.p_banger(audible) if (~silent).any() else [])
        scores.extend(None if quiet else float(next(p)) for quiet in silent)
    mean = float(np.mean([v for v in scores if v is not None]))
    return {"path": audio.display_path(path), "p_banger": mean,
            "verdict": BANGER if mean >= 0.5 else NOT_A_BANGER,
            "segments": [{"index": i, "start_s": i * SEGMENT_SECONDS, "p_banger": v, "silent": v is None}
                         for i, v in enumerate(scores)]}
