"""The Train page under AppTest: empty library, Retrain refused while a run goes, model versions."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from _train_home import copy_home
from haverford.core.config import HOME_ENV
from haverford.core.jobs import create_run
from haverford.core.home import Home
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
    models_db.activate(db, models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "labels_hash": "x",
                                                        "curves": {"loss": [0.5]}, "metrics": {"accuracy": 0.9}}))
    run_page()


def test_models_listed_compared_and_activated(home):
    db = home.connect()
    ids = [models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "labels_hash": "abc" * 5,
                                       "params": {"segments": {"train": 10, "test": 4}},
                                       "curves": {"loss": [0.7, 0.5], "val_loss": [0.8, 0.6],
                                                  "accuracy": [0.5, 0.8], "val_accuracy": [0.5, 0.7]},
                                       "metrics": {"accuracy": 0.75 + i / 10, "majority_baseline": 0.5,
                                                   "track_accuracy": 1.0, "split": "by track"}})
           for i in range(2)]
    models_db.activate(db, ids[1])
    at = run_page()
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 2
    assert any("split is by track" in c.value for c in at.caption)
    at.selectbox(key="train_activate_choice").select(ids[0]).run()
    next(b for b in at.button if b.label == "Make active").click().run()
    assert not at.exception
    assert models_db.active_model(Home(home.path).connect())["id"] == ids[0]


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
