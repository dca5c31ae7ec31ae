"""Background runs: the state machine, one run at a time, cancel, dead workers, activation."""

import os
import signal
import subprocess
import sys
import time

import pytest
from _train_home import copy_home

from haverford.core import jobs
from haverford.core.jobs import RunCancelled, RunGoingError, create_run, execute_run, refresh_runs, start_run
from haverford.core.presets import TrainConfig
from haverford.db import models as models_db
from haverford.db import runs as runs_db

TINY = TrainConfig(preset="tiny")


@pytest.fixture
def home(train_template, tmp_path):
    return copy_home(train_template, tmp_path)


def wait_for(db, run_id, statuses, *, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = runs_db.get_run(db, run_id)
        if run["status"] in statuses:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {run['status']} after {timeout} s")


@pytest.mark.slow
def test_background_run_succeeds_and_activates_its_model(home):
    run_id = start_run(home, TINY, created_by="tester")
    db = home.connect()
    run = wait_for(db, run_id, runs_db.FINISHED)
    assert run["status"] == "succeeded", run["error"]
    assert run["pid"] != os.getpid() and run["created_by"] == "tester"
    metrics = runs_db.run_metrics(db, run_id)
    assert metrics and {"loss", "accuracy", "val_loss"} <= set(metrics[0])
    assert run["epoch"] == len(metrics)
    model = models_db.active_model(db)
    assert model["id"] == run["model_id"] and model["run_id"] == run_id
    assert models_db.prediction_count(db, model["id"]) == models_db.segment_count(db)
    assert run["progress"]["stage"] in ("scoring", "scoring other models")  # the last stage


def test_a_second_run_is_refused_while_one_is_going(home):
    first = create_run(home, TINY, created_by="a")
    with pytest.raises(RunGoingError, match=f"a run is already going \\(run {first}\\)"):
        create_run(home, TINY, created_by="b")


def test_a_failing_run_records_the_error(home):
    run_id = create_run(home, {"preset": "huge"}, created_by="a")
    with pytest.raises(Exception, match="unknown preset"):
        execute_run(home, run_id)
    run = runs_db.get_run(home.connect(), run_id)
    assert run["status"] == "failed" and "unknown preset 'huge'" in run["error"]
    assert run["finished_at"] and models_db.active_model(home.connect()) is None
    create_run(home, TINY, created_by="b")  # a finished run no longer blocks


def test_cancel_stops_the_run_without_a_model(home):
    run_id = create_run(home, TINY, created_by="a")
    db = home.connect()
    assert jobs.cancel_run(db, run_id)
    with pytest.raises(RunCancelled):
        execute_run(home, run_id)
    run = runs_db.get_run(db, run_id)
    assert run["status"] == "cancelled" and models_db.list_models(db) == []
    assert not jobs.cancel_run(db, run_id)  # already finished


def test_cancel_between_epochs(home, monkeypatch):
    """Cancelling after the first epoch stops training and leaves no model behind."""
    run_id = create_run(home, TINY, created_by="a")
    db = home.connect()
    original = jobs.DbReporter.epoch

    def epoch_then_cancel(self, epoch, metrics):
        original(self, epoch, metrics)
        runs_db.request_cancel(db, run_id)

    monkeypatch.setattr(jobs.DbReporter, "epoch", epoch_then_cancel)
    with pytest.raises(RunCancelled):
        execute_run(home, run_id)
    run = runs_db.get_run(db, run_id)
    assert run["status"] == "cancelled" and run["epoch"] in (1, 2)  # next batch heartbeat or epoch end
    assert models_db.list_models(db) == [] and not list(home.models_dir.glob("*.keras"))


def test_a_dead_worker_is_detected(home):
    run_id = create_run(home, TINY, created_by="a")
    db = home.connect()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    runs_db.mark_running(db, run_id, pid=gone.pid)
    assert refresh_runs(db) == [run_id]
    run = runs_db.get_run(db, run_id)
    assert run["status"] == "failed" and f"pid {gone.pid}" in run["error"]


def test_a_silent_worker_is_presumed_dead(home):
    run_id = create_run(home, TINY, created_by="a")
    db = home.connect()
    runs_db.mark_running(db, run_id, pid=os.getpid())
    assert refresh_runs(db) == []
    assert refresh_runs(db, stale_after_s=-1) == [run_id]
    assert "no heartbeat" in runs_db.get_run(db, run_id)["error"]


@pytest.mark.slow
def test_a_sigkilled_worker_is_marked_failed(home):
    run_id = start_run(home, TrainConfig(preset="tiny", epochs=200), created_by="a")
    db = home.connect()
    run = wait_for(db, run_id, ("running",) + runs_db.FINISHED)
    assert run["status"] == "running"
    os.kill(run["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not refresh_runs(db) and time.monotonic() < deadline:
        time.sleep(0.1)
    run = runs_db.get_run(db, run_id)
    assert run["status"] == "failed" and "died" in run["error"]
    assert models_db.active_model(db) is None
    start = create_run(home, TINY, created_by="b")  # the dead run no longer blocks
    assert start > run_id


def test_activation_is_atomic_and_unique(home):
    db = home.connect()
    ids = [models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "params": {}}) for _ in range(3)]
    models_db.activate(db, ids[0])
    models_db.activate(db, ids[2])
    assert [m["id"] for m in models_db.list_models(db) if m["active"]] == [ids[2]]


def test_no_activation_when_the_run_was_already_finished(home):
    db = home.connect()
    old = models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "params": {}})
    models_db.activate(db, old)
    run_id = create_run(home, TINY, created_by="a")
    new = models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "params": {}})
    runs_db.finish_run(db, run_id, "failed", error="presumed dead")
    with pytest.raises(Exception, match="marked finished"):
        jobs._succeed(db, run_id, new)
    assert models_db.active_model(db)["id"] == old
