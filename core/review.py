"""Reviewing labels against a model: relabel with a reason, mark reviewed, and the ranked lists
the Misclassified page shows (the model's mistakes, the cross-check's label issues, the
segments whose verdict flipped between two models).

A relabel is one call wherever it happens (the Label page's form saves through
``core.labelling.save_form``; a review's relabel through ``relabel``): the verdict is stored as
an ordinary answer of the reviewer, with the reason as its note.
"""

from __future__ import annotations

from haverford.core.errors import HaverfordError
from haverford.core.labelling import check_labeller
from haverford.core.roles import require
from haverford.core.vocabulary import CORRECTION, VERDICTS
from haverford.db import answers as answers_db
from haverford.db import questions as questions_db
from haverford.db import reviews as reviews_db
from haverford.db.answers import history, labellers
from haverford.db.crosscheck import label_issues, latest_crosscheck
from haverford.db.evaluation import flips, score_histogram
from haverford.db.library import latest_answers
from haverford.db.reviews import get_review, label_edit_count, label_edits

__all__ = ["CORRECTION", "REASONS", "flips", "get_review", "history", "label_edit_count", "label_edits", "label_issues",
           "labellers", "latest_answers", "latest_crosscheck", "mark_reviewed", "relabel", "score_histogram"]

REASONS = (CORRECTION, "ambiguous", "model error")  # CORRECTION: "label was wrong", which sets the verdict


def relabel(db, segment_id: int, *, labeller: str, verdict: str, reason: str, model_id: int | None = None,
            run_id: int | None = None) -> None:
    """Save ``verdict`` as ``labeller``'s answer (note = ``reason``) and record the review, in one call.

    Raises ``AccessDenied`` when the person acting is not ``labeller`` (with accounts on);
    ``HaverfordError`` for a bad name, an unknown verdict or a missing reason.
    """
    name = check_labeller(labeller)
    require(db, "review", as_name=name, detail=f"relabel segment {segment_id}")
    if verdict not in VERDICTS:
        raise HaverfordError(f"unknown verdict {verdict!r}; use one of: {', '.join(VERDICTS)}")
    if reason not in REASONS:
        raise HaverfordError(f"choose a reason: one of {', '.join(REASONS)}")
    answers_db.save_answers(db, [segment_id], name, {questions_db.verdict_question_id(db): verdict}, note=reason)
    reviews_db.mark_reviewed(db, segment_id, reviewer=name, model_id=model_id, run_id=run_id,
                          action=f"{verdict} ({reason})")


def mark_reviewed(db, segment_id: int, *, reviewer: str, model_id: int | None = None,
                  run_id: int | None = None) -> None:
    """Record that ``reviewer`` looked at a segment and left its label as it is."""
    name = check_labeller(reviewer)
    require(db, "review", as_name=name, detail=f"mark segment {segment_id} reviewed")
    reviews_db.mark_reviewed(db, segment_id, reviewer=name, model_id=model_id, run_id=run_id, action="no change")
