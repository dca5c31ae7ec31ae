"""Reviews and label edits: a segment marked reviewed for a model (or a cross-check run), and the
verdict answers given in a time window (who changed which label, and why)."""

from __future__ import annotations

import sqlite_utils

from haverford.db.connection import now, write
from haverford.db.questions import verdict_question_id


def mark_reviewed(db: sqlite_utils.Database, segment_id: int, *, reviewer: str, model_id: int | None = None,
                  run_id: int | None = None, action: str | None = None) -> None:
    """Record that ``reviewer`` looked at a segment in a model's (or a cross-check run's) list."""
    row = {"segment_id": int(segment_id), "model_id": int(model_id or 0), "run_id": int(run_id or 0),
           "status": "reviewed", "action": action, "reviewer": reviewer, "reviewed_at": now()}
    with write(db):
        db.table("reviews").upsert(row, pk=("segment_id", "model_id", "run_id"))


def unmark_reviewed(db: sqlite_utils.Database, segment_id: int, *, model_id: int | None = None,
                    run_id: int | None = None) -> None:
    """Forget a review (the segment shows as to do again)."""
    db.execute("DELETE FROM reviews WHERE segment_id = ? AND model_id = ? AND run_id = ?",
               [int(segment_id), int(model_id or 0), int(run_id or 0)])


def get_review(db: sqlite_utils.Database, segment_id: int, *, model_id: int | None = None,
               run_id: int | None = None) -> dict | None:
    """The review of a segment in a model's (or run's) list, or None."""
    rows = list(db.query("SELECT * FROM reviews WHERE segment_id = ? AND model_id = ? AND run_id = ?",
                         [int(segment_id), int(model_id or 0), int(run_id or 0)]))
    return rows[0] if rows else None


# --- label edits -------------------------------------------------------------------------------

def label_edits(db: sqlite_utils.Database, *, since: str, until: str, limit: int = 500) -> list[dict]:
    """Verdict answers given in ``(since, until]``: who changed which segment's label, and why."""
    sql = """SELECT a.id, a.segment_id, s.track_id, t.title, s.idx, a.labeller, a.value, a.note, a.created_at
             FROM answers a JOIN segments s ON s.id = a.segment_id JOIN tracks t ON t.id = s.track_id
             WHERE a.question_id = :q AND a.created_at > :since AND a.created_at <= :until
             ORDER BY a.id DESC LIMIT :limit"""
    return list(db.query(sql, {"q": verdict_question_id(db), "since": since, "until": until,
                               "limit": int(limit)}))


def label_edit_count(db: sqlite_utils.Database, *, since: str, until: str) -> int:
    """How many verdict answers were given in ``(since, until]``."""
    sql = "SELECT COUNT(*) FROM answers WHERE question_id = ? AND created_at > ? AND created_at <= ?"
    return db.execute(sql, [verdict_question_id(db), since, until]).fetchone()[0]
