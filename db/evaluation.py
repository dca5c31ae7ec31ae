"""Queries behind evaluation: a model's test data, the training label counts its baseline needs,
the misclassified list, the score histogram and the predictions that flip between two models
(reviews live in ``db.reviews``, the cross-check's storage in ``db.crosscheck``).

The misclassified list walks one model's predictions (``predictions`` primary key) with each
segment's consensus found by key, and counts matches in the same pass (a window function), so
one filtered page costs one scan of the model's scores: tens of milliseconds at 100,000 segments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlite_utils

from haverford.db.questions import verdict_question_id
from haverford.db.vocabulary import BANGER, NOT_A_BANGER, SIDES, VERDICT_PARAMS

LABELLED = "v.verdict IN (:banger, :not_a_banger)"  # bind VERDICT_PARAMS
# p(the label), the model's probability for the class people gave: low = confidently wrong
P_LABEL = "CASE v.verdict WHEN :banger THEN p.p_banger ELSE 1 - p.p_banger END"


def _ids(values: Iterable[int]) -> str:
    return json.dumps([int(v) for v in values])


# --- test data and baselines -------------------------------------------------------------------

def scored_labels(db: sqlite_utils.Database, model_id: int, track_ids: Iterable[int]) -> list[tuple]:
    """Labelled segments of ``track_ids`` with the model's score, in track then segment order.

    Tuples ``(segment_id, track_id, is_banger, p_banger)`` (p_banger None if unscored): plain
    tuples, since a test side holds tens of thousands of rows.
    """
    sql = f"""SELECT s.id, s.track_id, v.verdict = :banger, p.p_banger
              FROM json_each(:tracks) w JOIN segments s ON s.track_id = w.value
              JOIN segment_verdicts v ON v.segment_id = s.id
              LEFT JOIN predictions p ON p.model_id = :m AND p.segment_id = s.id
              WHERE {LABELLED} ORDER BY s.track_id, s.idx"""
    return db.execute(sql, {"tracks": _ids(track_ids), "m": int(model_id), **VERDICT_PARAMS}).fetchall()


def verdict_counts(db: sqlite_utils.Database, track_ids: Iterable[int]) -> dict[str, int]:
    """Labelled segments per consensus verdict among ``track_ids`` (the majority baseline's data)."""
    sql = f"""SELECT v.verdict, COUNT(*) FROM json_each(:tracks) w JOIN segments s ON s.track_id = w.value
              JOIN segment_verdicts v ON v.segment_id = s.id WHERE {LABELLED} GROUP BY v.verdict"""
    return dict(db.execute(sql, {"tracks": _ids(track_ids), **VERDICT_PARAMS}).fetchall())




# --- the misclassified list --------------------------------------------------------------------

def segment_filters(*, side: str | None, track_id: int | None, labeller: str | None) -> str:
    """WHERE conditions shared by the list and the histogram (values always bound as parameters)."""
    if side is not None and side not in SIDES:
        raise ValueError(f"unknown split side {side!r}; use one of {SIDES} or None for all")
    where = [LABELLED]
    if side is not None:
        where.append("s.track_id IN (SELECT track_id FROM splits WHERE side = :side)")
    if track_id is not None:
        where.append("s.track_id = :track")
    if labeller is not None:
        where.append("s.id IN (SELECT a.segment_id FROM answers a WHERE a.labeller = :who AND a.question_id = :q)")
    return " AND ".join(where)


# The wrong side of the threshold for each verdict, and its order: most confidently wrong first.
_WRONG = {BANGER: ("p.p_banger < :thr", "p.p_banger ASC"),
          NOT_A_BANGER: ("p.p_banger >= :thr", "p.p_banger DESC")}


def misclassified(db: sqlite_utils.Database, model_id: int, *, threshold: float = 0.5,
                  side: str | None = None, track_id: int | None = None, labeller: str | None = None,
                  min_confidence: float = 0.5, limit: int = 50, offset: int = 0) -> tuple[list[dict], dict]:
    """One page of labelled segments the model gets wrong, most confidently wrong first.

    A segment is wrong when ``p_banger >= threshold`` disagrees with its consensus verdict;
    ``p_label`` is the model's probability of the label (the sort key, lowest first) and
    ``confidence`` is ``max(p, 1 - p)``. Returns ``(rows, {"total", "reviewed"})`` where rows are
    ``{segment_id, track_id, title, idx, start_s, verdict, banger_votes, not_votes, p_banger,
    p_label, confidence, side, reviewed}``.

    Each verdict's mistakes are read in score order from ``predictions_by_score``, which stops
    after one page, and merged; the counts are separate range scans.
    """
    params = {"m": int(model_id), "thr": float(threshold), "side": side, "track": track_id, "who": labeller,
              "q": verdict_question_id(db), "conf": float(min_confidence), "n": int(limit) + int(offset),
              **VERDICT_PARAMS}
    where = segment_filters(side=side, track_id=track_id, labeller=labeller)
    rows, totals = [], {"total": 0, "reviewed": 0}
    for verdict, (wrong, order) in _WRONG.items():
        rows += _wrong_page(db, where, wrong, order, {**params, "wrong_verdict": verdict})
        for key, value in _wrong_count(db, where, wrong, {**params, "wrong_verdict": verdict}).items():
            totals[key] += value or 0
    rows.sort(key=lambda r: (r["p_label"], r["segment_id"]))
    rows = rows[int(offset):int(offset) + int(limit)]
    for r in rows:
        r["reviewed"] = bool(r["reviewed"])
    return rows, totals


_REVIEWED = "EXISTS (SELECT 1 FROM reviews r WHERE r.segment_id = p.segment_id AND r.model_id = :m AND r.run_id = 0)"
_WRONG_FROM = """FROM predictions p JOIN segment_verdicts v ON v.segment_id = p.segment_id
                 JOIN segments s ON s.id = p.segment_id
                 WHERE p.model_id = :m AND v.verdict = :wrong_verdict AND {wrong} AND {where}
                   AND MAX(p.p_banger, 1 - p.p_banger) >= :conf"""


def _wrong_page(db, where: str, wrong: str, order: str, params: dict) -> list[dict]:
    sql = f"""SELECT p.segment_id, s.track_id, t.title, s.idx, s.start_s, v.verdict, v.banger_votes, v.not_votes,
                     p.p_banger, {P_LABEL} AS p_label, MAX(p.p_banger, 1 - p.p_banger) AS confidence,
                     sp.side, {_REVIEWED} AS reviewed
              {_WRONG_FROM.format(wrong=wrong, where=where)}
              ORDER BY {order}, p.segment_id LIMIT :n"""
    sql = sql.replace("JOIN segments s ON s.id = p.segment_id",
                      "JOIN segments s ON s.id = p.segment_id JOIN tracks t ON t.id = s.track_id "
                      "LEFT JOIN splits sp ON sp.track_id = s.track_id", 1)
    return list(db.query(sql, params))


def _wrong_count(db, where: str, wrong: str, params: dict) -> dict:
    sql = f"SELECT COUNT(*) AS total, SUM({_REVIEWED}) AS reviewed {_WRONG_FROM.format(wrong=wrong, where=where)}"
    return next(db.query(sql, params))


def score_histogram(db: sqlite_utils.Database, model_id: int, *, bins: int = 20, side: str | None = None,
                    track_id: int | None = None, labeller: str | None = None) -> list[dict]:
    """Counts of labelled segments per score bin and consensus verdict, under the list's filters.

    Rows ``{bin, verdict, n}``; bin ``k`` holds ``k / bins <= p_banger < (k + 1) / bins``
    (1.0 goes in the last bin).
    """
    sql = f"""SELECT MIN(CAST(p.p_banger * :bins AS INTEGER), :bins - 1) AS bin, v.verdict, COUNT(*) AS n
              FROM predictions p JOIN segment_verdicts v ON v.segment_id = p.segment_id
              JOIN segments s ON s.id = p.segment_id
              WHERE p.model_id = :m AND {segment_filters(side=side, track_id=track_id, labeller=labeller)}
              GROUP BY bin, v.verdict ORDER BY bin, v.verdict"""
    params = {"m": int(model_id), "bins": int(bins), "side": side, "track": track_id, "who": labeller,
              "q": verdict_question_id(db), **VERDICT_PARAMS}
    return list(db.query(sql, params))


# --- prediction flips --------------------------------------------------------------------------

def flips(db: sqlite_utils.Database, model_a: int, model_b: int, *, threshold: float = 0.5,
          since: str, until: str, limit: int = 200) -> list[dict]:
    """Segments whose verdict differs between two models, with the label edits made in between.

    ``since``/``until`` bound the label edits counted (the two models' creation times). Rows
    ``{segment_id, track_id, title, idx, start_s, p_a, p_b, verdict, label_edits}``, segments
    with label edits first, then the biggest change of score.
    """
    sql = """SELECT a.segment_id, s.track_id, t.title, s.idx, s.start_s, a.p_banger AS p_a, b.p_banger AS p_b,
                    v.verdict,
                    (SELECT COUNT(*) FROM answers x WHERE x.segment_id = a.segment_id AND x.question_id = :q
                       AND x.created_at > :since AND x.created_at <= :until) AS label_edits
             FROM predictions a JOIN predictions b ON b.model_id = :b AND b.segment_id = a.segment_id
             JOIN segments s ON s.id = a.segment_id JOIN tracks t ON t.id = s.track_id
             LEFT JOIN segment_verdicts v ON v.segment_id = a.segment_id
             WHERE a.model_id = :a AND (a.p_banger >= :thr) != (b.p_banger >= :thr)
             ORDER BY label_edits > 0 DESC, ABS(a.p_banger - b.p_banger) DESC, a.segment_id LIMIT :limit"""
    params = {"a": int(model_a), "b": int(model_b), "thr": float(threshold), "q": verdict_question_id(db),
              "since": since, "until": until, "limit": int(limit)}
    return list(db.query(sql, params))
