"""Which labels a figure was computed against, shown the same way on every page, with a Retrain
offered when verdicts moved since the model was trained."""

from __future__ import annotations

import streamlit as st

from haverford.core import jobs, versions
from haverford.core.errors import HaverfordError
from haverford.core.evaluate import Freshness
from haverford.dashboard.context import home


def note(labels: Freshness | None, *, model: dict, key: str) -> None:
    """A caption when the labels are as the model saw them; a warning and a Retrain button when not."""
    if labels is None:
        return
    if not labels.stale:
        st.caption(f"Computed {labels.text}.")
        return
    st.warning(f"Computed {labels.text}.")
    if st.button("Retrain now", key=f"{key}_retrain", icon=":material/model_training:",
                 help=f"Starts a Retrain with model {model['id']}'s preset ({model['preset']}) and feature; "
                      "follow it on the Train page"):
        config = versions.retrain_config(model)
        try:
            run_id = jobs.start_run(home(), config, created_by=(st.session_state.get("app_labeller") or "").strip()
                                    or "dashboard")
        except HaverfordError as exc:
            st.error(str(exc))
            return
        st.success(f"Retrain run {run_id} started in the background: follow it on the Train page.")


def rerun_when_finished(state_key: str, run: dict | None) -> None:
    """Called from a live fragment: rerun the whole page once when the run it watches finishes, so
    what the page shows outside the fragment (model versions, a ranking) keeps up without a reload."""
    seen = (run or {}).get("id"), (run or {}).get("status")
    before = st.session_state.get(state_key)
    st.session_state[state_key] = seen
    if before and before[0] == seen[0] and before[1] in versions.ACTIVE and seen[1] not in versions.ACTIVE:
        st.rerun(scope="app")
