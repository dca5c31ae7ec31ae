"""The labelling form: who labels, which answers a form saves, what Haverford's algorithm says so far.

The queue is in ``core.queues``, the tempo suggestion in ``core.tempo``, question edits in
``core.questionnaire`` and Haverford's algorithm in ``core.haverford``.

The dashboard's labelling page is a thin layer over these functions, so that the same rules
(which questions are asked, what a saved form writes) hold in tests and scripts.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlite_utils

from haverford.core.errors import HaverfordError
from haverford.core.haverford import Decision, decide, is_asked
from haverford.core.roles import require
from haverford.db import answers as answers_db


def check_labeller(labeller: str | None) -> str:
    """The labeller's name, stripped; raise ``HaverfordError`` when it is empty."""
    name = (labeller or "").strip()
    if not name:
        raise HaverfordError("enter your name in the sidebar first: every answer is stored with it")
    return name


def asked_values(answers: Mapping[str, object], questions: list[Mapping]) -> dict[str, object]:
    """The answers that count: given (not None or empty) to active questions that are asked."""
    out = {}
    for q in questions:
        value = answers.get(q["key"])
        if q.get("active", True) and value not in (None, "") and is_asked(q, answers):
            out[q["key"]] = value
    return out


def save_form(db: sqlite_utils.Database, segment_ids: list[int], labeller: str,
              answers: Mapping[str, object], questions: list[Mapping]) -> int:
    """Save one labelling form (question key → value) for ``segment_ids``: one transaction.

    Questions not asked (e.g. dopeness when there are no drops) and blank answers are left out;
    earlier answers stay in the history. Returns the number of answer rows written.
    """
    name = check_labeller(labeller)
    require(db, "label", as_name=name)
    ids = {q["key"]: q["id"] for q in questions}
    values = {ids[k]: v for k, v in asked_values(answers, questions).items()}
    if not values:
        raise HaverfordError("nothing to save: answer at least one question")
    return answers_db.save_answers(db, segment_ids, name, values)


def my_answers(db: sqlite_utils.Database, segment_id: int, labeller: str) -> dict[str, object]:
    """``labeller``'s latest answers for a segment, question key → value."""
    return {r["key"]: r["value"] for r in answers_db.current_answers(db, segment_id, labeller=labeller)}


def live_decision(answers: Mapping[str, object], questions: list[Mapping]) -> Decision:
    """Haverford's algorithm on the answers given so far (verdict None until complete)."""
    return decide(asked_values(answers, questions), questions)


