"""Read-only views of the library for tables and the clip view: tracks with their label mix, the
segments table, a track's strip, a segment's neighbours and everyone's latest answers."""

from __future__ import annotations

import json

import sqlite_utils

from haverford.db.agreement import DISAGREEMENT
from haverford.db.answers import COUNTED, LATEST
from haverford.db.vocabulary import CORRECTION, VERDICT_PARAMS

TRACKS_SQL = """
SELECT t.id, t.title, t.duration_s, t.n_segments, t.orig_sr, t.orig_channels, t.source, t.imported_at,
       COUNT(v.segment_id) FILTER (WHERE v.n_labellers > 0 AND s.silent = 0) AS labelled,
       COUNT(v.segment_id) FILTER (WHERE v.verdict = 'banger') AS banger,
       COUNT(v.segment_id) FILTER (WHERE v.verdict = 'not_a_banger') AS not_a_banger,
       COUNT(v.segment_id) FILTER (WHERE v.n_labellers > 0 AND v.verdict IS NULL) AS tied,
       COALESCE(SUM(s.silent), 0) AS silent, t.path
FROM tracks t LEFT JOIN segments s ON s.track_id = t.id
LEFT JOIN segment_verdicts v ON v.segment_id = s.id
GROUP BY t.id ORDER BY t.title COLLATE NOCASE, t.id
"""


def tracks_overview(db: sqlite_utils.Database) -> list[dict]:
    """Every track with its segment count, how many are silent and how many carry each verdict.

    ``labelled`` counts audible segments with at least one labeller: silent segments are never
    offered for labelling, so they are out of both sides of a labelled share. A path that is not
    UTF-8 (stored as bytes) comes back as text with U+FFFD for the odd bytes.
    """
    return [{**row, "path": row["path"].decode("utf-8", errors="replace")} if isinstance(row["path"], bytes)
            else row for row in db.query(TRACKS_SQL)]


def neighbours(db: sqlite_utils.Database, segment_id: int) -> tuple[int | None, int | None]:
    """The previous and next segment ids of the same track (None at either end)."""
    sql = """SELECT (SELECT p.id FROM segments p WHERE p.track_id = s.track_id AND p.idx = s.idx - 1),
                    (SELECT n.id FROM segments n WHERE n.track_id = s.track_id AND n.idx = s.idx + 1)
             FROM segments s WHERE s.id = ?"""
    row = db.execute(sql, [segment_id]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def track_strip(db: sqlite_utils.Database, track_id: int, *, model_id: int | None = None) -> list[dict]:
    """Every segment of a track in order with its silent flag, consensus verdict and the model's score."""
    sql = """SELECT s.id, s.idx, s.start_s, s.silent, v.verdict, COALESCE(v.banger_votes, 0) AS banger_votes,
                    COALESCE(v.not_votes, 0) AS not_votes, p.p_banger
             FROM segments s LEFT JOIN segment_verdicts v ON v.segment_id = s.id
             LEFT JOIN predictions p ON p.segment_id = s.id AND p.model_id = :m
             WHERE s.track_id = :t ORDER BY s.idx"""
    return list(db.query(sql, {"t": track_id, "m": model_id}))


def latest_answers(db: sqlite_utils.Database, segment_ids: list[int]) -> list[dict]:
    """Each labeller's latest answer to each question for the given segments, and whether it is
    ``counted`` (1: given at or after the segment's latest correction, so it counts towards the
    consensus; 0: set aside by a later correction)."""
    sql = f"""SELECT a.segment_id, a.labeller, a.question_id, q.key, a.value, {COUNTED} AS counted FROM answers a
             JOIN questions q ON q.id = a.question_id
             WHERE a.segment_id IN (SELECT value FROM json_each(:ids))
               AND {LATEST}
             ORDER BY a.segment_id, a.labeller"""
    return list(db.query(sql, {"ids": json.dumps([int(i) for i in segment_ids]), "correction": CORRECTION}))


SEGMENT_FILTERS = {
    "all": "1 = 1",
    "unlabelled": "COALESCE(v.n_labellers, 0) = 0 AND s.silent = 0",  # silent segments are never labelled
    "labelled": "v.n_labellers > 0",
    "banger": "v.verdict = :banger",
    "not_a_banger": "v.verdict = :not_a_banger",
    "disagreement": DISAGREEMENT,
    "silent": "s.silent = 1",
}


SEGMENT_SORTS = {
    "track": "s.track_id, s.idx",
    "most_labellers": "COALESCE(v.n_labellers, 0) DESC, s.track_id, s.idx",
    "model_score_high": "p.p_banger IS NULL, p.p_banger DESC, s.id",
    "model_score_low": "p.p_banger IS NULL, p.p_banger ASC, s.id",
}


def _segments_where(status: str, labeller: str | None) -> str:
    if status not in SEGMENT_FILTERS:
        raise ValueError(f"unknown filter {status!r}; use one of {list(SEGMENT_FILTERS)}")
    mine = "" if labeller is None else \
        " AND EXISTS (SELECT 1 FROM answers a WHERE a.labeller = :who AND a.question_id = :q AND a.segment_id = s.id)"
    return f"{SEGMENT_FILTERS[status]} AND (:track IS NULL OR s.track_id = :track){mine}"


def segments_table(db: sqlite_utils.Database, *, verdict_question: int, status: str = "all",
                   track_id: int | None = None, labeller: str | None = None, sort: str = "track",
                   model_id: int | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    """One page of segments and the number that match.

    Columns: id, track_id, title, idx, start_s, end_s, silent, labellers, labelled_by, verdict,
    banger_votes, not_votes, p_banger. The ``unlabelled`` filter leaves silent segments out
    (they are never offered for labelling); ``silent`` lists only them. ``labeller`` keeps segments that person has labelled.
    """
    base = f"""FROM segments s JOIN tracks t ON t.id = s.track_id
               LEFT JOIN segment_verdicts v ON v.segment_id = s.id
               LEFT JOIN predictions p ON p.segment_id = s.id AND p.model_id = :m
               WHERE {_segments_where(status, labeller)}"""
    params = {"track": track_id, "who": labeller, "q": verdict_question, "m": model_id,
              "limit": int(limit), "offset": int(offset), **VERDICT_PARAMS}
    total = db.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0]
    rows = list(db.query(f"""SELECT s.id, s.track_id, t.title, s.idx, s.start_s, s.end_s, s.silent,
                                    COALESCE(v.n_labellers, 0) AS labellers, v.verdict,
                                    COALESCE(v.banger_votes, 0) AS banger_votes,
                                    COALESCE(v.not_votes, 0) AS not_votes, p.p_banger
                             {base} ORDER BY {SEGMENT_SORTS[sort]} LIMIT :limit OFFSET :offset""", params))
    _add_labellers(db, rows, verdict_question)
    return rows, total


def _add_labellers(db: sqlite_utils.Database, rows: list[dict], verdict_question: int) -> None:
    """Who labelled each row's segment (their latest verdict answers, ``latest_answers``), for one
    page only; those whose vote a later correction set aside are named apart ("rev; set aside: bob, import")."""
    counted: dict[int, list[str]] = {}
    aside: dict[int, list[str]] = {}
    for a in latest_answers(db, [r["id"] for r in rows]):
        if a["question_id"] == verdict_question:
            (counted if a["counted"] else aside).setdefault(a["segment_id"], []).append(a["labeller"])
    for r in rows:
        text = ", ".join(sorted(counted.get(r["id"], [])))
        if r["id"] in aside:
            text += f"; set aside: {', '.join(sorted(aside[r['id']]))}"
        r["labelled_by"] = text


def track_titles(db: sqlite_utils.Database) -> dict[int, str]:
    """Track id → title, in title order (for pickers)."""
    return dict(db.execute("SELECT id, title FROM tracks ORDER BY title COLLATE NOCASE, id").fetchall())
