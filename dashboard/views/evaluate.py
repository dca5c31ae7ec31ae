"""Evaluate page: a model on the test tracks it held out, its curves, and the baselines beside it."""

import pandas as pd
import streamlit as st

from haverford.core import catalogue, versions
from haverford.core.agreement import change_stamp
from haverford.core.errors import HaverfordError
from haverford.core.evaluate import Evaluation, evaluate_model
from haverford.core.metrics import curves
from haverford.core.vocabulary import VERDICT_NAMES
from haverford.dashboard import clip, eval_charts, freshness
from haverford.dashboard.context import connect, home

PLOTLY = {"displaylogo": False}


@st.cache_data(max_entries=8, show_spinner="Evaluating on the held-out test tracks…")
def load(model_id: int, stamp: tuple) -> Evaluation:
    """The evaluation at 0.5 (``stamp`` changes when labels or the model's scores change)."""
    return evaluate_model(home(), model_id)


@st.cache_data(max_entries=8, show_spinner=False)
def load_curves(model_id: int, stamp: tuple) -> dict:
    """ROC, PR, calibration and histograms: threshold-free, computed once per evaluation."""
    ev = load(model_id, stamp)
    return curves(ev.labels, ev.pred_probs)


def pick_model(models: list[dict]) -> int:
    """The model selector, the active model first."""
    ids = [m["id"] for m in models]
    active = next((m["id"] for m in models if m["active"]), ids[0])
    labels = {m["id"]: versions.model_title(m) for m in models}
    return st.selectbox("Model", ids, index=ids.index(active), format_func=labels.get, key="eval_model")


def headline(ev: Evaluation) -> None:
    """The six metrics, with the split beside them."""
    m = ev.metrics
    cols = st.columns(6)
    for col, (name, value) in zip(cols, [("Accuracy", m.accuracy), ("Balanced accuracy", m.balanced_accuracy),
                                         ("Precision", m.precision), ("Recall", m.recall), ("F1", m.f1),
                                         ("ROC AUC", m.roc_auc)], strict=False):
        col.metric(name, shown(value))
    st.caption(f"Segment-level, banger = positive class, threshold {ev.threshold:.2f} · {ev.split.text}"
               + (f" · {ev.split.unscored_segments} unscored test segments left out" if ev.split.unscored_segments else ""))



def operating_point(confusion: list[list[int]]) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """(fpr, tpr) for the ROC plot and (recall, precision) for the PR plot at the current threshold."""
    (tn, fp), (fn, tp) = confusion
    roc = (fp / (fp + tn), tp / (tp + fn)) if (fp + tn) and (tp + fn) else None
    pr = (tp / (tp + fn), tp / (tp + fp)) if (tp + fn) and (tp + fp) else None
    return roc, pr


def figures(ev: Evaluation, c: dict) -> None:
    """Confusion matrix, ROC, PR, reliability diagram and score histograms."""
    split = ev.split.text
    roc_point, pr_point = operating_point(ev.metrics.confusion)
    top = st.columns(3)
    top[0].plotly_chart(eval_charts.confusion_figure(ev.metrics.confusion, split=split), config=PLOTLY)
    top[1].plotly_chart(eval_charts.roc_figure(c["roc"], point=roc_point, auc=ev.metrics.roc_auc, split=split),
                        config=PLOTLY)
    top[2].plotly_chart(eval_charts.pr_figure(c["pr"], point=pr_point, base_rate=float(ev.labels.mean()),
                                              split=split), config=PLOTLY)
    bottom = st.columns(2)
    bottom[0].plotly_chart(eval_charts.reliability_figure(c["calibration"], split=split), config=PLOTLY)
    h = c["histogram"]
    bottom[1].plotly_chart(eval_charts.histogram_figure(h["edges"], h, threshold=ev.threshold, split=split),
                           config=PLOTLY)
    if not c["roc"]["fpr"]:
        st.caption("ROC, precision-recall and calibration need both verdicts among the test segments.")


def first_segment(db, track_id: int) -> int:
    """The segment a track's Label link opens: its first audible one (its first if all are silent)."""
    return (catalogue.segment_ids(db, track_id, audible_only=True) or catalogue.segment_ids(db, track_id))[0]


def tracks_table(db, ev: Evaluation, titles: dict[int, str]) -> None:
    """Per-track verdicts from the mean segment score, each row with a link to the track on the Label page."""
    t = ev.track_metrics
    st.subheader("Per track")
    st.caption(f"A track's verdict is banger when its segments' mean P(banger) ≥ {ev.threshold:.2f}; its label is "
               f"the majority of its segments' labels · {ev.split.text} · track accuracy "
               f"{shown(t.accuracy)} on {t.n} tracks")
    frame = pd.DataFrame([{**r, "title": titles.get(r["track_id"], "?"), "label": VERDICT_NAMES.get(r["label"], "tie"),
                           "predicted": VERDICT_NAMES[r["predicted"]],
                           "correct": "—" if r["correct"] is None else ("yes" if r["correct"] else "no")}
                          for r in ev.tracks])
    if len(frame):
        frame = clip.with_label_links(frame.assign(segment_id=[first_segment(db, t) for t in frame["track_id"]]),
                                      id_column="segment_id")
    columns = ["title", "segments", "label", "predicted", "correct", "mean_p_banger", "banger_share", "label_link"]
    st.dataframe(frame[[c for c in columns if c in frame]],
                 hide_index=True, width="stretch",
                 column_config={**clip.LINK_COLUMN, "title": "Track", "segments": "Test segments",
                                "label": "Label (segments' majority)",
                                "predicted": "Model's verdict", "correct": "Right?",
                                "mean_p_banger": st.column_config.NumberColumn("Mean P(banger)", format="%.3f"),
                                "banger_share": st.column_config.NumberColumn("Banger segments", format="percent")})


def baselines_table(ev: Evaluation) -> None:
    """Majority class, Haverford's algorithm, each labeller, the other models of the same Retrain and
    the evaluated model on the same tracks."""
    st.subheader("Baselines on the same test tracks")
    st.caption(f"{ev.split.text}. Haverford's algorithm runs each labeller's answers through the rules on the "
               "Questions page and takes the majority; it only counts segments whose answers are complete. "
               "Logistic regression, the linear SVM and k-nearest neighbours are fitted by every Retrain on the "
               "same training tracks, on a pooled summary of stored features (the model's own embedding input "
               "when it reads one, musicnn or musicnn+rhythm, else the per-band mean and spread of log_mel "
               "and percussive_mel); make one active "
               "on the Train page to use it for predictions and Misclassified.")
    st.dataframe(baselines_frame(ev.baselines), hide_index=True, width="stretch",
                 column_config={"name": "Model or baseline", "segments": "Segments", "tracks": "Tracks",
                                "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "f1": "F1 (banger)",
                                "roc_auc": "ROC AUC", "track_accuracy": "Track accuracy", "fit_seconds": "Fit (s)",
                                "model_id": "Model", "note": "How"})


def shown(value, spec: str = ".3f") -> str:
    """A figure as the page shows it (``format`` spec; "d" for a count), "—" when there is none."""
    if value is None or pd.isna(value):
        return "—"
    return format(int(value) if spec == "d" else value, spec)


# the format of each figure of the baselines table; a row may lack some (the majority class has
# no ROC AUC, a labeller no fit time, model or track count)
BASELINE_SPECS = {"segments": "d", "tracks": "d", "accuracy": ".3f", "balanced_accuracy": ".3f", "f1": ".3f",
                  "roc_auc": ".3f", "track_accuracy": ".3f", "fit_seconds": ".2f", "model_id": "d"}


def baselines_frame(rows: list[dict]) -> pd.DataFrame:
    """The baselines rows as the table shows them: figures as text (``shown``)."""
    frame = pd.DataFrame(rows)
    for column, spec in BASELINE_SPECS.items():
        if column in frame:
            frame[column] = [shown(v, spec) for v in frame[column].astype(object)]
    return frame


def stamp(db, model_id: int) -> tuple:
    """Changes whenever labels, questions or this model's scores change."""
    return (*change_stamp(db), versions.prediction_count(db, model_id))


def main() -> None:
    st.title("Evaluate")
    db = connect()
    models = versions.list_models(db)
    if not models:
        st.info(f"No model yet in `{home().path}`. Label some music (or run `haverford demo`), then train one "
                "on the Train page or with `haverford train`; its evaluation on held-out test tracks shows here.")
        return
    model_id = pick_model(models)
    try:
        key = stamp(db, model_id)
        base = load(model_id, key)
    except HaverfordError as exc:
        st.warning(str(exc))
        return
    threshold = st.slider("Decision threshold: banger when P(banger) ≥", 0.0, 1.0, 0.5, 0.01, key="eval_threshold")
    ev = base if threshold == base.threshold else base.at(threshold)
    headline(ev)
    freshness.note(ev.freshness, model=next(m for m in models if m["id"] == model_id), key="eval")
    figures(ev, load_curves(model_id, key))
    baselines_table(ev)
    tracks_table(db, ev, catalogue.track_titles(db))


# Streamlit runs a page as __main__; the guard keeps a bare re-import (a forkserver child
# preparing its __main__) from running the page.
if __name__ == "__main__":
    main()
