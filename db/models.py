"""Trained models, the stored track split, the labelled data a run trains on, and predictions.

Model rows keep everything needed to compare versions: preset, feature, hyperparameters
(``params``), the hash of the labels, the split's track ids, curves and test metrics (JSON).
Exactly one model is active (``models_one_active``); ``activate`` switches in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import sqlite_utils

from haverford.db.connection import now, write
from haverford.db.vocabulary import VERDICT_PARAMS

JSON_COLUMNS = ("params", "curves", "metrics")
# What a model row's file holds (``models.kind``): scoring and ``predict`` dispatch on it.
CONVNET = "convnet"          # a Keras ``.keras`` file
CLASSIC = "classic"          # a scikit-learn pipeline stored with skops (core.classic)
MODEL_KINDS = (CONVNET, CLASSIC)


# --- labelled data and the split --------------------------------------------------------------

def labelled_segments(db: sqlite_utils.Database) -> list[dict]:
    """Segments with a consensus verdict: ``{segment_id, track_id, verdict}``, by track then index."""
    sql = """SELECT s.id AS segment_id, s.track_id, v.verdict FROM segment_verdicts v
             JOIN segments s ON s.id = v.segment_id
             WHERE v.verdict IN (:banger, :not_a_banger) AND s.silent = 0 ORDER BY s.track_id, s.idx"""
    return list(db.query(sql, VERDICT_PARAMS))


def excluded_label_count(db: sqlite_utils.Database) -> int:
    """Segments that labellers answered but that have no usable verdict (ties, other values)."""
    sql = """SELECT COUNT(*) FROM segment_verdicts WHERE n_labellers > 0
             AND (verdict IS NULL OR verdict NOT IN (:banger, :not_a_banger))"""
    return db.execute(sql, VERDICT_PARAMS).fetchone()[0]


def labelled_tracks(db: sqlite_utils.Database) -> list[dict]:
    """Tracks with labelled segments and their label: ``{track_id, content_hash, verdict}``.

    ``verdict`` is the majority of the segments' consensus verdicts (``vocabulary.majority_class``
    as the aggregate ``track_majority``), None when they tie.
    """
    sql = """SELECT t.id AS track_id, t.content_hash, track_majority(v.verdict) AS verdict
             FROM tracks t JOIN segments s ON s.track_id = t.id
             JOIN segment_verdicts v ON v.segment_id = s.id
             WHERE v.verdict IN (:banger, :not_a_banger) AND s.silent = 0 GROUP BY t.id ORDER BY t.id"""
    return list(db.query(sql, VERDICT_PARAMS))


def split_sides(db: sqlite_utils.Database) -> dict[int, str]:
    """The stored split: track id → ``train`` | ``validation`` | ``test``."""
    return dict(db.execute("SELECT track_id, side FROM splits"))


def assign_sides(db: sqlite_utils.Database, sides: dict[int, str]) -> int:
    """Store sides for tracks not yet in the split (an assigned track never moves); returns rows added."""
    stamp = now()
    with write(db):
        before = db.execute("SELECT COUNT(*) FROM splits").fetchone()[0]
        for track_id, side in sides.items():
            db.execute("INSERT OR IGNORE INTO splits (track_id, side, assigned_at) VALUES (?, ?, ?)",
                       [int(track_id), side, stamp])
        return db.execute("SELECT COUNT(*) FROM splits").fetchone()[0] - before


# --- models ----------------------------------------------------------------------------------

def insert_model(db: sqlite_utils.Database, row: dict) -> int:
    """Insert an inactive model row (JSON columns given as dicts); returns its id."""
    row = {**row, "created_at": row.get("created_at") or now(), "active": 0}
    for key in JSON_COLUMNS:
        if key in row and not isinstance(row[key], str):
            row[key] = json.dumps(row[key], sort_keys=True)
    return int(db.table("models").insert(row).last_pk or 0)


def activate(db: sqlite_utils.Database, model_id: int) -> None:
    """Make ``model_id`` the one active model, in the caller's (or a new) transaction."""
    with write(db):
        db.execute("UPDATE models SET active = 0 WHERE active = 1 AND id != ?", [model_id])
        db.execute("UPDATE models SET active = 1 WHERE id = ?", [model_id])


def get_model(db: sqlite_utils.Database, model_id: int) -> dict | None:
    """One model with its JSON columns decoded, or None."""
    rows = list(db.query("SELECT * FROM models WHERE id = ?", [model_id]))
    return _decode(rows[0]) if rows else None


def active_model(db: sqlite_utils.Database) -> dict | None:
    """The active model, or None."""
    rows = list(db.query("SELECT * FROM models WHERE active = 1"))
    return _decode(rows[0]) if rows else None


def list_models(db: sqlite_utils.Database) -> list[dict]:
    """Every model, newest first, with the number of segments it has scored."""
    sql = """SELECT m.*, (SELECT COUNT(*) FROM predictions p WHERE p.model_id = m.id) AS n_predictions
             FROM models m ORDER BY m.id DESC"""
    return [_decode(r) for r in db.query(sql)]


def run_models(db: sqlite_utils.Database, run_id: int) -> list[dict]:
    """The models one run made (a ConvNet and the other models fitted beside it), by id."""
    return [_decode(r) for r in db.query("SELECT * FROM models WHERE run_id = ? ORDER BY id", [int(run_id)])]


def _decode(row: dict) -> dict:
    for key in JSON_COLUMNS:
        row[key] = json.loads(row[key]) if row.get(key) else {}
    return row


# --- the labels a model was trained against ---------------------------------------------------

def save_model_labels(db: sqlite_utils.Database, model_id: int, rows: Iterable[tuple[int, str, str]]) -> None:
    """Store the ``(segment_id, side, verdict)`` a model was trained and tested on, one transaction."""
    records = ({"model_id": int(model_id), "segment_id": int(s), "side": side, "verdict": v} for s, side, v in rows)
    with write(db):
        db.table("model_labels").insert_all(records, batch_size=5000)


def label_changes(db: sqlite_utils.Database, model_id: int) -> dict[str, int]:
    """How the consensus moved since a model was trained.

    ``changed``: segments it was trained or tested on whose verdict is now different (or gone);
    ``added``: segments labelled banger/not_a_banger now that it never saw.
    """
    changed = """SELECT COUNT(*) FROM model_labels ml LEFT JOIN segment_verdicts v ON v.segment_id = ml.segment_id
                 WHERE ml.model_id = :m AND v.verdict IS NOT ml.verdict"""
    added = """SELECT COUNT(*) FROM segment_verdicts v WHERE v.verdict IN (:banger, :not_a_banger)
               AND NOT EXISTS (SELECT 1 FROM model_labels ml WHERE ml.model_id = :m AND ml.segment_id = v.segment_id)"""
    params = {"m": int(model_id), **VERDICT_PARAMS}
    return {"changed": db.execute(changed, params).fetchone()[0], "added": db.execute(added, params).fetchone()[0]}


def has_label_snapshot(db: sqlite_utils.Database, model_id: int) -> bool:
    """Whether the model's training labels were recorded (models trained before migration 4 were not)."""
    return db.execute("SELECT 1 FROM model_labels WHERE model_id = ? LIMIT 1", [int(model_id)]).fetchone() is not None


def set_metrics(db: sqlite_utils.Database, model_id: int, metrics: dict) -> None:
    """Store the evaluation summary computed when the model was trained."""
    db.execute("UPDATE models SET metrics = ? WHERE id = ?", [json.dumps(metrics), int(model_id)])


# --- predictions -----------------------------------------------------------------------------

def segment_count(db: sqlite_utils.Database) -> int:
    """Number of audible (not silent) segments in the library: those a model scores."""
    return db.execute("SELECT COUNT(*) FROM segments WHERE silent = 0").fetchone()[0]


def iter_segment_batches(db: sqlite_utils.Database, *, batch: int) -> Iterator[list[int]]:
    """Every audible segment id of the library in id order, ``batch`` at a time (keyset pagination)."""
    last = 0
    while True:
        ids = [r[0] for r in db.execute("SELECT id FROM segments WHERE id > ? AND silent = 0 ORDER BY id LIMIT ?",
                                        [last, int(batch)])]
        if not ids:
            return
        yield ids
        last = ids[-1]


def save_predictions(db: sqlite_utils.Database, model_id: int, segment_ids: Iterable[int],
                     p_banger: Iterable[float]) -> None:
    """Store (or replace) a model's scores for segments, one transaction."""
    rows = [{"model_id": model_id, "segment_id": int(s), "p_banger": float(p)}
            for s, p in zip(segment_ids, p_banger, strict=False)]
    with write(db):
        db.table("predictions").upsert_all(rows, pk=("model_id", "segment_id"), batch_size=1000)


def prediction_count(db: sqlite_utils.Database, model_id: int) -> int:
    """How many segments a model has scored."""
    return db.execute("SELECT COUNT(*) FROM predictions WHERE model_id = ?", [model_id]).fetchone()[0]


def predictions(db: sqlite_utils.Database, model_id: int) -> dict[int, float]:
    """A model's scores: segment id → p_banger."""
    return dict(db.execute("SELECT segment_id, p_banger FROM predictions WHERE model_id = ?", [model_id]))


def delete_model(db: sqlite_utils.Database, model_id: int) -> None:
    """Remove an inactive model row and its predictions (a cancelled run's half-finished model)."""
    with write(db):
        db.execute("DELETE FROM predictions WHERE model_id = ?", [model_id])
        db.execute("DELETE FROM models WHERE id = ? AND active = 0", [model_id])


def active_model_id(db: sqlite_utils.Database) -> int | None:
    """The id of the active model (``models.active = 1``), or None."""
    row = db.execute("SELECT id FROM models WHERE active = 1 LIMIT 1").fetchone()
    return row[0] if row else None
