"""Queries behind the labelling queues: the next segment of each mode, in milliseconds on
100,000 segments (the indexes of migration 1: ``answers_by_labeller``, ``answers_current``, the
``segments (track_id, idx)`` key). Silent segments and the session's skipped ones never come up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlite_utils

from haverford.db.agreement import DISAGREEMENT
from haverford.db.vocabulary import QUEUE_MODES

_NOT_MINE = """NOT EXISTS (SELECT 1 FROM answers a WHERE a.labeller = :who AND a.question_id = :q
                           AND a.segment_id = s.id)"""
_NOBODYS = "NOT EXISTS (SELECT 1 FROM answers a WHERE a.question_id = :q AND a.segment_id = s.id)"


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
        return _first_after(db, DISAGREEMENT, params, _position(db, after))
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
