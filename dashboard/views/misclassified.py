"""Misclassified page: the clips the model gets wrong, most confidently wrong first; the cross-check's
likely label errors; and prediction flips between two model versions."""

import pandas as pd
import streamlit as st

from haverford.core import catalogue, jobs, review, versions
from haverford.core.crosscheck import FOLD_MODELS, CrossCheckConfig, describe, start_crosscheck
from haverford.core.errors import HaverfordError
from haverford.core.evaluate import misclassified
from haverford.core.vocabulary import BANGER, NOT_A_BANGER, PRESET_NAMES, VERDICT_NAMES, minute
from haverford.dashboard import clip, eval_charts, freshness
from haverford.dashboard import review as review_panel
from haverford.dashboard.context import connect, home

MODES = {"mistakes": "Model mistakes", "crosscheck": "Cross-check: likely label errors",
         "flips": "Prediction flips between models"}
SPLITS = {"all": "all tracks", "test": "test tracks (held out)", "train": "training tracks",
          "validation": "validation tracks"}
PAGE_SIZE = 100
STATE = "mis_segment"


def filters(db, *, confidence: bool = True) -> dict:
    """Split, track, labeller and (for the model's mistakes) confidence filters, shared by the
    model and cross-check lists."""
    cols = st.columns(4 if confidence else 3)
    side = cols[0].selectbox("Split", list(SPLITS), format_func=SPLITS.get, key="mis_split")
    titles = catalogue.track_titles(db)
    track = cols[1].selectbox("Track", [None, *titles], format_func=lambda t: "all tracks" if t is None else titles[t],
                              key="mis_track")
    people = review.labellers(db)
    labeller = cols[2].selectbox("Labelled by", [None, *people], format_func=lambda p: p or "anyone",
                                 key="mis_labeller")
    out = {"side": None if side == "all" else side, "track_id": track, "labeller": labeller}
    if confidence:
        out["min_confidence"] = cols[3].slider("Min. model confidence", 0.5, 1.0, 0.5, 0.01, key="mis_conf",
                                               help="max(P, 1 − P) of the model's (wrong) prediction")
    return out


def pick(models: list[dict], label: str, key: str, *, index: int = 0) -> int:
    ids = [m["id"] for m in models]
    names = {m["id"]: versions.model_title(m) for m in models}
    return st.selectbox(label, ids, index=min(index, len(ids) - 1), format_func=names.get, key=key)


def split_note(model: dict) -> str:
    split = model["params"].get("split") or {}
    return f"split by track: {len(split.get('test', []))} test tracks held out"


def ranked_table(rows: list[dict], *, score_col: str, key: str) -> None:
    """The ranked rows; selecting one opens it in the review panel below."""
    frame = pd.DataFrame(rows)
    frame["verdict"] = frame["verdict"].map(lambda v: VERDICT_NAMES.get(v, "—"))
    if "side" in frame:  # the active model's split: none before the first model
        frame["side"] = frame["side"].fillna("—")
    frame = clip.with_label_links(frame, id_column="segment_id")
    cols = ["title", "start_s", "verdict", "p_banger", score_col, "side", "reviewed", "segment_id", "label_link"]
    event = st.dataframe(frame[[c for c in cols if c in frame]], hide_index=True, width="stretch",
                         on_select="rerun", selection_mode="single-row", key=key,
                         column_config={"title": "Track", "segment_id": "Segment", "side": "Split side",
                                        "start_s": st.column_config.NumberColumn("Start (s)", format="%.0f"),
                                        "verdict": "Verdict now", "reviewed": "Reviewed",
                                        "confidence": st.column_config.NumberColumn("Model confidence",
                                                                                    format="%.3f"),
                                        "self_confidence": st.column_config.NumberColumn(
                                            "P(label) out of fold", format="%.3f"),
                                        "p_banger": st.column_config.ProgressColumn("P(banger)", min_value=0,
                                                                                    max_value=1, format="%.3f")}
                         | clip.LINK_COLUMN)
    picked = (event or {}).get("selection", {}).get("rows", []) if event else []
    clip.follow_table(STATE, key, rows[picked[0]]["segment_id"] if picked else None)
    if not clip.showing(STATE, {r["segment_id"] for r in rows}):
        # first visit, another list (or page), or the segment left the list: open the top unreviewed
        # row; a segment opened from the panel's strip or its previous / next buttons stays
        unreviewed = [r for r in rows if not r["reviewed"]]
        st.session_state[STATE] = (unreviewed or rows)[0]["segment_id"]


def progress(totals: dict, what: str) -> None:
    done, total = totals["reviewed"], totals["total"]
    st.progress(done / total if total else 1.0, text=f"Reviewed {done} of {total} {what}")


def mistakes(db, models: list[dict]) -> None:
    """The active (or chosen) model's mistakes, histogram on top, then the review panel."""
    left, right = st.columns([3, 1])
    with left:
        model_id = pick(models, "Model", "mis_model",
                        index=next((i for i, m in enumerate(models) if m["active"]), 0))
    threshold = right.number_input("Threshold", 0.0, 1.0, 0.5, 0.05, key="mis_threshold")
    model = next(m for m in models if m["id"] == model_id)
    f = filters(db)
    hist_rows = review.score_histogram(db, model_id, side=f["side"], track_id=f["track_id"], labeller=f["labeller"])
    st.plotly_chart(eval_charts.histogram_figure(*histogram_counts(hist_rows), threshold=threshold,
                                                 split=split_note(model) + f" · showing {SPLITS[f['side'] or 'all']}",
                                                 name="Scores of the filtered labelled segments"),
                    config={"displaylogo": False})
    offset = (st.session_state.get("mis_page", 1) - 1) * PAGE_SIZE
    page = misclassified(home(), model_id, threshold=threshold, limit=PAGE_SIZE, offset=offset, **f)
    if not page["rows"] and offset:  # the filters changed under a later page: back to the first
        st.session_state["mis_page"], offset = 1, 0
        page = misclassified(home(), model_id, threshold=threshold, limit=PAGE_SIZE, **f)
    rows, totals = page["rows"], page
    freshness.note(page["labels"], model=page["model"], key="mis")
    progress(totals, "misclassified segments")
    if not rows:
        st.info("No labelled segment under these filters is misclassified.")
        return
    pages = max(1, -(-totals["total"] // PAGE_SIZE))
    st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, key="mis_page")
    st.caption(f"Most confidently wrong first (lowest P of the label) · {offset + 1}–{offset + len(rows)} "
               f"of {totals['total']}")
    ranked_table(rows, score_col="confidence", key="mis_table")
    review_panel.panel(db, STATE, model_id=model_id)


def histogram_counts(rows: list[dict], *, bins: int = 20) -> tuple[list[float], dict[str, list[int]]]:
    """Bin edges and per-verdict counts from ``db.evaluation.score_histogram`` rows."""
    counts = {BANGER: [0] * bins, NOT_A_BANGER: [0] * bins}
    for r in rows:
        counts[r["verdict"]][r["bin"]] = r["n"]
    return [i / bins for i in range(bins + 1)], counts


def crosscheck_form() -> None:
    """Start a cross-check run in the background (same machinery as Retrain)."""
    with st.form("mis_crosscheck"):
        cols = st.columns(4)
        folds = cols[0].number_input("Folds (k)", 2, 10, CrossCheckConfig.folds, key="mis_cc_folds")
        model = cols[1].selectbox("Model per fold", list(FOLD_MODELS), format_func=FOLD_MODELS.get,
                                  key="mis_cc_model",
                                  help="k-nearest neighbours on the stored features of the active model (before "
                                       "the first model, the default preset's) takes seconds and ranks planted "
                                       "label errors best in our benchmarks; a ConvNet trains k networks (minutes)")
        preset = cols[2].selectbox("ConvNet preset", PRESET_NAMES, index=PRESET_NAMES.index(CrossCheckConfig.preset),
                                   key="mis_cc_preset", help="used when the model is ConvNet")
        epochs = cols[3].number_input("Epochs per fold", 1, 50, CrossCheckConfig.epochs, key="mis_cc_epochs",
                                      help="used when the model is ConvNet")
        if st.form_submit_button("Run cross-check"):
            config = CrossCheckConfig(folds=int(folds), model=model, preset=preset, epochs=int(epochs))
            try:
                run_id = start_crosscheck(home(), config, created_by=review_name())
                st.success(f"Cross-check run {run_id} started in the background.")
            except HaverfordError as exc:
                st.warning(str(exc))


@st.fragment(run_every=2)
def crosscheck_status() -> None:
    """The newest cross-check run's state, re-read from SQLite every 2 s."""
    db = connect()
    jobs.refresh_runs(db)
    run = next(iter(versions.list_runs(db, limit=1, kind="crosscheck")), None)
    freshness.rerun_when_finished("mis_cc_seen", run)
    if run is None or run["status"] not in versions.ACTIVE:
        if run and run["status"] == "failed":
            st.error(f"Cross-check run {run['id']} failed: {run['error']}")
        elif run and run["status"] == "cancelled":
            st.info(f"Cross-check run {run['id']} was cancelled; the list below is from the last one that finished.")
        return
    p = run["progress"] or {}
    done, total = p.get("done", 0), max(1, p.get("total", 1))
    st.progress(min(1.0, done / total), text=f"Cross-check run {run['id']}: {p.get('stage', 'queued')} {done}/{total}")
    if st.button("Cancel cross-check", key=f"mis_cc_cancel_{run['id']}"):
        try:
            jobs.cancel_run(db, run["id"])
        except HaverfordError as exc:
            st.error(str(exc))



def crosscheck(db) -> None:
    """The latest cross-check's ranking of likely label errors."""
    st.caption("k models fitted on folds of whole tracks; each labelled segment is scored only by the model "
               "that never saw its track, and segments whose label gets a low out-of-fold probability "
               "(self-confidence) come first.")
    crosscheck_form()
    crosscheck_status()
    latest = review.latest_crosscheck(db)
    if latest is None:
        newest = next(iter(versions.list_runs(db, limit=1, kind="crosscheck")), None)
        if newest is not None and newest["status"] in versions.ACTIVE:
            return  # its progress is shown above; the list comes when it finishes
        st.info("No cross-check yet: press **Run cross-check** (it fits k models in the background; "
                "with k-nearest neighbours it takes seconds once the features are stored).")
        return
    only = st.toggle("Only segments flagged as label issues", value=True, key="mis_cc_only")
    f = filters(db, confidence=False)  # the cross-check ranks by self-confidence, not the model's
    rows, totals = review.label_issues(db, latest["id"], issues_only=only, limit=PAGE_SIZE, **f)
    st.caption(f"Cross-check run {latest['id']} ({minute(latest['finished_at'])} UTC, {describe(latest['config'])}): "
               f"{latest['scored']} segments scored out of fold, {latest['issues']} flagged · split by track into folds")
    progress(totals, "ranked segments")
    if not rows:
        st.info("Nothing to show under these filters.")
        return
    for r in rows:
        r["label_then"] = BANGER if r["label"] else NOT_A_BANGER
    ranked_table(rows, score_col="self_confidence", key="mis_cc_table")
    review_panel.panel(db, STATE, run_id=latest["id"])


def flips(db, models: list[dict]) -> None:
    """Segments whose verdict changed between two models, and the label edits made in between."""
    if len(models) < 2:
        st.info("Prediction flips need two model versions: retrain once more on the Train page.")
        return
    newer, older = versions.default_pair(models)  # the active model and the previous one of its kind
    left, right = st.columns(2)
    with left:
        a = pick(models, "Older model", "mis_flip_a", index=older)
    with right:
        b = pick(models, "Newer model", "mis_flip_b", index=newer)
    ma, mb = sorted((next(m for m in models if m["id"] == i) for i in (a, b)), key=lambda m: m["created_at"])
    window = {"since": ma["created_at"], "until": mb["created_at"]}
    rows = review.flips(db, ma["id"], mb["id"], **window)
    edits = review.label_edit_count(db, **window)
    st.caption(f"{len(rows)} segments change verdict from model {ma['id']} to model {mb['id']}; "
               f"{edits} verdict answers were given in between (segments with label edits listed first).")
    if rows:
        event = st.dataframe(clip.with_label_links(pd.DataFrame(rows), id_column="segment_id"), hide_index=True,
                             width="stretch", on_select="rerun", selection_mode="single-row", key="mis_flip_table",
                             column_config={"segment_id": "Segment", "track_id": None, "title": "Track", "idx": None,
                                            "start_s": st.column_config.NumberColumn("Start (s)", format="%.0f"),
                                            "p_a": st.column_config.NumberColumn("P(banger), older", format="%.3f"),
                                            "p_b": st.column_config.NumberColumn("P(banger), newer", format="%.3f"),
                                            "verdict": "Verdict now", "label_edits": "Label edits between"}
                             | clip.LINK_COLUMN)
        picked = event.selection.rows if event else []
        clip.follow_table(STATE, "mis_flip_table", rows[picked[0]]["segment_id"] if picked else None)
    with st.expander(f"Label edits between the two models ({edits})"):
        st.dataframe(pd.DataFrame(review.label_edits(db, **window)), hide_index=True, width="stretch")
    if clip.showing(STATE, {r["segment_id"] for r in rows}):
        review_panel.panel(db, STATE, model_id=mb["id"])
    elif rows:
        st.caption("Select a row to open its clip, answers and the newer model's scores.")


def review_name() -> str:
    return (st.session_state.get("app_labeller") or "").strip() or "dashboard"


def main() -> None:
    st.title("Misclassified")
    db = connect()
    models = versions.list_models(db)
    if models:
        mode = st.segmented_control("Show", list(MODES), format_func=MODES.get, default="mistakes",
                                    key="mis_mode") or "mistakes"
    elif catalogue.counts(db)["labelled_segments"] == 0:
        st.info(f"No model yet, and no labelled segments in `{home().path}`: import labelled music with "
                "`haverford ingest PATH...` (folders named `banger` / `not_a_banger`) or label segments on the "
                "Label page; then train a model on the Train page (or `haverford train`), or come back for a "
                "cross-check of the labels.")
        return
    else:  # the cross-check fits its own models: it needs labels, not a trained model
        st.info(f"No model yet in `{home().path}`: train one on the Train page (or `haverford train`) to list "
                "the labelled segments it gets wrong and the verdicts that flip between versions. The cross-check "
                "below needs no model.")
        mode = "crosscheck"
    if mode == "mistakes":
        mistakes(db, models)
    elif mode == "crosscheck":
        crosscheck(db)
    else:
        flips(db, models)


# Streamlit runs a page as __main__; the guard keeps a bare re-import (a forkserver child
# preparing its __main__) from running the page.
if __name__ == "__main__":
    main()
