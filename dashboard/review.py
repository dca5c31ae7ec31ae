"""Reviewing one segment from a ranked list: the clip view, every labeller's answers, and the actions
(relabel with a reason, saved as an ordinary answer; mark reviewed)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from haverford.core import questionnaire, review
from haverford.core.errors import HaverfordError
from haverford.core.vocabulary import VERDICT_NAMES, VERDICTS, minute
from haverford.dashboard import clip


def answers_table(db, segment_id: int) -> None:
    """Every labeller's latest answers to every question, one row per labeller."""
    rows = review.latest_answers(db, [segment_id])
    if not rows:
        st.caption("Nobody has answered this segment yet.")
        return
    table = pd.DataFrame(rows).pivot_table(index="labeller", columns="key", values="value", aggfunc="first")
    questions = questionnaire.list_questions(db, include_retired=True)
    order = [q["key"] for q in questions if q["key"] in table.columns]
    titles = {q["key"]: q["text"] for q in questions}
    verdict_key = questionnaire.verdict_key(questions)
    if verdict_key in table.columns:
        table[verdict_key] = table[verdict_key].map(lambda v: VERDICT_NAMES.get(v, v))
    shown = table[order].astype("string").fillna("—").rename(columns=titles)
    st.dataframe(shown, width="stretch")
    notes = [r for r in review.history(db, segment_id) if r["note"]]
    if notes:
        st.caption("Reasons given: " + "; ".join(f"{clip.plain(r['labeller'])}: {VERDICT_NAMES.get(r['value'], r['value'])} "
                                                 f"({clip.plain(r['note'])})" for r in notes[-5:]))


def actions(db, segment_id: int, *, model_id: int | None, run_id: int | None, key: str) -> None:
    """Relabel with a reason, or mark reviewed, as the labeller named in the sidebar."""
    who = (st.session_state.get("app_labeller") or "").strip()
    if not who:
        st.warning("Enter your name in the sidebar to relabel or mark segments reviewed.")
    done = review.get_review(db, segment_id, model_id=model_id, run_id=run_id)
    if done:
        st.success(f"Reviewed by {clip.plain(done['reviewer'])} at {minute(done['reviewed_at'])} UTC"
                   + (f": {clip.plain(action_text(done['action']))}" if done["action"] else ""))
    # The form starts empty: a review must not nudge towards the model's (or anyone's) verdict.
    with st.form(f"{key}_relabel"):
        left, right = st.columns(2)
        verdict = left.radio("Your verdict", VERDICTS, index=None, horizontal=True, key=f"{key}_verdict",
                             format_func=VERDICT_NAMES.get)
        reason = right.selectbox("Reason (required)", review.REASONS, index=None, key=f"{key}_reason",
                                 placeholder="Why this verdict?",
                                 help=f"'{review.CORRECTION}' corrects the label: your verdict sets aside the votes "
                                      "given before it. The other reasons add your verdict as one more vote.")
        if st.form_submit_button("Save verdict and mark reviewed", disabled=not who, type="primary"):
            relabel(db, segment_id, who=who, verdict=verdict, reason=reason, model_id=model_id, run_id=run_id)
    if st.button("Mark reviewed (no change)", key=f"{key}_reviewed", disabled=not who or bool(done)):
        _act(review.mark_reviewed, db, segment_id, reviewer=who, model_id=model_id, run_id=run_id)


def relabel(db, segment_id: int, *, who: str, verdict: str | None, reason: str | None, model_id, run_id) -> None:
    """Save the verdict as an ordinary answer (note = reason) and record the review: one core call."""
    if verdict is None or reason is None:
        st.error("Choose a verdict and a reason first.")
        return
    _act(review.relabel, db, segment_id, labeller=who, verdict=verdict, reason=reason, model_id=model_id,
         run_id=run_id)


def _act(action, *args, **kwargs) -> None:
    """Run a core action; its error is shown in one line, success reruns so every list shows it."""
    try:
        action(*args, **kwargs)
    except HaverfordError as exc:
        st.error(str(exc))
        return
    st.rerun()  # the list, the consensus and the strip above show the new label


def panel(db, state_key: str, *, model_id: int | None = None, run_id: int | None = None) -> None:
    """The selected segment: clip view with the track strip, answers, actions."""
    segment = clip.render(db, state_key)
    if segment is None:
        return
    st.markdown("**Every labeller's answers**")
    answers_table(db, segment["id"])
    actions(db, segment["id"], model_id=model_id, run_id=run_id, key=f"{state_key}_{segment['id']}")


def action_text(action: str) -> str:
    """A stored review action in words: "not_a_banger (label was wrong)" → "Not a banger (label was wrong)"."""
    for verdict, name in VERDICT_NAMES.items():
        if action == verdict or action.startswith(verdict + " "):
            return name + action[len(verdict):]
    return action
