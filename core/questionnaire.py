"""Haverford's test as data: reading the questions and the actions that change them.

Questions live in SQLite (``haverford.db.questions``); a reworded or retired question keeps
every answer already given, and each change is kept as a revision.
"""

from __future__ import annotations

import json
import re

from haverford.core.errors import HaverfordError
from haverford.core.roles import require
from haverford.core.vocabulary import minute
from haverford.db import questions as questions_db
from haverford.db.questions import KINDS, list_questions, revisions, verdict_question_id

__all__ = ["KINDS", "add_question", "describe_revision", "list_questions", "move_question", "revisions", "update_question",
           "verdict_question_id"]


KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def verdict_key(questions: list[dict]) -> str | None:
    """The key of the verdict question among ``questions`` (rows of ``list_questions``), if any."""
    return next((q["key"] for q in questions if q.get("role") == "verdict"), None)


def check_new_question(db, *, key: str, text: str, kind: str) -> None:
    """Validate a question about to be added; the error says what to change."""
    if not KEY_PATTERN.match(key or ""):
        raise HaverfordError(f"key {key!r} must be lower-case letters, digits and _ (start with a letter)")
    if questions_db.get_question(db, key) is not None:
        raise HaverfordError(f"a question with key {key!r} already exists (retired questions keep their key)")
    if not (text or "").strip():
        raise HaverfordError("the question needs a text")
    if kind not in questions_db.KINDS:
        raise HaverfordError(f"unknown kind {kind!r}; use one of: {', '.join(questions_db.KINDS)}")


def default_options(kind: str, *, lo: float | None = None, hi: float | None = None,
                    choices: list[str] | None = None) -> dict:
    """The ``options`` of a question of ``kind`` (range for numbers, list for choices)."""
    if kind == "choice":
        clean = [c.strip() for c in (choices or []) if c.strip()]
        if len(clean) < 2:
            raise HaverfordError("a choice question needs at least two choices, one per line")
        return {"choices": clean}
    if kind in ("number", "count", "rating"):
        lo = {"rating": 1, "count": 0}.get(kind, 0) if lo is None else lo
        hi = {"rating": 10, "count": 20}.get(kind, 100) if hi is None else hi
        if lo >= hi:
            raise HaverfordError(f"minimum {lo:g} must be below maximum {hi:g}")
        return {"min": lo, "max": hi}
    return {}


def add_question(db, *, key: str, text: str, kind: str, lo: float | None = None, hi: float | None = None,
                 choices: list[str] | None = None) -> int:
    """Validate and add a question at the end of the questionnaire; returns its id.

    Raises ``AccessDenied`` for anyone but an admin (with accounts on); ``HaverfordError`` for a
    bad or taken key, an empty text, an unknown kind or bad options.
    """
    require(db, "questions", detail=f"add question {key}")
    check_new_question(db, key=key, text=text, kind=kind)
    options = default_options(kind, lo=lo, hi=hi, choices=choices)
    return questions_db.add_question(db, key=key, text=text, kind=kind, options=options)


def update_question(db, question_id: int, **changes) -> None:
    """Reword, retire, re-rule or re-option a question (the old text is kept as a revision); admins only."""
    require(db, "questions", detail=f"update question {question_id}")
    questions_db.update_question(db, question_id, **changes)


def move_question(db, question_id: int, *, offset: int) -> None:
    """Move a question ``offset`` places up (negative) or down the questionnaire; admins only."""
    require(db, "questions", detail=f"move question {question_id} by {offset}")
    questions_db.move_question(db, question_id, offset=offset)


def describe_revision(row: dict) -> dict:
    """A question revision as people read it: when, the text, and options, rule and condition in words."""
    return {"Changed": minute(row.get("changed_at")), "Question": row.get("text"),
            "Options": _words(row.get("options")), "Rule": _words(row.get("rule")),
            "Asked when": _words(row.get("ask_when")), "Active": "yes" if row.get("active") else "retired"}


def _words(value) -> str:
    """``{"min": 40, "max": 220}`` → ``min 40, max 220``; lists joined by ' / '; empty → '—'."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if not value:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_words(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " / ".join(str(v) for v in value)
    return str(value)
