"""Killing the training worker at random moments never corrupts the library or its models."""

import contextlib
import os
import random
import signal
import time

import pytest
from _train_home import copy_home

from haverford.core import jobs
from haverford.core.inference import load_model
from haverford.core.presets import TrainConfig
from haverford.db import models as models_db
from haverford.db import runs as runs_db

# where to aim the kill, once each, at a random moment inside the stage: while queued, while Python
# and TensorFlow start, during training, while evaluating, while scoring the library
STAGES = ("queued", "starting", "training", "evaluating", "scoring")


def _reached(run: dict, stage: str) -> bool:
    current = "queued" if run["status"] == "queued" else (run["progress"] or {}).get("stage", "starting")
    current = current.split(" (")[0]  # "features (musicnn)": the feature computed before training
    order = ("queued", "starting", "features", "training", "evaluating", "scoring")
    return run["status"] in runs_db.FINISHED or order.index(current) >= order.index(stage)


def wait_until(predicate, *, timeout=120.0, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_a_sigkill_at_each_stage_of_a_run(train_template, tmp_path):
    home = copy_home(train_template, tmp_path)
    first = jobs.run_in_foreground(home, TrainConfig(preset="tiny"), created_by="setup")
    db = home.connect()
    rng = random.Random(0)
    moments = []
    for stage in STAGES:
        before = models_db.active_model(db)["id"]
        run_id = jobs.start_run(home, TrainConfig(preset="tiny", epochs=4), created_by="victim")
        wait_until(lambda run_id=run_id, stage=stage: _reached(runs_db.get_run(db, run_id), stage),
                   timeout=300, every=0.01)
        time.sleep(rng.uniform(0.0, 0.5))
        run = runs_db.get_run(db, run_id)
        moments.append((run["status"], (run["progress"] or {}).get("stage"), run["epoch"]))
        if run["pid"]:
            _kill_group(run["pid"])
        pid = run["pid"]
        wait_until(lambda pid=pid: not jobs.pid_alive(pid) if pid else True)
        jobs.refresh_runs(db, stale_after_s=0.0 if run["pid"] is None else jobs.STALE_AFTER_S)
        run = runs_db.get_run(db, run_id)
        active = models_db.active_model(db)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if run["status"] == "succeeded":  # the kill came after the run had finished
            assert active["id"] == run["model_id"]
        else:
            assert run["status"] == "failed", run
            assert active["id"] == before, "a killed run must not switch the active model"
        assert load_model(home, active) is not None
        assert models_db.prediction_count(db, active["id"]) == models_db.segment_count(db)
    # the library still trains after the kills (in this process: a worker's start was tested above)
    final = jobs.run_in_foreground(home, TrainConfig(preset="tiny"), created_by="after")
    assert runs_db.get_run(db, final["run_id"])["status"] == "succeeded"
    assert models_db.active_model(db)["id"] == final["model_id"]
    print(f"\nkill points (status, stage, epoch): {moments}; first model {first['model_id']}")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # the worker leads its own session
