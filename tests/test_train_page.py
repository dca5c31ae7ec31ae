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
