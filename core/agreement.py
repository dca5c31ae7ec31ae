"""Agreement between labellers: Cohen's kappa per pair, Krippendorff's alpha overall.

Values come in as rows ``{segment_id, labeller, value}`` (the latest answer of each person);
the level of measurement follows the question's kind: nominal for the verdict, yes/no, choice
and text; ordinal for counts and ratings; interval for numbers.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from haverford.core.haverford import as_bool
from haverford.db.agreement import change_stamp, disagreements, labellers_count, question_answers, tracks_agreement
from haverford.db.questions import list_questions

__all__ = ["Agreement", "PairKappa", "agreement", "change_stamp", "disagreements", "labellers_count",
           "mean_kappa", "question_answers", "summary", "tracks_agreement"]

Level = Literal["nominal", "ordinal", "interval"]
LEVELS: dict[str, Level] = {"yes_no": "nominal", "choice": "nominal", "text": "nominal", "count": "ordinal",
                            "rating": "ordinal", "number": "interval"}


@dataclass(frozen=True)
class PairKappa:
    """Cohen's kappa of two labellers on the segments both answered (None when undefined)."""

    a: str
    b: str
    n: int
    kappa: float | None


@dataclass(frozen=True)
class Agreement:
    """Agreement on one question."""

    level: str
    n_segments: int
    n_labellers: int
    alpha: float | None
    pairs: list[PairKappa] = field(default_factory=list)


def level_for(kind: str) -> Level:
    """Krippendorff's level of measurement for a question kind."""
    return LEVELS.get(kind, "nominal")


def encode(values: Iterable[object], *, kind: str) -> list[float | str]:
    """Make answers comparable: yes/no → 1/0, numbers → float, other answers → text."""
    out: list[float | str] = []
    for v in values:
        if kind == "yes_no":
            out.append(float(as_bool(v)))  # type: ignore[arg-type]  # a stored yes/no answer: 1/0, true/false
        elif level_for(kind) in ("ordinal", "interval"):
            out.append(float(v))  # type: ignore[arg-type]  # a stored number; bad text raises ValueError
        else:
            out.append(str(v))
    return out


def _table(rows: Iterable[Mapping], kind: str) -> dict[str, dict[int, float | str]]:
    """labeller → segment_id → encoded value."""
    table: dict[str, dict[int, float | str]] = {}
    for r in rows:
        table.setdefault(r["labeller"], {})[r["segment_id"]] = encode([r["value"]], kind=kind)[0]
    return table


def cohen_pairs(rows: Iterable[Mapping], *, kind: str) -> list[PairKappa]:
    """Cohen's kappa (``sklearn.metrics.cohen_kappa_score``) for every pair of labellers.

    Counts and ratings use linear weights (near misses count as partial agreement).
    """
    from sklearn.metrics import cohen_kappa_score

    table = _table(rows, kind)
    weights = "linear" if level_for(kind) != "nominal" else None
    out = []
    for a, b in itertools.combinations(sorted(table), 2):
        shared = sorted(set(table[a]) & set(table[b]))
        if not shared:
            continue
        ya, yb = [table[a][s] for s in shared], [table[b][s] for s in shared]
        with warnings.catch_warnings():  # a pair that never varies: kappa is undefined, reported as None
            warnings.simplefilter("ignore")
            kappa = float(cohen_kappa_score(ya, yb, weights=weights))
        out.append(PairKappa(a, b, len(shared), None if math.isnan(kappa) else kappa))
    return out


def reliability_matrix(rows: Iterable[Mapping], *, kind: str) -> tuple[np.ndarray, list]:
    """Labellers × segments matrix of codes (NaN where missing) and the category list.

    Nominal values are coded by their sorted position in the category list.
    """
    table = _table(rows, kind)
    segments = sorted({s for answers in table.values() for s in answers})
    categories = sorted({v for answers in table.values() for v in answers.values()}, key=str)
    code = {c: i for i, c in enumerate(categories)} if level_for(kind) == "nominal" else None
    matrix = np.full((len(table), len(segments)), np.nan)
    col = {s: j for j, s in enumerate(segments)}
    for i, answers in enumerate(table[name] for name in sorted(table)):
        for s, v in answers.items():
            matrix[i, col[s]] = code[v] if code is not None else v
    return matrix, categories


def krippendorff_alpha(rows: Iterable[Mapping], *, kind: str) -> float | None:
    """Krippendorff's alpha (``krippendorff.alpha``) at the kind's level; None when undefined."""
    import krippendorff

    matrix, categories = reliability_matrix(rows, kind=kind)
    if matrix.shape[0] < 2 or len(categories) < 2:
        return None
    level = level_for(kind)
    values = np.arange(len(categories)) if level == "nominal" else np.array(sorted(categories), dtype=float)
    try:
        alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level,
                                         value_domain=values))
    except ValueError:  # fewer than two pairable values: alpha is undefined
        return None
    return None if math.isnan(alpha) else alpha


def agreement(rows: Sequence[Mapping], *, kind: str) -> Agreement:
    """Agreement on one question from the latest answers of segments with two or more labellers."""
    return Agreement(level=level_for(kind), n_segments=len({r["segment_id"] for r in rows}),
                     n_labellers=len({r["labeller"] for r in rows}),
                     alpha=krippendorff_alpha(rows, kind=kind), pairs=cohen_pairs(rows, kind=kind))


def mean_kappa(pairs: Iterable[PairKappa]) -> float | None:
    """Cohen's kappa averaged over labeller pairs, each weighted by the segments it shares.

    A pair that shares 2 segments says little; weighting by ``n`` keeps it from pulling the mean
    as far as a pair that shares 200. Pairs with an undefined kappa are left out.
    """
    defined = [p for p in pairs if p.kappa is not None and p.n > 0]
    total = sum(p.n for p in defined)
    return sum((p.kappa or 0.0) * p.n for p in defined) / total if total else None


def summary(db) -> list[dict]:
    """One row per question (retired ones too): level, segments with ≥ 2 labellers, labellers,
    Krippendorff's alpha and the mean kappa weighted by shared segments."""
    rows = []
    for q in list_questions(db, include_retired=True):
        result = agreement(question_answers(db, q["id"]), kind=q["kind"])
        rows.append({"key": q["key"], "question": q["text"], "level": result.level,
                     "segments": result.n_segments, "labellers": result.n_labellers,
                     "alpha": result.alpha, "mean_kappa": mean_kappa(result.pairs)})
    return rows
