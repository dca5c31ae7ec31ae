"""Queries behind agreement: each question's answers from segments with several labellers,
the segments whose verdicts disagree, and a cheap stamp that changes with every answer.
"""

from __future__ import annotations

import sqlite_utils

from haverford.db.answers import LATEST

# A segment whose labellers' latest verdicts include both classes.
DISAGREEMENT = "v.banger_votes > 0 AND v.not_votes > 0"


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
    sql = f"""WITH cur AS (
                 SELECT a.segment_id, a.labeller, a.value FROM answers a
                 WHERE a.question_id = :q
                   AND {LATEST})
             SELECT cur.* FROM cur WHERE cur.segment_id IN (
                 SELECT segment_id FROM cur GROUP BY segment_id HAVING COUNT(*) >= :n)
             ORDER BY cur.segment_id, cur.labeller"""
    return list(db.query(sql, {"q": question_id, "n": int(min_labellers)}))


def disagreements(db: sqlite_utils.Database, *, limit: int = 200) -> list[dict]:
    """Segments whose labellers' latest verdicts disagree, with track and vote counts."""
    sql = f"""SELECT s.id, t.title, s.idx, s.start_s, v.banger_votes, v.not_votes, v.n_labellers
              FROM segment_verdicts v JOIN segments s ON s.id = v.segment_id
              JOIN tracks t ON t.id = s.track_id WHERE {DISAGREEMENT}
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
