"""Queries behind labelling: the queue, a track's strip, the segments table and agreement data.

Every query is parameterised and uses the indexes of migration 1 (``answers_by_labeller``,
``answers_current``, the ``segments (track_id, idx)`` key), so each stays in milliseconds on
100,000 segments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlite_utils

from haverford.db.vocabulary import QUEUE_MODES, VERDICT_PARAMS

_NOT_MINE = """NOT EXISTS (SELECT 1 FROM answers a WHERE a.labeller = :who AND a.question_id = :q
                           AND a.segment_id = s.id)"""
_NOBODYS = "NOT EXISTS (SELECT 1 FROM answers a WHERE a.question_id = :q AND a.segment_id = s.id)"
_DISAGREE = "v.banger_votes > 0 AND v.not_votes > 0"


def active_model_id(db: sqlite_utils.Database) -> int | None:
    """The id of the active model (``models.active = 1``), or None."""
    row = db.execute("SELECT id FROM models WHERE active = 1 LIMIT 1").fetchone()
    return row[0] if row else None


def _position(db: sqlite_utils.Database, segment_id: int | None) -> tuple[int, int]:
    if segment_id is None:
        return (-1, -1)
    row = db.execute("SELECT track_id, idx FROM segments WHERE id = ?", [segment_id]).fetchone()
    return tuple(row) if row else (-1, -1)


def _first_after(db: sqlite_utils.Database, where: str, params: dict, after: tuple[int, int]) -> int | None:
    """The first segment in track order strictly after ``after`` matching ``where`` (wrapping round)."""
    sql = f"""SELECT s.id FROM segments s LEFT JOIN segment_verdicts v ON v.segment_id = s.id
              WHERE {where} AND s.silent = 0 AND {_NOT_SKIPPED} AND (s.track_id, s.idx) > (:t, :i)
              ORDER BY s.track_id, s.idx LIMIT 1"""
    row = db.execute(sql, {**params, "t": after[0], "i": after[1]}).fetchone()
    if row is None and after != (-1, -1):
        row = db.execute(sql, {**params, "t": -1, "i": -1}).fetchone()
    return row[0] if row else None


_NOT_SKIPPED = "s.id NOT IN (SELECT value FROM json_each(:skipped))"


def next_segment(db: sqlite_utils.Database, *, mode: str, labeller: str, verdict_question: int,
                 after: int | None = None, seed: float = 0.0, skipped: Iterable[int] = ()) -> int | None:
    """The next segment to label in queue ``mode`` after segment ``after``; None when none is left.

    ``random`` starts at a point chosen by ``seed`` in [0, 1) and takes the next segment that
    ``labeller`` has not labelled, so it never sorts the whole table. Segments in ``skipped``
    (skipped in this session) are left out of every queue.
    """
    if mode not in QUEUE_MODES:
        raise ValueError(f"unknown queue mode {mode!r}; use one of {QUEUE_MODES}")
    params = {"who": labeller, "q": verdict_question, "skipped": json.dumps(sorted(int(i) for i in skipped))}
    if mode == "most_uncertain":
        return _most_uncertain(db, params, after)
    if mode == "track_order":
        return _first_after(db, "1 = 1", params, _position(db, after))
    if mode == "disagreements":
        return _first_after(db, _DISAGREE, params, _position(db, after))
    if mode == "unlabelled":
        return _first_after(db, _NOBODYS, params, _position(db, after))
    if mode == "random":
        lo, hi = db.execute("SELECT MIN(id), MAX(id) FROM segments").fetchone()
        if lo is None:
            return None
        start = lo + int(seed * (hi - lo + 1))
        row = db.execute("SELECT track_id, idx - 1 FROM segments WHERE id >= ? ORDER BY id LIMIT 1",
                         [start]).fetchone()
        return _first_after(db, _NOT_MINE, params, tuple(row) if row else (-1, -1))
    return _first_after(db, _NOT_MINE, params, _position(db, after))


def _most_uncertain(db: sqlite_utils.Database, params: dict, after: int | None) -> int | None:
    """The segment I have not labelled whose active-model score is closest to 0.5."""
    sql = f"""SELECT s.id FROM predictions p JOIN segments s ON s.id = p.segment_id
              WHERE p.model_id = (SELECT id FROM models WHERE active = 1 LIMIT 1) AND {_NOT_MINE}
                AND s.id IS NOT :after AND s.silent = 0 AND {_NOT_SKIPPED}
              ORDER BY ABS(p.p_banger - 0.5), s.id LIMIT 1"""
    row = db.execute(sql, {**params, "after": after}).fetchone()
    return row[0] if row else None


def neighbours(db: sqlite_utils.Database, segment_id: int) -> tuple[int | None, int | None]:
    """The previous and next segment ids of the same track (None at either end)."""
    sql = """SELECT (SELECT p.id FROM segments p WHERE p.track_id = s.track_id AND p.idx = s.idx - 1),
                    (SELECT n.id FROM segments n WHERE n.track_id = s.track_id AND n.idx = s.idx + 1)
             FROM segments s WHERE s.id = ?"""
    row = db.execute(sql, [segment_id]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def track_strip(db: sqlite_utils.Database, track_id: int, *, model_id: int | None = None) -> list[dict]:
    """Every segment of a track in order with its consensus verdict and the model's score."""
    sql = """SELECT s.id, s.idx, s.start_s, v.verdict, COALESCE(v.banger_votes, 0) AS banger_votes,
                    COALESCE(v.not_votes, 0) AS not_votes, p.p_banger
             FROM segments s LEFT JOIN segment_verdicts v ON v.segment_id = s.id
             LEFT JOIN predictions p ON p.segment_id = s.id AND p.model_id = :m
             WHERE s.track_id = :t ORDER BY s.idx"""
    return list(db.query(sql, {"t": track_id, "m": model_id}))


def latest_answers(db: sqlite_utils.Database, segment_ids: list[int]) -> list[dict]:
    """Each labeller's latest answer to each question for the given segments."""
    sql = """SELECT a.segment_id, a.labeller, a.question_id, q.key, a.value FROM answers a
             JOIN questions q ON q.id = a.question_id
             WHERE a.segment_id IN (SELECT value FROM json_each(:ids))
               AND a.id = (SELECT MAX(b.id) FROM answers b WHERE b.segment_id = a.segment_id
                           AND b.question_id = a.question_id AND b.labeller = a.labeller)
             ORDER BY a.segment_id, a.labeller"""
    return list(db.query(sql, {"ids": json.dumps([int(i) for i in segment_ids])}))


SEGMENT_FILTERS = {
    "all": "1 = 1",
    "unlabelled": "COALESCE(v.n_labellers, 0) = 0",
    "labelled": "v.n_labellers > 0",
    "banger": "v.verdict = :banger",
    "not_a_banger": "v.verdict = :not_a_banger",
    "disagreement": _DISAGREE,
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

    Columns: id, track_id, title, idx, start_s, end_s, labellers, labelled_by, verdict,
    banger_votes, not_votes, p_banger. ``labeller`` keeps segments that person has labelled.
    """
    base = f"""FROM segments s JOIN tracks t ON t.id = s.track_id
               LEFT JOIN segment_verdicts v ON v.segment_id = s.id
               LEFT JOIN predictions p ON p.segment_id = s.id AND p.model_id = :m
               WHERE {_segments_where(status, labeller)}"""
    params = {"track": track_id, "who": labeller, "q": verdict_question, "m": model_id,
              "limit": int(limit), "offset": int(offset), **VERDICT_PARAMS}
    total = db.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0]
    rows = list(db.query(f"""SELECT s.id, s.track_id, t.title, s.idx, s.start_s, s.end_s,
                                    COALESCE(v.n_labellers, 0) AS labellers, v.verdict,
                                    COALESCE(v.banger_votes, 0) AS banger_votes,
                                    COALESCE(v.not_votes, 0) AS not_votes, p.p_banger
                             {base} ORDER BY {SEGMENT_SORTS[sort]} LIMIT :limit OFFSET :offset""", params))
    _add_labellers(db, rows, verdict_question)
    return rows, total


def _add_labellers(db: sqlite_utils.Database, rows: list[dict], verdict_question: int) -> None:
    """Who labelled each row's segment (verdict answers), for one page only."""
    sql = """SELECT segment_id, group_concat(DISTINCT labeller) FROM answers
             WHERE question_id = :q AND segment_id IN (SELECT value FROM json_each(:ids))
             GROUP BY segment_id"""
    ids = json.dumps([r["id"] for r in rows])
    who = dict(db.execute(sql, {"q": verdict_question, "ids": ids}).fetchall())
    for r in rows:
        r["labelled_by"] = ", ".join(sorted((who.get(r["id"]) or "").split(",")) if who.get(r["id"]) else [])


def tracks_agreement(db: sqlite_utils.Database) -> dict[int, dict]:
    """Per track: segments with two or more labellers and how many of them agree on the verdict."""
    sql = """SELECT s.track_id, COUNT(*) AS multi,
                    SUM(NOT (v.banger_votes > 0 AND v.not_votes > 0)) AS agreed
             FROM segment_verdicts v JOIN segments s ON s.id = v.segment_id
             WHERE v.n_labellers >= 2 GROUP BY s.track_id"""
    return {r["track_id"]: r for r in db.query(sql)}


def question_answers(db: sqlite_utils.Database, question_id: int, *, min_labellers: int = 2) -> list[dict]:
    """Latest answers (segment_id, labeller, value) to one question, for segments that at least
    ``min_labellers`` people answered."""
    sql = """WITH cur AS (
                 SELECT a.segment_id, a.labeller, a.value FROM answers a
                 WHERE a.question_id = :q
                   AND a.id = (SELECT MAX(b.id) FROM answers b WHERE b.segment_id = a.segment_id
                               AND b.question_id = a.question_id AND b.labeller = a.labeller))
             SELECT cur.* FROM cur WHERE cur.segment_id IN (
                 SELECT segment_id FROM cur GROUP BY segment_id HAVING COUNT(*) >= :n)
             ORDER BY cur.segment_id, cur.labeller"""
    return list(db.query(sql, {"q": question_id, "n": int(min_labellers)}))


def disagreements(db: sqlite_utils.Database, *, limit: int = 200) -> list[dict]:
    """Segments whose labellers' latest verdicts disagree, with track and vote counts."""
    sql = f"""SELECT s.id, t.title, s.idx, s.start_s, v.banger_votes, v.not_votes, v.n_labellers
              FROM segment_verdicts v JOIN segments s ON s.id = v.segment_id
              JOIN tracks t ON t.id = s.track_id WHERE {_DISAGREE}
              ORDER BY s.track_id, s.idx LIMIT :limit"""
    return list(db.query(sql, {"limit": int(limit)}))


def change_stamp(db: sqlite_utils.Database) -> tuple:
    """Ids that change whenever tracks, answers or questions change: a cheap cache key."""
    return tuple(db.execute("""SELECT (SELECT MAX(id) FROM tracks), (SELECT COUNT(*) FROM tracks),
                                      (SELECT MAX(id) FROM answers), (SELECT MAX(changed_at) FROM questions)""")
                 .fetchone())


def labellers_count(db: sqlite_utils.Database) -> int:
    """How many different people have answered anything."""
    return db.execute("SELECT COUNT(DISTINCT labeller) FROM answers").fetchone()[0]


def track_titles(db: sqlite_utils.Database) -> dict[int, str]:
    """Track id → title, in title order (for pickers)."""
    return dict(db.execute("SELECT id, title FROM tracks ORDER BY title COLLATE NOCASE, id").fetchall())
