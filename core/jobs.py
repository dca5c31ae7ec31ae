"""One framework for every background run: start, execute (in the worker), cancel, detect dead workers.

A run has a *kind* (``RUN_KINDS``): ``train`` (Retrain), ``crosscheck`` (out-of-fold scores) or
``tune`` (an Optuna search).
The Retrain button calls ``start_run``, which records a queued run and launches
``python -m haverford.core.worker`` as a separate OS process in its own session, so Streamlit's script
thread never trains and closing the browser does not stop the run. The worker writes status,
epochs, curves and a heartbeat to SQLite; any page reads them. ``haverford train`` runs the same
``execute_run`` in the foreground. One run is going at a time, whatever its kind.

A kind's *body* ``body(home, run, reporter) -> summary`` does the work and marks the run
succeeded in the same transaction that stores its results (a new model becomes active only
once it has scored the library); it removes its own half-made results when it fails.
``execute_run`` records the start, a cancel or a failure around it.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from haverford.core.errors import HaverfordError
from haverford.core.home import Home
from haverford.core.roles import require
from haverford.db import models as models_db
from haverford.db import runs as runs_db
from haverford.db import write

STALE_AFTER_S = 180.0  # the longest a healthy worker goes without a heartbeat (TF start, a seed step)
QUEUED_GRACE_S = 60.0
HEARTBEAT_EVERY_S = 0.5


class RunGoingError(HaverfordError):
    """A second run was asked for while one is queued or running."""


class RunCancelled(HaverfordError):
    """Raised inside a run when a user asked to cancel it."""


# kind → "module:function" of its body, imported when a run of that kind executes
RUN_KINDS = {"train": "haverford.core.jobs:train_body", "crosscheck": "haverford.core.crosscheck:run_body",
             "tune": "haverford.core.tune:run_body"}


def start_run(home: Home, config, *, created_by: str | None, kind: str = "train") -> int:
    """Queue a run of ``kind`` and launch its worker process; returns the run id.

    ``config`` is the kind's config object (``TrainConfig``, ``CrossCheckConfig``) or its JSON dict.
    Raises ``AccessDenied`` for anyone but an admin (with accounts on), ``RunGoingError`` while
    another run is going.
    """
    require(home, "train", detail=kind)
    run_id = create_run(home, config, created_by=created_by, kind=kind)
    proc = launch_worker(home, run_id)
    runs_db.set_pid(home.connect(), run_id, proc.pid)
    return run_id


def create_run(home: Home, config, *, created_by: str | None, kind: str = "train") -> int:
    """Record a queued run of ``kind``, refusing while any run is going (after clearing dead ones)."""
    if kind not in RUN_KINDS:
        raise HaverfordError(f"unknown run kind {kind!r}; use one of: {', '.join(RUN_KINDS)}")
    db = home.connect()
    refresh_runs(db)
    data = config if isinstance(config, dict) else config.to_json()
    run_id, going = runs_db.create_run(db, data, created_by=created_by, kind=kind)
    if going is not None:
        raise RunGoingError(f"a run is already going (run {going}); wait for it to finish "
                            f"or cancel it on the Train page")
    assert run_id is not None  # create_run returns an id whenever no run is going
    return run_id


def launch_worker(home: Home, run_id: int) -> subprocess.Popen:
    """Start ``python -m haverford.core.worker`` for ``run_id`` in a new session, output to the home's logs."""
    logs = home.path / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"run-{run_id}.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "haverford.core.worker", "--home", str(home.path),
                                 "--run", str(run_id)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, cwd=home.path)


def cancel_run(db, run_id: int) -> bool:
    """Ask a run to stop at its next batch; False when it had already finished."""
    require(db, "train", detail=f"cancel run {run_id}")
    return runs_db.request_cancel(db, run_id)


# --- dead workers ------------------------------------------------------------------------------

def refresh_runs(db, *, stale_after_s: float = STALE_AFTER_S) -> list[int]:
    """Mark failed the active runs whose worker is gone or silent; returns their ids."""
    failed = []
    for run in _active_runs(db):
        reason = _death_reason(run, stale_after_s=stale_after_s)
        if reason and runs_db.finish_run(db, run["id"], "failed", error=reason):
            failed.append(run["id"])
    return failed


def _active_runs(db) -> list[dict]:
    return [r for r in runs_db.list_runs(db, limit=50) if r["status"] in runs_db.ACTIVE]


def _death_reason(run: dict, *, stale_after_s: float) -> str | None:
    silent = _age_s(run["heartbeat_at"] or run["created_at"])
    if run["pid"] and not pid_alive(run["pid"]):
        return f"the worker process (pid {run['pid']}) died without finishing; see logs/run-{run['id']}.log"
    if silent > stale_after_s:
        return f"no heartbeat from the worker for {silent:.0f} s; it is presumed dead"
    if run["pid"] is None and run["status"] == "queued" and silent > QUEUED_GRACE_S:
        return "the worker never started"
    return None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (reaping it if it is our child)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _age_s(stamp: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(stamp)).total_seconds()


# --- executing a run ---------------------------------------------------------------------------

class DbReporter:
    """Writes a run's progress, epochs and heartbeat to SQLite; raises RunCancelled when asked."""

    def __init__(self, db, run_id: int, *, also=None):
        self.db, self.run_id, self.also, self.last = db, run_id, also, 0.0

    def stage(self, name: str, done: int, total: int) -> None:
        if self.also:
            self.also.stage(name, done, total)
        if time.monotonic() - self.last < HEARTBEAT_EVERY_S and done < total:
            return
        self.last = time.monotonic()
        if runs_db.heartbeat(self.db, self.run_id, progress={"stage": name, "done": done, "total": total}):
            raise RunCancelled(f"run {self.run_id} was cancelled")

    def epoch(self, epoch: int, metrics: dict) -> None:
        if self.also:
            self.also.epoch(epoch, metrics)
        runs_db.record_epoch(self.db, self.run_id, epoch, metrics)
        if runs_db.cancel_requested(self.db, self.run_id):
            raise RunCancelled(f"run {self.run_id} was cancelled")


def execute_run(home: Home, run_id: int, *, reporter=None) -> dict:
    """Execute queued run ``run_id`` with its kind's body, recording start, cancel or failure.

    Returns the run's summary (the CLI's JSON); raises what failed after recording it.
    """
    db = home.connect()
    run = runs_db.get_run(db, run_id)
    if run is None or not runs_db.mark_running(db, run_id, pid=os.getpid()):
        raise HaverfordError(f"run {run_id} is not queued (status: {run and run['status']})")
    reporter = DbReporter(db, run_id, also=reporter)
    try:
        reporter.stage("starting", 0, 1)
        return {"run_id": run_id, **_body(run["kind"])(home, run, reporter)}
    except RunCancelled:
        runs_db.finish_run(db, run_id, "cancelled", error="cancelled by a user")
        raise
    except BaseException as exc:
        runs_db.finish_run(db, run_id, "failed", error=error_text(exc))
        raise


def _body(kind: str):
    module, _, name = RUN_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def train_body(home: Home, run: dict, reporter) -> dict:
    """The ``train`` kind: fit, score the library, activate the model; a failure leaves no model."""
    db = home.connect()
    try:
        summary, model_id = _train_and_score(home, run, reporter=reporter)
        _succeed(db, run["id"], model_id)
        return {"model_id": model_id, **summary}
    except BaseException:
        _discard(home, db, run["id"])
        raise


def _train_and_score(home: Home, run: dict, *, reporter) -> tuple[dict, int]:
    """Train, record the labels used, score the library once, and evaluate from those scores
    with ``core.evaluate`` (the same figures ``haverford evaluate`` and the pages show)."""
    from haverford.core.presets import TrainConfig
    from haverford.core.split import trainable_split

    # before TensorFlow loads (seconds): a library too small to train is told so at once
    trainable_split(home.connect(), seed=TrainConfig.from_json(run["config"]).seed)
    from haverford.core.evaluate import evaluate_model
    from haverford.core.inference import ConvNetScorer
    from haverford.core.predict import score_library
    from haverford.core.train import train

    started = time.perf_counter()
    config = TrainConfig.from_json(run["config"])
    result = train(home, config, reporter=reporter, created_by=run["created_by"])
    db = home.connect()
    model_id = models_db.insert_model(db, {**result.row, "run_id": run["id"]})
    models_db.save_model_labels(db, model_id, _label_rows(result.labels))
    scored = score_library(home, model_id, scorer=ConvNetScorer(result.model, feature=result.row["feature"]),
                           progress=lambda d, t, _: reporter.stage("scoring", d, t))
    others = _other_models(home, run, result, reporter=reporter) if config.other_models else {}
    summary = evaluate_model(home, model_id).summary()
    models_db.set_metrics(db, model_id, summary)
    return {**result.summary, **summary, **others, "scored_segments": scored["segments"],
            "scoring_segments_per_s": scored["segments_per_s"],
            "seconds": round(time.perf_counter() - started, 3)}, model_id


def _other_models(home: Home, run: dict, result, *, reporter) -> dict:
    """Fit the ``core.classic`` models on the ConvNet's training side, store them beside it (inactive),
    score the library with them and store each one's evaluation; returns the seconds it all took."""
    from haverford.core import classic
    from haverford.core.evaluate import evaluate_model

    started = time.perf_counter()
    features = classic.features_for(result.row["feature"])
    classic.prepare_features(home, progress=lambda d, t, _: reporter.stage("features", d, t), features=features)
    fitted = classic.fit_all(home, result.labels, seed=result.row["params"]["seed"], base_row=result.row,
                             progress=lambda d, t: reporter.stage("other models", d, t), features=features)
    db, stored = home.connect(), []
    for f in fitted:
        other_id = models_db.insert_model(db, {**f.row, "run_id": run["id"]})
        models_db.save_model_labels(db, other_id, _label_rows(result.labels))
        stored.append((other_id, f.pipeline))
    classic.score_library(home, stored, progress=lambda d, t: reporter.stage("scoring other models", d, t),
                          features=features)
    for other_id, _ in stored:
        models_db.set_metrics(db, other_id, evaluate_model(home, other_id).summary())
    return {"other_models_seconds": round(time.perf_counter() - started, 3)}


def _label_rows(subsets: dict) -> list[tuple[int, str, str]]:
    """``(segment_id, side, verdict)`` for every segment a model was trained, validated or tested on."""
    from haverford.core.vocabulary import CLASSES

    return [(int(s), side, CLASSES[int(y)]) for side, subset in subsets.items()
            for s, y in zip(subset.segment_ids, subset.labels, strict=False)]


def _succeed(db, run_id: int, model_id: int) -> None:
    """Switch the active model and mark the run succeeded in one transaction."""
    with write(db):
        if not runs_db.finish_run(db, run_id, "succeeded", model_id=model_id):
            raise HaverfordError(f"run {run_id} was marked finished by someone else (presumed dead?)")
        models_db.activate(db, model_id)


def _discard(home: Home, db, run_id: int) -> None:
    """Remove the models (rows, scores and files) a failed or cancelled run had made so far."""
    for row in models_db.run_models(db, run_id):
        models_db.delete_model(db, row["id"])
        if row["path"] and not row["active"]:
            (home.path / row["path"]).unlink(missing_ok=True)


def error_text(exc: BaseException) -> str:
    if isinstance(exc, HaverfordError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"{type(exc).__name__}: {exc}"


def run_in_foreground(home: Home, config, *, created_by: str | None, reporter=None, kind: str = "train") -> dict:
    """``haverford train``: the same run as the Retrain button, in this process."""
    run_id = create_run(home, config, created_by=created_by, kind=kind)
    return execute_run(home, run_id, reporter=reporter)


def worker_main(home: Home, run_id: int) -> int:
    """Body of ``python -m haverford.core.worker``: execute the run; the exit status says how it ended."""
    try:
        execute_run(home, run_id)
    except RunCancelled:
        return 0
    except BaseException:  # noqa: BLE001 - recorded on the run already; full traceback to the log
        traceback.print_exc()
        return 1
    return 0
