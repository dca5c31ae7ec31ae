"""Answers to the questionnaire: append-only history, the latest answer of a labeller counts.

``segment_verdicts`` caches each segment's consensus verdict (majority of labellers' latest
verdicts; a tie has no verdict; ``ambiguous`` when at least as many labellers call it that as
the larger class, so training leaves it out). It is refreshed in the same transaction as every save, so
filters on the label stay fast on 100,000 segments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import sqlite_utils

from haverford.db.connection import now, write
from haverford.db.questions import verdict_question_id
from haverford.db.vocabulary import CORRECTION, VERDICT_PARAMS


def save_answers(db: sqlite_utils.Database, segment_ids: Iterable[int], labeller: str,
                 values: Mapping[int, object], *, note: str | None = None) -> int:
    """Store ``values`` (question id → value) as ``labeller``'s answers for every segment given.

    One transaction; earlier answers stay in the history. Returns the number of rows written.
    """
    segment_ids = [int(s) for s in segment_ids]
    stamp = now()
    rows = [{"segment_id": s, "question_id": int(q), "labeller": labeller, "value": v, "note": note,
             "created_at": stamp} for s in segment_ids for q, v in values.items()]
    with write(db):
        db.table("answers").insert_all(rows, batch_size=1000)
        if verdict_question_id(db) in {int(q) for q in values}:
            refresh_verdicts(db, segment_ids)
    return len(rows)


# Whether answer ``a`` is its labeller's latest to its question for its segment: answers are
# append-only, and only the latest counts (``current`` in the export).
LATEST = """a.id = (SELECT MAX(b.id) FROM answers b WHERE b.segment_id = a.segment_id
                    AND b.question_id = a.question_id AND b.labeller = a.labeller)"""

# Whether answer ``a`` counts towards its segment's consensus: given at or after the segment's latest
# correction (a relabel with the reason ``vocabulary.CORRECTION``), if any. Binds ``:correction``.
COUNTED = """a.id >= COALESCE((SELECT MAX(c.id) FROM answers c WHERE c.segment_id = a.segment_id
                              AND c.question_id = a.question_id AND c.note = :correction), 0)"""

_REFRESH_SQL = f"""
INSERT INTO segment_verdicts (segment_id, n_labellers, banger_votes, not_votes, ambiguous_votes, verdict,
                              updated_at)
SELECT w.value, COUNT(l.value), COALESCE(SUM(l.value = :banger), 0),
       COALESCE(SUM(l.value = :not_a_banger), 0), COALESCE(SUM(l.value = :ambiguous), 0),
       verdict_consensus(l.value), :stamp
FROM json_each(:ids) w
LEFT JOIN (
    SELECT a.segment_id, a.value FROM answers a
    WHERE a.question_id = :q AND a.segment_id IN (SELECT value FROM json_each(:ids))
      AND {LATEST}
      AND {COUNTED}
) l ON l.segment_id = w.value
GROUP BY w.value
ON CONFLICT (segment_id) DO UPDATE SET n_labellers = excluded.n_labellers,
    banger_votes = excluded.banger_votes, not_votes = excluded.not_votes,
    ambiguous_votes = excluded.ambiguous_votes,
    verdict = excluded.verdict, updated_at = excluded.updated_at
"""


def refresh_verdicts(db: sqlite_utils.Database, segment_ids: list[int]) -> None:
    """Recompute the consensus verdict of ``segment_ids`` from the latest verdict answers given
    since each segment's latest correction, by ``vocabulary.consensus`` (the SQLite aggregate
    ``verdict_consensus``; the whole rule is ``vocabulary.CONSENSUS_RULE``)."""
    q = verdict_question_id(db)
    for start in range(0, len(segment_ids), 5000):
        ids = json.dumps(segment_ids[start:start + 5000])
        db.execute(_REFRESH_SQL, {"ids": ids, "q": q, "stamp": now(), "correction": CORRECTION, **VERDICT_PARAMS})


def current_answers(db: sqlite_utils.Database, segment_id: int, *, labeller: str | None = None) -> list[dict]:
    """The latest answer of each labeller to each question for a segment (with the question key)."""
    sql = f"""SELECT a.*, q.key FROM answers a JOIN questions q ON q.id = a.question_id
             WHERE a.segment_id = :s AND (:l IS NULL OR a.labeller = :l)
               AND {LATEST}
             ORDER BY a.labeller, q.position"""
    return list(db.query(sql, {"s": segment_id, "l": labeller}))


def track_verdicts(db: sqlite_utils.Database, track_id: int, labeller: str) -> set[str]:
    """The verdicts ``labeller``'s latest answers give the segments of a track (empty if none)."""
    sql = f"""SELECT DISTINCT a.value FROM answers a JOIN segments s ON s.id = a.segment_id
             WHERE s.track_id = :t AND a.labeller = :l AND a.question_id = :q
               AND {LATEST}"""
    return {row[0] for row in db.execute(sql, {"t": track_id, "l": labeller, "q": verdict_question_id(db)})}


def history(db: sqlite_utils.Database, segment_id: int) -> list[dict]:
    """Every answer ever given for a segment, oldest first."""
    sql = """SELECT a.*, q.key FROM answers a JOIN questions q ON q.id = a.question_id
             WHERE a.segment_id = ? ORDER BY a.id"""
    return list(db.query(sql, [segment_id]))


def labellers(db: sqlite_utils.Database) -> list[str]:
    """Everyone who has answered anything, sorted."""
    return [r[0] for r in db.execute("SELECT DISTINCT labeller FROM answers ORDER BY labeller")]


def export_rows(db: sqlite_utils.Database) -> Iterable[dict]:
    """One row per answer ever given, with track, segment, question, whether it is current (the
    labeller's latest) and whether it is counted (given at or after the segment's latest correction)."""
    sql = f"""SELECT a.id AS answer_id, t.id AS track_id, t.title, t.path, t.content_hash,
                    s.id AS segment_id, s.idx AS segment_index, s.start_s, s.end_s,
                    q.key AS question, q.text AS question_text, a.labeller, a.value, a.note,
                    a.created_at,
                    {LATEST} AS current,
                    v.verdict AS consensus_verdict, {COUNTED} AS counted
             FROM answers a JOIN segments s ON s.id = a.segment_id JOIN tracks t ON t.id = s.track_id
             JOIN questions q ON q.id = a.question_id
             LEFT JOIN segment_verdicts v ON v.segment_id = a.segment_id
             ORDER BY a.id"""
    return db.query(sql, {"correction": CORRECTION})
