"""Train page: Retrain in the background, watch it live, tune the ConvNet with Optuna, compare model
versions (ConvNets and the other models each Retrain fits), pick the active one."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from haverford.core import benchmarks, catalogue, jobs, presets, tune, versions
from haverford.core.errors import HaverfordError
from haverford.core.evaluate import freshness, model_name
from haverford.core.features import FEATURES
from haverford.core.vocabulary import DEFAULT_PRESET, PRESET_NAMES, minute
from haverford.dashboard.context import connect, home
from haverford.dashboard.freshness import rerun_when_finished

PRESET_HELP = {"fast": "fast: small ConvNet on log_mel, about two minutes on 2 cores",
               "seed": "seed: the 2018 notebook's 57 M-weight ConvNet on log_stft (slow: ~45 min)",
               "tiny": "tiny: a toy network for trying the pipeline",
               "transfer": "transfer: a head on the pretrained musicnn embedding, computed once per track",
               "transfer-rhythm": "transfer-rhythm (default): transfer with a rhythm summary beside the embedding, so that "
                                  "dance timbre without a beat is not a banger, averaged with a logistic regression; "
                                  "best on real music"}


def curves_figure(rows: list[dict], metric: str) -> go.Figure:
    """Training and validation ``metric`` per epoch as a Plotly line chart."""
    fig = go.Figure()
    epochs = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
    for key, name in ((metric, "training"), (f"val_{metric}", "validation")):
        if rows and key in rows[0]:
            fig.add_trace(go.Scatter(x=epochs, y=[r.get(key) for r in rows], mode="lines+markers", name=name))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), title=metric, xaxis_title="epoch")
    return fig


def curve_rows(curves: dict) -> list[dict]:
    """A model's stored curves (metric → list) as one dict per epoch."""
    n = len(curves.get("loss", []))
    return [{"epoch": i + 1, **{k: v[i] for k, v in curves.items() if i < len(v)}} for i in range(n)]


def preset_title(name: str) -> str:
    """A preset's line in the pickers: the built-in ones explained, saved ones marked as tuned."""
    return PRESET_HELP.get(name, f"{name}: a tuned preset saved from the Tune section")


def retrain_form(db) -> None:
    """Preset and feature choice and the Retrain button (starts a worker process)."""
    names = presets.preset_names(db)
    with st.form("train_retrain"):
        left, right = st.columns(2)
        preset = left.selectbox("Preset", names, index=names.index(DEFAULT_PRESET),
                                format_func=preset_title, key="train_preset")
        feature = right.selectbox("Feature", ["(preset's own)", *FEATURES], key="train_feature")
        if st.form_submit_button("Retrain", type="primary"):
            config = {"preset": preset, "feature": None if feature.startswith("(") else feature, "seed": 0}
            try:
                run_id = jobs.start_run(home(), config, created_by=_who())
                st.success(f"Run {run_id} started in the background; progress below.")
            except HaverfordError as exc:
                st.warning(str(exc))


def benchmark_note() -> None:
    """Which preset and feature won the last leave-one-source-out benchmark on real music."""
    best = benchmarks.winner_summary()
    if best is None:
        st.caption("No leave-one-source-out benchmark on real music is recorded for these presets yet.")
        return
    st.caption(f"{best['text']} Measured on {best['machine']}; see the README's model table.")


@st.fragment(run_every=2)
def live_run() -> None:
    """The latest run, re-read from SQLite every 2 s (works across reloads and browsers)."""
    db = connect()
    jobs.refresh_runs(db)
    runs = versions.list_runs(db, limit=1, kind="train")
    if not runs:
        st.caption("No training run yet.")
        return
    run = runs[0]
    show_run(db, run)
    rerun_when_finished("train_seen", run)



def show_run(db, run: dict) -> None:
    """Status, progress, curves and the cancel button of one run."""
    status = run["status"]
    st.markdown(f"**Run {run['id']}**: {status} · preset `{run['config'].get('preset')}` · "
                f"started by {run['created_by'] or '?'} at {minute(run['created_at'])} UTC")
    progress = run["progress"] or {}
    if status in versions.ACTIVE:
        done, total = progress.get("done", 0), max(1, progress.get("total", 1))
        st.progress(min(1.0, done / total), text=f"{progress.get('stage', 'queued')}: {done}/{total} · epoch {run['epoch'] or 0}")
        if st.button("Cancel run", key=f"train_cancel_{run['id']}"):
            try:
                jobs.cancel_run(db, run["id"])
                st.info("Cancel requested; the run stops at its next batch.")
            except HaverfordError as exc:
                st.error(str(exc))
    elif status == "failed":
        st.error(f"Run failed: {run['error']}")
    elif status == "succeeded":
        st.success(f"Run succeeded: model {run['model_id']} is active and has scored the library.")
    rows = versions.run_metrics(db, run["id"])
    if rows:
        left, right = st.columns(2)
        left.plotly_chart(curves_figure(rows, "loss"), key=f"train_live_loss_{run['id']}_{len(rows)}")
        right.plotly_chart(curves_figure(rows, "accuracy"), key=f"train_live_acc_{run['id']}_{len(rows)}")


def models_table(models: list[dict]) -> pd.DataFrame:
    """One row per model version with its headline metrics (computed when its training finished)."""
    return pd.DataFrame([{
        "Model": m["id"], "Active": bool(m["active"]), "Trained (UTC)": minute(m["created_at"]),
        "By": m["created_by"] or "—", "Kind": model_name(m),
        "Preset": m["preset"], "Feature": m["feature"],
        "Test accuracy": _pct(_accuracy(m["metrics"])), "Majority baseline": _pct(m["metrics"].get("majority_baseline")),
        "Track accuracy": _pct(m["metrics"].get("track_accuracy")),
        "Training segments": m["params"].get("segments", {}).get("train"),
        "Test segments": m["params"].get("segments", {}).get("test"), "Scored segments": m["n_predictions"]}
        for m in models])


def _accuracy(metrics: dict) -> float | None:
    """Test accuracy (``test_accuracy``; models trained before it had that name stored ``accuracy``)."""
    return metrics.get("test_accuracy", metrics.get("accuracy"))


def _computed_against(metrics: dict) -> str:
    """When the stored figures were computed, and whether labels moved while the model trained
    (its training read them at the start; the figures use those at the end)."""
    labels = metrics.get("labels") or {}
    moved = (labels.get("changed_since_training") or 0, labels.get("new_since_training") or 0)
    text = "computed when its training finished, against the labels of that moment"
    if any(moved):
        text += (f" ({moved[0]} verdicts changed and {moved[1]} segments were newly labelled while it trained: "
                 "it did not learn them)")
    return text


def model_card(m: dict, *, side: str) -> None:
    """One model's facts and curves, for the side-by-side comparison."""
    metrics, params = m["metrics"], m["params"]
    st.markdown(f"**{versions.model_title(m)}**")
    cols = st.columns(3)
    cols[0].metric("Test accuracy", _pct(_accuracy(metrics)))
    cols[1].metric("Majority baseline", _pct(metrics.get("majority_baseline")))
    cols[2].metric("Track accuracy", _pct(metrics.get("track_accuracy")))
    auc = metrics.get("roc_auc")
    st.caption(f"Split by track: {metrics.get('test_tracks')} test tracks, {metrics.get('test_segments')} "
               f"segments · ROC AUC {'—' if auc is None else f'{auc:.3f}'} · {_computed_against(metrics)}")
    rows = curve_rows(m["curves"])
    if rows:
        st.plotly_chart(curves_figure(rows, "loss"), key=f"train_cmp_loss_{side}_{m['id']}")
    else:  # core.classic's models are fitted in one go: no epochs, no loss curve
        st.caption("No training curve: this model is fitted in one go, not epoch by epoch.")
    with st.expander("Hyperparameters"):
        st.json(params.get("preset", {}), expanded=False)


def _who() -> str:
    """The name entered in the sidebar, else 'dashboard'."""
    return (st.session_state.get("app_labeller") or "").strip() or "dashboard"


def _pct(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def versions_section(db) -> None:
    """Model versions: the table, a side-by-side comparison and 'make active'."""
    models = versions.list_models(db)
    if not models:
        st.info("No model yet: press **Retrain** (or run `haverford train`).")
        return
    active = next((m for m in models if m["active"]), None)
    if active is not None:
        labels = freshness(db, active)
        (st.warning if labels.stale else st.caption)(f"Active model {active['id']}: figures below were computed "
                                                     f"when it was trained; evaluated now, {labels.text}.")
    st.dataframe(models_table(models), hide_index=True, width="stretch")
    st.caption("Accuracies are on held-out test tracks: the split is by track, never by segment.")
    ids = [m["id"] for m in models]
    by_id = {m["id"]: m for m in models}
    left, right = st.columns(2)
    first, second = versions.default_pair(models) if len(models) > 1 else (0, 0)
    a = left.selectbox("Compare model", ids, index=first, key="train_cmp_a",
                       format_func=lambda i: versions.model_title(by_id[i]))
    b = right.selectbox("with model", ids, index=second, key="train_cmp_b",
                        format_func=lambda i: versions.model_title(by_id[i]))
    with left:
        model_card(by_id[a], side="a")
    with right:
        model_card(by_id[b], side="b")
    choice = st.selectbox("Make active", ids, key="train_activate_choice",
                          format_func=lambda i: versions.model_title(by_id[i]))
    if st.button("Make active", key="train_activate"):
        try:
            versions.activate(db, choice)
        except HaverfordError as exc:
            st.error(str(exc))
            return
        st.session_state["train_flash"] = f"Model {choice} is now active."
        st.rerun()  # the table above shows the new active model


# --- tuning --------------------------------------------------------------------------------------

def tune_form(db) -> None:
    """Base preset, time budget and trials, and the Tune button (starts a worker process)."""
    with st.form("train_tune"):
        cols = st.columns(3)
        preset = cols[0].selectbox("Preset to tune", presets.preset_names(db), index=PRESET_NAMES.index(DEFAULT_PRESET),
                                   format_func=preset_title, key="train_tune_preset")
        minutes = cols[1].number_input("Time budget (minutes)", min_value=1.0, max_value=24 * 60.0, value=10.0,
                                       step=5.0, key="train_tune_minutes")
        trials = cols[2].number_input("Trials (0: as many as fit)", min_value=0, max_value=1000, value=0,
                                      key="train_tune_trials")
        if st.form_submit_button("Tune", help="Searches learning rate, filters, dense width, dropout and augmentation; "
                                              "each trial is scored on the validation tracks, never the test tracks"):
            config = tune.TuneConfig(preset=preset, minutes=float(minutes), trials=int(trials) or None)
            try:
                run_id = tune.start_tune(home(), config, created_by=_who())
                st.success(f"Tuning run {run_id} started in the background; progress below.")
            except HaverfordError as exc:
                st.warning(str(exc))


@st.fragment(run_every=3)
def live_tuning() -> None:
    """The latest tuning run and its study, re-read every 3 s: trials, best value, Optuna's charts."""
    db = connect()
    jobs.refresh_runs(db)
    runs = versions.list_runs(db, limit=1, kind=tune.KIND)
    if not runs:
        st.caption("No tuning run yet.")
        return
    run = runs[0]
    preset = run["config"].get("preset", DEFAULT_PRESET)
    show_tune_run(db, run)
    report, figures = tune.tuning_status(home(), preset)
    if report is None:
        return
    show_study(report, figures, key=f"{run['id']}_{report['trials']}")
    if run["status"] not in versions.ACTIVE and report["best_trial"] is not None:
        save_form(preset, run["id"])


def show_tune_run(db, run: dict) -> None:
    """Status, progress and the cancel button of one tuning run."""
    budget = run["config"].get("minutes")
    st.markdown(f"**Tuning run {run['id']}**: {run['status']} · preset `{run['config'].get('preset')}` · budget "
                f"{'—' if budget is None else f'{budget:g} min'} · started by {run['created_by'] or '?'} at "
                f"{minute(run['created_at'])} UTC")
    progress = run["progress"] or {}
    if run["status"] in versions.ACTIVE:
        done, total = progress.get("done", 0), max(1, progress.get("total", 1))
        st.progress(min(1.0, done / total), text=f"{progress.get('stage', 'queued')}: {done}/{total}")
        if st.button("Cancel tuning", key=f"train_tune_cancel_{run['id']}"):
            jobs.cancel_run(db, run["id"])
            st.info("Cancel requested; the run stops at its next batch (finished trials stay in the study).")
    elif run["status"] == "failed":
        st.error(f"Tuning failed: {run['error']}")


def show_study(report: dict, figures: dict, *, key: str) -> None:
    """Trials so far, the best validation loss and Optuna's own Plotly charts."""
    cols = st.columns(4)
    cols[0].metric("Trials", report["trials"])
    cols[1].metric("Complete / pruned", f"{report['complete']} / {report['pruned']}")
    cols[2].metric("Best validation loss", "—" if report["best_value"] is None else f"{report['best_value']:.4f}")
    acc = report["best_val_accuracy"]
    cols[3].metric("Its validation accuracy", "—" if acc is None else f"{acc:.1%}")
    st.caption(f"Study `{report['study']}` (kept in the data home's tuning.db; a new Tune on this preset resumes "
               "it). Scored on the validation tracks of the stored split: the test tracks stay unseen.")
    if report["best_params"]:
        st.json(report["best_params"], expanded=False)
    for name, fig in figures.items():
        st.plotly_chart(fig, key=f"train_tune_{name}_{key}")


def save_form(preset: str, run_id: int) -> None:
    """Save the study's best trial as a named preset (Retrain then offers it)."""
    with st.form(f"train_tune_save_{run_id}"):
        name = st.text_input("Save the best trial as preset", placeholder=f"{preset}-tuned",
                             key=f"train_tune_name_{run_id}")
        if st.form_submit_button("Save preset"):
            try:
                saved = tune.save_best(home(), preset, name.strip(), created_by=_who())
            except HaverfordError as exc:
                st.error(str(exc))
                return
            st.session_state["train_flash"] = f"Preset {saved.name!r} saved: Retrain offers it now."
            st.rerun(scope="app")


st.title("Train")
db = connect()
counts = catalogue.counts(db)
if counts["labelled_segments"] == 0:
    st.info(f"The library at `{home().path}` has no labelled segments yet. Import labelled music with "
            "`haverford ingest PATH...` (folders named `banger` / `not_a_banger`), label segments on "
            "the Label page, or build the demo library with `haverford demo`; then come back to Retrain.")
    st.stop()
st.caption(f"{counts['labelled_segments']} labelled segments in {counts['tracks']} tracks. "
           "Retrain splits by track (70% train, 10% validation, 20% test; a track keeps its side).")
if st.session_state.get("train_flash"):
    st.success(st.session_state.pop("train_flash"))
retrain_form(db)
benchmark_note()
live_run()
st.subheader("Tune the ConvNet")
tune_form(db)
live_tuning()
st.subheader("Model versions")
versions_section(db)
