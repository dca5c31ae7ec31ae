"""The cross-check's storage: which tracks each fold held out, the out-of-fold scores, and the
label-issue ranking read from them (filters as ``db.evaluation.segment_filters``)."""

from __future__ import annotations

import sqlite_utils

from haverford.db.connection import write
from haverford.db.evaluation import LABELLED, segment_filters
from haverford.db.questions import verdict_question_id


def save_folds(db: sqlite_utils.Database, run_id: int, folds: dict[int, dict[str, list[int]]]) -> None:
    """Store which tracks each fold's model trained on and held out: fold → role → track ids."""
    rows = [{"run_id": run_id, "fold": fold, "track_id": int(t), "role": role}
            for fold, roles in folds.items() for role, tracks in roles.items() for t in tracks]
    with write(db):
        db.table("crosscheck_folds").insert_all(rows, batch_size=1000)


def save_crosscheck_scores(db: sqlite_utils.Database, run_id: int, rows: list[dict]) -> None:
    """Store out-of-fold scores: ``{segment_id, fold, label, p_banger, self_confidence, is_issue}``."""
    with write(db):
        db.table("crosscheck_scores").insert_all(({**r, "run_id": run_id} for r in rows), batch_size=1000)


def latest_crosscheck(db: sqlite_utils.Database) -> dict | None:
    """The newest succeeded cross-check run with its number of scored segments and issues, or None."""
    sql = """SELECT r.id, r.config, r.finished_at, r.created_by,
                    (SELECT COUNT(*) FROM crosscheck_scores c WHERE c.run_id = r.id) AS scored,
                    (SELECT COUNT(*) FROM crosscheck_scores c WHERE c.run_id = r.id AND c.is_issue) AS issues
             FROM training_runs r WHERE r.kind = 'crosscheck' AND r.status = 'succeeded'
             ORDER BY r.id DESC LIMIT 1"""
    rows = list(db.query(sql))
    return rows[0] if rows else None


def crosscheck_scores(db: sqlite_utils.Database, run_id: int) -> list[dict]:
    """Every out-of-fold score of a run with the segment's track, in segment order."""
    sql = """SELECT c.*, s.track_id FROM crosscheck_scores c JOIN segments s ON s.id = c.segment_id
             WHERE c.run_id = ? ORDER BY c.segment_id"""
    return list(db.query(sql, [run_id]))


def crosscheck_folds(db: sqlite_utils.Database, run_id: int) -> list[dict]:
    """Rows ``{fold, track_id, role}`` of a run."""
    return list(db.query("SELECT fold, track_id, role FROM crosscheck_folds WHERE run_id = ? "
                         "ORDER BY fold, role, track_id", [run_id]))


def label_issues(db: sqlite_utils.Database, run_id: int, *, side: str | None = None,
                 track_id: int | None = None, labeller: str | None = None, issues_only: bool = True,
                 limit: int = 50, offset: int = 0) -> tuple[list[dict], dict]:
    """One page of a cross-check's ranking, lowest self-confidence (likeliest label error) first.

    Rows carry the label at cross-check time (``label``, 1 = banger) and the consensus now
    (``verdict``), so a label fixed since shows as such. Returns ``(rows, {"total", "reviewed"})``.
    """
    where = segment_filters(side=side, track_id=track_id, labeller=labeller).replace(LABELLED, "1 = 1")
    sql = f"""WITH ranked AS (
                SELECT c.segment_id, c.fold, c.label, c.p_banger, c.self_confidence, c.is_issue,
                       s.track_id, s.idx, s.start_s, v.verdict, v.banger_votes, v.not_votes,
                       r.segment_id IS NOT NULL AS reviewed,
                       COUNT(*) OVER () AS total, SUM(r.segment_id IS NOT NULL) OVER () AS n_reviewed
                FROM crosscheck_scores c JOIN segments s ON s.id = c.segment_id
                LEFT JOIN segment_verdicts v ON v.segment_id = c.segment_id
                LEFT JOIN reviews r ON r.segment_id = c.segment_id AND r.model_id = 0 AND r.run_id = :r
                WHERE c.run_id = :r AND (:all OR c.is_issue) AND {where}
                ORDER BY c.self_confidence, c.segment_id LIMIT :limit OFFSET :offset)
              SELECT k.*, t.title, sp.side FROM ranked k JOIN tracks t ON t.id = k.track_id
              LEFT JOIN splits sp ON sp.track_id = k.track_id ORDER BY k.self_confidence, k.segment_id"""
    params = {"r": int(run_id), "all": not issues_only, "side": side, "track": track_id, "who": labeller,
              "q": verdict_question_id(db), "limit": int(limit), "offset": int(offset)}
    rows = list(db.query(sql, params))
    totals = {"total": rows[0]["total"] if rows else 0, "reviewed": rows[0]["n_reviewed"] if rows else 0}
    for r in rows:
        r.pop("total"), r.pop("n_reviewed")
        r["reviewed"] = bool(r["reviewed"])
    return rows, totals
