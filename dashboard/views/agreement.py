"""Agreement page: how far labellers agree, per question and on the verdict; the disagreements."""

import pandas as pd
import streamlit as st

from haverford.core import agreement, questionnaire
from haverford.dashboard import charts, clip
from haverford.dashboard.context import connect, home


@st.cache_data(max_entries=16, show_spinner=False, ttl=30)
def summary_rows(db_path: str, stamp: tuple) -> list[dict]:
    """``agreement.summary``, cached per database and change stamp (a new answer recomputes it)."""
    return agreement.summary(connect())


def question_detail(db, questions: list[dict]) -> None:
    keys = [q["key"] for q in questions]
    verdict = questionnaire.verdict_key(questions) or keys[0]
    picked = st.selectbox("Question", keys, index=keys.index(verdict), key="agreement_question")
    q = next(q for q in questions if q["key"] == picked)
    result = agreement.agreement(agreement.question_answers(db, q["id"]), kind=q["kind"])
    a, b, c = st.columns(3)
    a.metric("Segments with ≥ 2 labellers", result.n_segments)
    b.metric(f"Krippendorff's alpha ({result.level})", "n/a" if result.alpha is None else f"{result.alpha:.3f}")
    c.metric("Labellers", result.n_labellers)
    mean = agreement.mean_kappa(result.pairs)
    st.caption("Mean Cohen's kappa, weighted by shared segments: " + ("n/a" if mean is None else f"{mean:.3f}"))
    pairs = [{"a": p.a, "b": p.b, "n": p.n, "kappa": p.kappa} for p in result.pairs]
    if pairs:
        # a pair that never varies has no kappa: "n/a", as the caption says, not Python's None
        table = pd.DataFrame(pairs).assign(kappa=[_three_places(p["kappa"]) for p in pairs])
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"a": "Labeller A", "b": "Labeller B", "n": "Shared segments",
                                    "kappa": "Cohen's kappa"})
        shown = [p for p in pairs if p["kappa"] is not None]
        if shown:
            st.plotly_chart(charts.kappa_figure(shown), config={"displaylogo": False})
    weighting = "linear weights" if result.level != "nominal" else "unweighted"
    st.caption(f"Cohen's kappa ({weighting}) on the segments both labellers answered; "
               "n/a when a pair never varies.")


def disagreement_list(db) -> None:
    st.subheader("Disagreements on the verdict")
    rows = agreement.disagreements(db)
    if not rows:
        st.info("No segment has conflicting verdicts.")
        return
    table = clip.with_label_links(pd.DataFrame(rows))
    event = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun",
                         selection_mode="single-row", key="agreement_table",
                         column_config={"id": "Segment", "title": "Track", "idx": None,
                                        "start_s": st.column_config.NumberColumn("Start (s)", format="%.0f"),
                                        "banger_votes": "Banger votes", "not_votes": "Not-a-banger votes",
                                        "n_labellers": "Labellers"} | clip.LINK_COLUMN)
    selected = event.selection.rows if event else []
    clip.follow_table("agreement_segment", "agreement_table", int(table.iloc[selected[0]]["id"]) if selected else None)
    clip.render_with_label_link(db, "agreement_segment", hint="Select a row to open its clip.",
                                button_key="agreement_label")


def _three_places(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.3f}"


def main() -> None:
    st.title("Agreement")
    db = connect()
    questions = questionnaire.list_questions(db, include_retired=True)
    labellers = agreement.labellers_count(db)
    if labellers < 2:
        st.info("Agreement needs answers from two or more labellers. Label segments on the Label page "
                "(each person enters their name in the sidebar), or build the demo with `haverford demo`.")
        return
    summary = pd.DataFrame(summary_rows(str(home().db_path), agreement.change_stamp(db)))
    for column in ("alpha", "mean_kappa"):  # undefined (too few shared answers, or no variation): n/a, not None
        summary[column] = [_three_places(v) for v in summary[column]]
    st.dataframe(summary, hide_index=True, width="stretch",
                 column_config={"key": "Key", "question": "Question", "level": "Level",
                                "segments": "Segments (≥ 2 labellers)", "labellers": "Labellers",
                                "alpha": "Krippendorff's alpha",
                                "mean_kappa": st.column_config.TextColumn(
                                    "Mean Cohen's kappa",
                                    help="Averaged over pairs of labellers, each weighted by the segments it shares")})
    st.caption("Krippendorff's alpha: nominal for yes/no, choices and the verdict; ordinal for counts and "
               "ratings; interval for numbers. 1 is perfect agreement, 0 is chance.")
    question_detail(db, questions)
    disagreement_list(db)


main()
