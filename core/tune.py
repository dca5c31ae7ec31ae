"""Tuning the ConvNet: an Optuna search over a preset's hyperparameters, run as a background job.

"Plenty of hyperparameters to tune here and even the architecture can be changed" (the 2018
notebook). A tuning run is a ``training_runs`` row of kind ``tune``, executed by
``python -m haverford.core.worker`` like a Retrain (one run of any kind at a time, progress,
heartbeat and cancel through ``core.jobs.DbReporter``). The study lives in SQLite in the data
home (``tuning.db``, Optuna's ``RDBStorage``), one study per base preset, so a later run resumes
it and several workers could share it; Optuna's heartbeat fails (and retries) the trial of a
worker that died.

Each trial trains on the training side of the stored split and is scored by its validation loss
on the *validation tracks* (the best epoch's, as early stopping restores it): the test tracks are
never seen. The search: learning rate (a decade either side of the preset's, log scale), filters
of each conv block, dense width, dropout and augmentation strength (``core.dataset.augment_batch``);
for a head on a stored embedding (``transfer``): learning rate, dense width, dropout, L2 penalty.
Optuna's median pruner stops a trial whose validation loss is worse than the median at the same
epoch. The best trial can be saved as a named preset that Retrain offers (``core.presets``).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from haverford.core import jobs
from haverford.core.errors import HaverfordError, NotFoundError
from haverford.core.home import Home
from haverford.core.presets import Preset, get_preset, save_preset
from haverford.core.roles import require
from haverford.core.split import Subset
from haverford.core.vocabulary import DEFAULT_PRESET, TEST, TRAIN, VALIDATION
from haverford.db import runs as runs_db

KIND = "tune"
STORAGE_FILE = "tuning.db"
DEFAULT_MINUTES = 10.0
FILTER_CHOICES = (8, 16, 32, 64)
DENSE_CHOICES = (8, 16, 32, 64, 128)
DENSE_CHOICES_HEAD = (0, 16, 64)
L2_RANGE = (1e-4, 1e-1)  # Keras' L2 factor on the output layer's kernel
HEARTBEAT_S = 30  # Optuna's trial heartbeat; a trial silent for GRACE_S is failed and retried
GRACE_S = 120


@dataclass(frozen=True)
class TuneConfig:
    """What a tuning run asks for: the base preset, a time budget and/or a number of trials."""

    preset: str = DEFAULT_PRESET
    minutes: float | None = None
    trials: int | None = None
    seed: int = 0

    def budget(self) -> tuple[float | None, int | None]:
        """Seconds and trials for ``study.optimize``; ``DEFAULT_MINUTES`` when neither is set."""
        if self.minutes is None and self.trials is None:
            return DEFAULT_MINUTES * 60, None
        return (None if self.minutes is None else float(self.minutes) * 60), self.trials

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> TuneConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


# --- the study ---------------------------------------------------------------------------------

def study_name(preset: str) -> str:
    """The one study per base preset: later runs on the same preset resume it."""
    return f"tune-{preset}"


def storage(home: Home):
    """Optuna's SQLite storage in the data home (``tuning.db``), with a trial heartbeat."""
    import optuna
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():  # the heartbeat is "experimental" since Optuna 2.9; it is what resuming needs
        warnings.simplefilter("ignore", ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=1)
        return RDBStorage(f"sqlite:///{home.path / STORAGE_FILE}", heartbeat_interval=HEARTBEAT_S,
                          grace_period=GRACE_S, heartbeat_stale_trial_callback=retry,
                          engine_kwargs={"connect_args": {"timeout": 30}})


def open_study(home: Home, base: Preset, *, seed: int):
    """Create the base preset's study, or load it to resume; it remembers the base preset."""
    import optuna

    name, kept = study_name(base.name), storage(home)
    done = next((s.n_trials for s in optuna.get_all_study_summaries(kept) if s.study_name == name), 0)
    # a resumed run draws on from where the last one stopped: with the same seed TPE's first random
    # proposals would repeat the trials the study already holds
    study = optuna.create_study(study_name=name, storage=kept, direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed + done),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2),
                                load_if_exists=True)
    study.set_user_attr("base_preset", base.to_json())
    return study


def load_study(home: Home, name: str):
    """An existing study, or ``NotFoundError`` naming the ones there are."""
    import optuna

    if not (home.path / STORAGE_FILE).exists():
        raise NotFoundError(f"no tuning study yet in {home.path}; run 'haverford tune' or press Tune on the Train page")
    names = [s.study_name for s in optuna.get_all_study_summaries(storage(home))]
    if name not in names:
        raise NotFoundError(f"no tuning study {name!r}; there are: {', '.join(names) or 'none'}")
    return optuna.load_study(study_name=name, storage=storage(home))


def suggest_preset(trial, base: Preset) -> Preset:
    """The search space: ``base`` with a trial's learning rate, dense width and dropout, and, for a
    ConvNet, its filters per block and augmentation strength; a head on a stored embedding (no conv
    blocks: ``transfer``) has no filters and nothing to augment, and searches its L2 penalty
    instead (``DENSE_CHOICES_HEAD`` includes 0: no hidden layer, a logistic regression).
    Given an ``optuna.trial.FixedTrial`` of a trial's params, it rebuilds that trial's preset."""
    lr = trial.suggest_float("learning_rate", base.learning_rate / 10, base.learning_rate * 10, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.6)
    if not base.conv:
        return base.replace(learning_rate=lr, dropout=dropout,
                            dense=trial.suggest_categorical("dense", DENSE_CHOICES_HEAD),
                            l2=trial.suggest_float("l2", L2_RANGE[0], L2_RANGE[1], log=True))
    conv = tuple((trial.suggest_categorical(f"filters_{i + 1}", FILTER_CHOICES), kernel)
                 for i, (_, kernel) in enumerate(base.conv))
    return base.replace(learning_rate=lr, conv=conv, dense=trial.suggest_categorical("dense", DENSE_CHOICES),
                        dropout=dropout, augment=trial.suggest_float("augment", 0.0, 1.0))


def trial_preset(study, trial) -> Preset:
    """The preset a stored trial trained (from the study's base preset and the trial's params)."""
    import optuna

    return suggest_preset(optuna.trial.FixedTrial(trial.params), Preset.from_json(study.user_attrs["base_preset"]))


# --- trials ------------------------------------------------------------------------------------

class TrialReporter:
    """Prefixes stages with the trial, numbers epochs across trials, and reports each epoch's
    validation loss to Optuna, which may prune the trial."""

    def __init__(self, inner, trial, *, first_epoch: int):
        self.inner, self.trial, self.first_epoch, self.last_epoch = inner, trial, first_epoch, first_epoch

    def stage(self, name: str, done: int, total: int) -> None:
        self.inner.stage(f"trial {self.trial.number}: {name}", done, total)

    def epoch(self, epoch: int, metrics: dict) -> None:
        import optuna

        self.last_epoch = self.first_epoch + epoch
        self.inner.epoch(self.last_epoch, {**metrics, "trial": self.trial.number})
        self.trial.report(metrics["val_loss"], epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"validation loss {metrics['val_loss']:.4f} at epoch {epoch}")


def tuning_subsets(home: Home, *, seed: int) -> dict[str, Subset]:
    """Training and validation sides of the stored split; the test side is left empty, never seen."""
    from haverford.core.split import assign_split, labelled_subsets

    db = home.connect()
    subsets = labelled_subsets(db, assign_split(db, seed=seed))
    if len(np.unique(subsets[TRAIN].labels)) < 2 or not len(subsets[VALIDATION]):
        raise HaverfordError(f"tuning needs both verdicts in training and some validation tracks; found "
                             f"{len(subsets[TRAIN])} training and {len(subsets[VALIDATION])} validation segments: "
                             f"label more tracks of each verdict")
    empty = np.zeros(0, dtype=np.int64)
    return {TRAIN: subsets[TRAIN], VALIDATION: subsets[VALIDATION], TEST: Subset(empty, empty, empty)}


def make_objective(home: Home, subsets: dict[str, Subset], base: Preset, *, seed: int, reporter):
    """The function Optuna minimises: a trial's best validation loss on the validation tracks."""
    from haverford.core.train import fit_model

    epochs = {"done": 0}

    def objective(trial) -> float:
        preset = suggest_preset(trial, base)
        trial_reporter = TrialReporter(reporter, trial, first_epoch=epochs["done"])
        try:
            _, curves, _ = fit_model(home, subsets, preset=preset, seed=seed, reporter=trial_reporter)
        finally:
            epochs["done"] = trial_reporter.last_epoch
        best = int(np.argmin(curves["val_loss"]))
        trial.set_user_attr("val_accuracy", curves["val_accuracy"][best])
        trial.set_user_attr("epochs", len(curves["val_loss"]))
        return float(curves["val_loss"][best])

    return objective


def run_tuning(home: Home, config: TuneConfig, *, reporter) -> dict:
    """Open (or resume) the study and run trials until the budget is spent; returns the report."""
    from haverford.core.train import prepare_features

    base = get_preset(config.preset, db=home.connect())
    prepare_features(home, base.feature, reporter=reporter)
    subsets = tuning_subsets(home, seed=config.seed)
    study = open_study(home, base, seed=config.seed)
    before = len(study.trials)
    seconds, trials = config.budget()
    study.optimize(make_objective(home, subsets, base, seed=config.seed, reporter=reporter),
                   n_trials=trials, timeout=seconds, gc_after_trial=True)
    return {**study_report(study), "trials_this_run": len(study.trials) - before}


def study_report(study) -> dict:
    """Trials so far by state, and the best trial's value, params and preset (None before one completes)."""
    from optuna.trial import TrialState

    states = [t.state for t in study.trials]
    out = {"study": study.study_name, "trials": len(states), "complete": states.count(TrialState.COMPLETE),
           "pruned": states.count(TrialState.PRUNED), "failed": states.count(TrialState.FAIL),
           "running": states.count(TrialState.RUNNING), "best_trial": None, "best_value": None,
           "best_params": None, "best_val_accuracy": None, "best_preset": None,
           "base_preset": study.user_attrs.get("base_preset", {}).get("name")}
    if out["complete"]:
        best = study.best_trial
        out.update(best_trial=best.number, best_value=best.value, best_params=best.params,
                   best_val_accuracy=best.user_attrs.get("val_accuracy"),
                   best_preset=trial_preset(study, best).to_json())
    return out


def study_figures(study) -> dict:
    """Optuna's own Plotly charts of a study: history always, parallel coordinates and importances
    once there are enough completed trials for them."""
    from optuna import visualization as vis
    from optuna.trial import TrialState

    complete = sum(t.state == TrialState.COMPLETE for t in study.trials)
    figures = {"history": vis.plot_optimization_history(study)}
    if complete >= 2:
        figures["parallel"] = vis.plot_parallel_coordinate(study)
        figures["slices"] = vis.plot_slice(study)
    if complete >= 3:
        figures["importances"] = vis.plot_param_importances(study)
    return figures


def tuning_status(home: Home, preset: str) -> tuple[dict | None, dict]:
    """The base preset's study report and figures, or ``(None, {})`` before its first run (for the Train page)."""
    try:
        study = load_study(home, study_name(preset))
    except NotFoundError:
        return None, {}
    return study_report(study), study_figures(study)


def save_best(home: Home, preset: str, name: str, *, created_by: str | None) -> Preset:
    """Save the best trial of ``preset``'s study as a new preset called ``name`` (Retrain offers it).

    Raises ``AccessDenied`` for a non-admin (with accounts on), ``NotFoundError`` without a study,
    ``HaverfordError`` before any trial completed or for a bad or taken name.
    """
    require(home, "train", detail=f"save tuned preset {name}")
    study = load_study(home, study_name(preset))
    report = study_report(study)
    if report["best_trial"] is None:
        raise HaverfordError(f"tuning study {study.study_name!r} has no completed trial yet; let it run longer")
    source = (f"Optuna study {study.study_name} trial {report['best_trial']}: validation loss "
              f"{report['best_value']:.4f} on the validation tracks")
    best = Preset.from_json(report["best_preset"]).replace(description=f"tuned from {preset}: {source}")
    return save_preset(home.connect(), name, best, source=source, created_by=created_by)


# --- the run -----------------------------------------------------------------------------------

def check_config(home: Home, config: TuneConfig) -> None:
    """Refuse an unknown preset or a budget that is not positive, before anything starts."""
    get_preset(config.preset, db=home.connect())
    if config.minutes is not None and not (math.isfinite(config.minutes) and config.minutes > 0):
        raise HaverfordError(f"--minutes must be a number of minutes more than 0, got {config.minutes:g}")
    if config.trials is not None and config.trials < 1:
        raise HaverfordError(f"--trials must be at least 1, got {config.trials}")


def create_tune(home: Home, config: TuneConfig, *, created_by: str | None) -> int:
    """Record a queued tuning run, refusing while any run (Retrain, cross-check, tuning) is going."""
    check_config(home, config)
    return jobs.create_run(home, config, created_by=created_by, kind=KIND)


def start_tune(home: Home, config: TuneConfig, *, created_by: str | None) -> int:
    """Queue a tuning run and launch its worker process (the one job framework); returns the run id."""
    check_config(home, config)
    return jobs.start_run(home, config, created_by=created_by, kind=KIND)


def execute_tune(home: Home, run_id: int, *, reporter=None) -> dict:
    """Run a queued tuning run in this process (``jobs.execute_run``); returns its report."""
    return jobs.execute_run(home, run_id, reporter=reporter)


def run_body(home: Home, run: dict, reporter) -> dict:
    """The ``tune`` run kind: the Optuna search, its report stored with the run's success."""
    started = time.perf_counter()
    report = run_tuning(home, TuneConfig.from_json(run["config"]), reporter=reporter)
    report = {**report, "run_id": run["id"], "storage": str(home.path / STORAGE_FILE),
              "seconds": round(time.perf_counter() - started, 3)}
    db = home.connect()
    runs_db.heartbeat(db, run["id"], progress={"stage": "done", "done": 1, "total": 1, "report": report})
    runs_db.finish_run(db, run["id"], "succeeded")
    return report


def run_in_foreground(home: Home, config: TuneConfig, *, created_by: str | None, reporter=None) -> dict:
    """``haverford tune``: the same run as the Tune button, in this process."""
    return execute_tune(home, create_tune(home, config, created_by=created_by), reporter=reporter)
