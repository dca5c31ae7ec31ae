"""Admin actions that pages used to run straight on the database: question edits, model activation.

Each one calls ``accounts.require`` first, so a labeller is refused here whatever page (or
script) asks.
"""

from __future__ import annotations

import sqlite_utils

from haverford.core.roles import require
from haverford.core.errors import NotFoundError
from haverford.db import models as models_db
from haverford.db import questions as questions_db


def update_question(db: sqlite_utils.Database, question_id: int, **changes) -> None:
    """Reword, re-rule or retire a question (``db.questions.update_question``); admins only."""
    require(db, "questions", detail=f"update question {question_id}")
    questions_db.update_question(db, question_id, **changes)


def move_question(db: sqlite_utils.Database, question_id: int, *, offset: int) -> None:
    """Move a question ``offset`` places in the questionnaire; admins only."""
    require(db, "questions", detail=f"move question {question_id} by {offset}")
    questions_db.move_question(db, question_id, offset=offset)


def add_question(db: sqlite_utils.Database, *, key: str, text: str, kind: str, options: dict) -> int:
    """Append a question (already checked by ``labelling.check_new_question``); admins only."""
    require(db, "questions", detail=f"add question {key}")
    return questions_db.add_question(db, key=key, text=text, kind=kind, options=options)


def activate_model(db: sqlite_utils.Database, model_id: int) -> None:
    """Make ``model_id`` the active model; admins only.

    Raises ``NotFoundError`` when there is no such model.
    """
    require(db, "activate", detail=f"model {model_id}")
    if models_db.get_model(db, int(model_id)) is None:
        raise NotFoundError(f"no model {model_id}; see the Train page's model versions")
    models_db.activate(db, int(model_id))
