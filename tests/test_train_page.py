"""The Train page under AppTest: empty library, Retrain refused while a run goes, model versions."""

from pathlib import Path

import pytest
from _train_home import copy_home
from streamlit.testing.v1 import AppTest

from haverford.core.config import HOME_ENV
from haverford.core.home import Home
from haverford.core.jobs import create_run
from haverford.db import models as models_db
from haverford.db import runs as runs_db

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "dashboard" / "views" / "train.py")
APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture
def home(small_train_template, tmp_path, monkeypatch):
    h = copy_home(small_train_template, tmp_path)
    monkeypatch.setenv(HOME_ENV, str(h.path))
    return h


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_empty_library_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "empty"))
    at = run_page()
    assert "no labelled segments" in at.info[0].value and "haverford demo" in at.info[0].value


def test_page_registered_in_the_app(home):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/train.py")
    at.run()
    assert not at.exception and at.title[0].value == "Train"


def test_retrain_refused_while_a_run_is_going(home):
    going = create_run(home, {"preset": "tiny"}, created_by="other browser")
    at = run_page()
    assert any(f"Run {going}" in m.value for m in at.markdown)
    at.button[0].click().run()  # the form's Retrain button
    assert any(f"already going (run {going})" in w.value for w in at.warning)


def test_cancel_button_requests_cancel(home):
    going = create_run(home, {"preset": "tiny"}, created_by="x")
    at = run_page()
    cancel = next(b for b in at.button if b.label == "Cancel run")
    cancel.click().run()
    assert runs_db.cancel_requested(home.connect(), going)


def test_a_single_model_compares_with_itself(home):
    db = home.connect()
    only = models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "labels_hash": "x",
                                       "curves": {"loss": [0.5]}, "metrics": {"test_accuracy": 0.9}})
    models_db.activate(db, only)
    at = run_page()
    assert at.selectbox(key="train_cmp_a").value == at.selectbox(key="train_cmp_b").value == only
    assert [m.value for m in at.metric if m.label == "Test accuracy"] == ["90.0%", "90.0%"]


def test_models_listed_compared_and_activated(home):
    db = home.connect()
    ids = [models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "labels_hash": "abc" * 5,
                                       "params": {"segments": {"train": 10, "test": 4}},
                                       "curves": {"loss": [0.7, 0.5], "val_loss": [0.8, 0.6],
                                                  "accuracy": [0.5, 0.8], "val_accuracy": [0.5, 0.7]},
                                       "metrics": {"accuracy": 0.75 + i / 10, "majority_baseline": 0.5,
                                                   "track_accuracy": 1.0, "split": "by track",
                                                   "labels": {"changed_since_training": 3 * i, "new_since_training": 0}}})
           for i in range(2)]
    models_db.activate(db, ids[1])
    at = run_page()
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 2
    assert any("split is by track" in c.value for c in at.caption)
    cards = [c.value for c in at.caption if "computed when its training finished" in c.value]
    assert len(cards) == 2  # the second model's verdicts moved while it trained, and its card says so
    assert sum("3 verdicts changed and 0 segments were newly labelled while it trained" in c for c in cards) == 1
    at.selectbox(key="train_activate_choice").select(ids[0]).run()
    next(b for b in at.button if b.label == "Make active").click().run()
    assert not at.exception
    assert models_db.active_model(Home(home.path).connect())["id"] == ids[0]


def fake_study(home, values=(0.6, 0.4, 0.5)):
    """A tiny preset's study with finished trials, written without training, and its finished run."""
    import optuna

    from haverford.core import tune
    from haverford.core.presets import PRESETS

    study = tune.open_study(home, PRESETS["tiny"], seed=0)
    for i, value in enumerate(values):
        params = {"learning_rate": 1e-2, "filters_1": 8, "filters_2": 16, "dense": 32, "dropout": 0.1 * i,
                  "augment": 0.2}
        distributions = {
            "learning_rate": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True),
            "filters_1": optuna.distributions.CategoricalDistribution(tune.FILTER_CHOICES),
            "filters_2": optuna.distributions.CategoricalDistribution(tune.FILTER_CHOICES),
            "dense": optuna.distributions.CategoricalDistribution(tune.DENSE_CHOICES),
            "dropout": optuna.distributions.FloatDistribution(0.0, 0.6),
            "augment": optuna.distributions.FloatDistribution(0.0, 1.0)}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=value,
                                                  user_attrs={"val_accuracy": 0.75}))
    run_id, _ = runs_db.create_run(home.connect(), {"preset": "tiny", "trials": 3}, created_by="t", kind="tune")
    runs_db.finish_run(home.connect(), run_id, "succeeded")
    return run_id


def test_tuning_shows_trials_best_value_and_optunas_charts_and_saves_a_preset(home):
    from haverford.core.presets import get_preset

    fake_study(home)
    at = run_page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Trials"] == "3" and metrics["Best validation loss"] == "0.4000"
    assert len(at.get("plotly_chart")) >= 3  # history, parallel coordinates, slices, importances
    at.text_input(key=next(t.key for t in at.text_input if t.label.startswith("Save the best"))).input("tiny-good")
    next(b for b in at.button if b.label == "Save preset").click().run()
    assert not at.exception
    saved = get_preset("tiny-good", db=Home(home.path).connect())
    assert saved.dropout == pytest.approx(0.1) and saved.dense == 32
    assert "tiny-good" in at.selectbox(key="train_preset").options[-1]


def test_tune_refused_while_a_run_is_going(home):
    going = create_run(home, {"preset": "tiny"}, created_by="other browser")
    at = run_page()
    next(b for b in at.button if b.label == "Tune").click().run()
    assert any(f"already going (run {going})" in w.value for w in at.warning)


def test_cancel_tuning_requests_cancel(home):
    going, _ = runs_db.create_run(home.connect(), {"preset": "tiny", "minutes": 5}, created_by="x", kind="tune")
    at = run_page()
    assert any(f"Tuning run {going}" in m.value and "5 min" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Cancel tuning").click().run()
    assert runs_db.cancel_requested(home.connect(), going)


def test_page_names_the_preset_that_won_the_last_benchmark(home, monkeypatch):
    from haverford.core import benchmarks

    recorded = {"variant": "fast", "preset": "fast", "feature": "log_mel", "overrides": {}, "folds": 20,
                "segments": 2435, "tracks": 64, "segment_accuracy": 0.9, "track_accuracy": 0.95,
                "majority_segments": 0.6, "majority_tracks": 0.58, "date": "2026-11-30",
                "machine": "2 cores, AMD EPYC", "command": "python bench/loso_bench.py --home H"}
    monkeypatch.setattr(benchmarks, "load", lambda: [recorded])
    at = run_page()
    note = next(c.value for c in at.caption if "leave-one-source-out" in c.value)
    assert "preset 'fast' on 'log_mel' won with segment accuracy 0.900" in note and "2 cores, AMD EPYC" in note
    monkeypatch.setattr(benchmarks, "load", lambda: [])
    at = run_page()
    assert any("No leave-one-source-out benchmark" in c.value for c in at.caption)


def test_comparisons_open_on_the_active_model_and_the_previous_one_of_its_kind():
    from haverford.core.versions import default_pair

    # newest first: the second Retrain's ConvNet and its three other models, then the first Retrain's
    models = [{"id": 8, "kind": "classic"}, {"id": 7, "kind": "classic"}, {"id": 6, "kind": "classic"},
              {"id": 5, "kind": "convnet", "active": True}, {"id": 4, "kind": "classic"},
              {"id": 3, "kind": "classic"}, {"id": 2, "kind": "classic"}, {"id": 1, "kind": "convnet"}]
    assert [models[i]["id"] for i in default_pair(models)] == [5, 1]
    assert [models[i]["id"] for i in default_pair(models[:4])] == [5, 8]  # no earlier ConvNet: the newest other
    models[3]["active"] = False
    assert [models[i]["id"] for i in default_pair(models)] == [8, 7]  # nothing active: the newest and its kind
