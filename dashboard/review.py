"""Reviewing one segment from a ranked list: the clip view, every labeller's answers, and the actions
(relabel with a reason, saved as an ordinary answer; mark reviewed)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from haverford.core.labelling import check_labeller
from haverford.core.errors import HaverfordError
from haverford.dashboard import clip
from haverford.db import answers as answers_db
from haverford.db import evaluation as eval_db
from haverford.db import labelling as labelling_db
from haverford.db import questions as questions_db

REASONS = ("label was wrong", "ambiguous", "model error")
VERDICTS = ("banger", "not_a_banger", "ambiguous")  # ambiguous: kept out of training


def answers_table(db, segment_id: int) -> None:
    """Every labeller's latest answers to every question, one row per labeller."""
    rows = labelling_db.latest_answers(db, [segment_id])
    if not rows:
        st.caption("Nobody has answered this segment yet.")
        return
    table = pd.DataFrame(rows).pivot_table(index="labeller", columns="key", values="value", aggfunc="first")
    order = [q["key"] for q in questions_db.list_questions(db, include_retired=True) if q["key"] in table.columns]
    st.dataframe(table[order].astype(str), width="stretch")
    notes = [r for r in answers_db.history(db, segment_id) if r["note"]]
    if notes:
        st.caption("Reasons given: " + "; ".join(f"{clip.plain(r['labeller'])}: {r['value']} "
                                                 f"({clip.plain(r['note'])})" for r in notes[-5:]))


def actions(db, segment_id: int, *, model_id: int | None, run_id: int | None, key: str) -> None:
    """Relabel with a reason, or mark reviewed, as the labeller named in the sidebar."""
    who = (st.session_state.get("app_labeller") or "").strip()
    if not who:
        st.warning("Enter your name in the sidebar to relabel or mark segments reviewed.")
    review = eval_db.get_review(db, segment_id, model_id=model_id, run_id=run_id)
    if review:
        st.success(f"Reviewed by {clip.plain(review['reviewer'])} at {review['reviewed_at'][:16]}"
                   + (f": {clip.plain(review['action'])}" if review["action"] else ""))
    with st.form(f"{key}_relabel"):
        left, right = st.columns(2)
        verdict = left.radio("Your verdict", VERDICTS, horizontal=True, key=f"{key}_verdict",
                             format_func=lambda v: v.replace("_", " "))
        reason = right.selectbox("Reason", REASONS, key=f"{key}_reason")
        if st.form_submit_button("Save verdict and mark reviewed", disabled=not who, type="primary"):
            relabel(db, segment_id, who=who, verdict=verdict, reason=reason, model_id=model_id, run_id=run_id)
    if st.button("Mark reviewed (no change)", key=f"{key}_reviewed", disabled=not who or bool(review)):
        eval_db.mark_reviewed(db, segment_id, reviewer=who, model_id=model_id, run_id=run_id, action="no change")
        st.rerun()


def relabel(db, segment_id: int, *, who: str, verdict: str, reason: str, model_id, run_id) -> None:
    """Save the verdict as an ordinary answer (note = reason) and record the review."""
    try:
        name = check_labeller(who)
    except HaverfordError as exc:
        st.error(str(exc))
        return
    answers_db.save_answers(db, [segment_id], name, {questions_db.verdict_question_id(db): verdict}, note=reason)
    eval_db.mark_reviewed(db, segment_id, reviewer=name, model_id=model_id, run_id=run_id,
                          action=f"{verdict} ({reason})")
    st.rerun()  # the list, the consensus and the strip above show the new label


def panel(db, state_key: str, *, model_id: int | None = None, run_id: int | None = None) -> None:
    """The selected segment: clip view with the track strip, answers, actions."""
    segment = clip.render(db, state_key)
    if segment is None:
        return
    st.markdown("**Every labeller's answers**")
    answers_table(db, segment["id"])
    actions(db, segment["id"], model_id=model_id, run_id=run_id, key=f"{state_key}_{segment['id']}")
