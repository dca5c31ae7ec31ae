"""Haverford's algorithm: a segment's answers to Haverford's test → a verdict.

The rules live beside the questions in SQLite (``questions.rule``):
``{"veto_when": true}`` makes an answer equal to the value a "not a banger" outright
("Were any acoustic instruments used? If so, it is not a banger."), and
``{"banger_min": x, "banger_max": y}`` are thresholds a banger must meet. A question asked
only under a condition (``ask_when``, e.g. dopeness when drops > 0) is skipped when it was
not asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from haverford.core.vocabulary import BANGER, NOT_A_BANGER, consensus

_OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


@dataclass(frozen=True)
class Decision:
    """The algorithm's verdict (None when answers are missing) and why."""

    verdict: str | None
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.verdict is not None


def as_bool(value) -> bool | None:
    """Normalise a yes/no answer stored as 1/0, true/false or yes/no."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "yes", "true", "y")
    return bool(value)


def is_asked(question: Mapping, answers: Mapping[str, object]) -> bool:
    """Whether ``question`` applies given the other answers (its ``ask_when`` condition)."""
    cond = question.get("ask_when")
    if not cond:
        return True
    other = answers.get(cond["key"])
    if other is None:
        return False
    try:
        return _OPS[cond.get("op", "==")](float(other), float(cond["value"]))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _OPS[cond.get("op", "==")](other, cond["value"])


def decide(answers: Mapping[str, object], questions: Sequence[Mapping]) -> Decision:
    """Run Haverford's algorithm on one segment's answers (question key → value)."""
    ruled = [q for q in questions if q.get("rule") and q.get("active", True) and is_asked(q, answers)]
    reasons: list[str] = []
    missing: list[str] = []
    for q in ruled:
        if "veto_when" in q["rule"] and answers.get(q["key"]) is not None and _veto(q, answers[q["key"]]):
            shown = ("yes" if as_bool(answers[q["key"]]) else "no") if q.get("kind") == "yes_no" else answers[q["key"]]
            return Decision(NOT_A_BANGER, [f"{q['key']} = {shown}: not a banger"])
    for q in ruled:
        value = answers.get(q["key"])
        if value is None:
            missing.append(q["key"])
            continue
        reasons.extend(_threshold_failures(q, value))
    if missing:
        return Decision(None, reasons, missing)
    return Decision(NOT_A_BANGER if reasons else BANGER, reasons or ["every threshold met"])


def _veto(question: Mapping, value) -> bool:
    veto = question["rule"]["veto_when"]
    if question.get("kind") == "yes_no" or isinstance(veto, bool):
        return as_bool(value) == as_bool(veto)
    return value == veto


def _threshold_failures(question: Mapping, value) -> list[str]:
    rule, key = question["rule"], question["key"]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return []
    out = []
    if rule.get("banger_min") is not None and number < float(rule["banger_min"]):
        out.append(f"{key} {number:g} < {rule['banger_min']}")
    if rule.get("banger_max") is not None and number > float(rule["banger_max"]):
        out.append(f"{key} {number:g} > {rule['banger_max']}")
    return out


def algorithm_verdicts(rows: Sequence[Mapping], questions: Sequence[Mapping]) -> dict[int, str | None]:
    """Haverford's algorithm per segment: each labeller's answers decided, then the consensus rule
    (``vocabulary.consensus``) over those verdicts, as for people's own verdicts.

    ``rows`` come from ``db.library.latest_answers``. A tie or no complete answers gives None.
    """
    by_person: dict[tuple[int, str], dict] = {}
    for r in rows:
        by_person.setdefault((r["segment_id"], r["labeller"]), {})[r["key"]] = r["value"]
    votes: dict[int, list[str | None]] = {}
    for (segment_id, _), answers in by_person.items():
        votes.setdefault(segment_id, []).append(decide(answers, questions).verdict)
    return {s: consensus(v) for s, v in votes.items()}
