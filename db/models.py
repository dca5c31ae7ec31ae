"""Trained models, the stored track split, the labelled data a run trains on, and predictions.

Model rows keep everything needed to compare versions: preset, feature, hyperparameters
(``params``), the hash of the labels, the split's track ids, curves and test metrics (JSON).
Exactly one model is active (``models_one_active``); ``activate`` switches in one transaction.
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator

import sqlite_utils

from haverford.db.connection import now, write

JSON_COLUMNS = ("params", "curves", "metrics")


# --- labelled data and the split --------------------------------------------------------------

def labelled_segments(db: sqlite_utils.Database) -> list[dict]:
    """Segments with a consensus verdict: ``{segment_id, track_id, verdict}``, by track then index."""
    sql = """SELECT s.id AS segment_id, s.track_id, v.verdict FROM segment_verdicts v
             JOIN segments s ON s.id = v.segment_id
             WHERE v.verdict IN ('banger', 'not_a_banger') AND s.silent = 0 ORDER BY s.track_id, s.idx"""
    return list(db.query(sql))


def excluded_label_count(db: sqlite_utils.Database) -> int:
    """Segments that labellers answered but that have no usable verdict (ties, other values)."""
    sql = """SELECT COUNT(*) FROM segment_verdicts WHERE n_labellers > 0
             AND (verdict IS NULL OR verdict NOT IN ('banger', 'not_a_banger'))"""
    return db.execute(sql).fetchone()[0]


def labelled_tracks(db: sqlite_utils.Database) -> list[dict]:
    """Tracks with labelled segments and their majority verdict: ``{track_id, content_hash, verdict}``."""
    sql = """SELECT t.id AS track_id, t.content_hash,
                    CASE WHEN SUM(v.verdict = 'banger') * 2 >= COUNT(*) THEN 'banger'
                         ELSE 'not_a_banger' END AS verdict
             FROM tracks t JOIN segments s ON s.track_id = t.id
             JOIN segment_verdicts v ON v.segment_id = s.id
             WHERE v.verdict IN ('banger', 'not_a_banger') AND s.silent = 0 GROUP BY t.id ORDER BY t.id"""
    return list(db.query(sql))


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
    return db["models"].insert(row).last_pk


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


def _decode(row: dict) -> dict:
    for key in JSON_COLUMNS:
        row[key] = json.loads(row[key]) if row.get(key) else {}
    return row


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
            for s, p in zip(segment_ids, p_banger)]
    with write(db):
        db["predictions"].upsert_all(rows, pk=("model_id", "segment_id"), batch_size=1000)


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
