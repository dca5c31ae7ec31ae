"""The training job: fit the preset's ConvNet on the training side of the stored split and save
it. ``core.jobs`` records it as a run, scores the library with it and evaluates it with
``core.evaluate`` (one metrics path for the Retrain summary, the pages and the CLI).
"""

from __future__ import annotations

import functools
import math
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from haverford.core.quiet import import_tensorflow_quietly

import_tensorflow_quietly()  # no native start-up chatter on stderr

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from haverford.core import features as features_mod  # noqa: E402
from haverford.core.dataset import SegmentBatches, balanced_weights, feature_stats  # noqa: E402
from haverford.core.errors import HaverfordError  # noqa: E402
from haverford.core.home import Home  # noqa: E402
from haverford.core.model import MEMBER_INPUT, build_model, compile_model, inference_batch_size, with_logistic_member  # noqa: E402
from haverford.core.presets import Preset, TrainConfig  # noqa: E402
from haverford.core.split import Subset, labels_hash, trainable_split  # noqa: E402
from haverford.core.vocabulary import BANGER, CLASSES, SIDES, TEST, TRAIN, VALIDATION  # noqa: E402
from haverford.db import tracks as tracks_db  # noqa: E402


class Reporter(Protocol):
    """What the training job tells its caller (the worker writes it to SQLite, the CLI to tqdm)."""

    def stage(self, name: str, done: int, total: int) -> None:
        """Progress within a stage (``features``, ``training``, ``evaluating``, ``scoring``); may raise to stop the run."""

    def epoch(self, epoch: int, metrics: dict) -> None:
        """Metrics at the end of an epoch (1-based)."""


class SilentReporter:
    """A reporter that reports nothing."""

    def stage(self, name: str, done: int, total: int) -> None:
        pass

    def epoch(self, epoch: int, metrics: dict) -> None:
        pass




@dataclass
class TrainResult:
    """A trained model file and the row that describes it (``models`` columns)."""

    row: dict
    summary: dict = field(default_factory=dict)
    model: keras.Model | None = None  # the fitted model, so the job scores without reloading it
    labels: dict[str, Subset] = field(default_factory=dict)  # the labels it was trained and tested on


# --- the split ---------------------------------------------------------------------------------









# --- data ------------------------------------------------------------------------------------













# --- fitting ---------------------------------------------------------------------------------

class _ReportProgress(keras.callbacks.Callback):
    """Forwards batches and epochs to the reporter (which may raise to stop between batches)."""

    def __init__(self, reporter: Reporter, *, total_steps: int):
        super().__init__()
        self.reporter, self.total_steps, self.step = reporter, total_steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.reporter.stage("training", self.step, self.total_steps)

    def on_epoch_end(self, epoch, logs=None):
        self.reporter.epoch(epoch + 1, {k: float(v) for k, v in (logs or {}).items()})


def fit(model: keras.Model, train: SegmentBatches, validation: SegmentBatches | None, *,
        preset: Preset, reporter: Reporter) -> dict[str, list[float]]:
    """Fit with early stopping on validation loss (best weights restored); returns the curves."""
    epochs = math.ceil(preset.steps / len(train)) if preset.steps else preset.epochs
    callbacks: list = [_ReportProgress(reporter, total_steps=epochs * len(train))]
    if preset.patience:
        monitor = "val_loss" if validation is not None else "loss"
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=preset.patience,
                                                       restore_best_weights=True))
    history = model.fit(train, validation_data=validation, epochs=epochs, callbacks=callbacks, verbose=0)
    return {k: [float(v) for v in values] for k, values in history.history.items()}






# --- evaluation ------------------------------------------------------------------------------





# --- the job ---------------------------------------------------------------------------------

def prepare_features(home: Home, feature: str, *, reporter: Reporter) -> None:
    """Compute ``feature`` for every track that lacks it (e.g. ``log_stft`` for the seed preset;
    each part of joined embeddings such as ``musicnn+rhythm``)."""
    from haverford.core.ingest import compute_missing

    for part in features_mod.parts(feature):
        if tracks_db.tracks_missing_feature(home.connect(), part):
            report = compute_missing(home, part, progress=functools.partial(_feature_progress, reporter, part))
            if report.errors and not report.track_ids:
                raise HaverfordError(f"could not compute {part}: {report.errors[0]['error']}")


def _feature_progress(reporter: Reporter, part: str, done: int, total: int, _item: str) -> None:
    """A feature computed before training, as a stage named after it ("features (musicnn)")."""
    reporter.stage(f"features ({part})", done, total)


def train(home: Home, config: TrainConfig, *, reporter: Reporter | None = None,
          created_by: str | None = None) -> TrainResult:
    """Fit and save the model; returns the ``models`` row (not inserted) and the job's summary.

    The summary holds what training knows (sizes, preset, seconds); the test figures are added
    by ``core.jobs`` from ``core.evaluate`` once the library is scored.
    """
    reporter = reporter or SilentReporter()
    started = time.perf_counter()
    db = home.connect()
    preset = config.resolved(db=db)
    sides, subsets, excluded = trainable_split(db, seed=config.seed)  # before the features: too small is said at once
    labels_read_at = datetime.now(UTC).isoformat(timespec="milliseconds")  # the moment its labels are from
    prepare_features(home, preset.feature, reporter=reporter)
    fit_started = time.perf_counter()
    model, curves, norm = fit_model(home, subsets, preset=preset, seed=config.seed, reporter=reporter)
    fit_seconds = round(time.perf_counter() - fit_started, 3)
    path = save_model(model, home)
    seconds = round(time.perf_counter() - started, 3)
    row = _model_row(config, preset, subsets, sides, curves=curves, norm=norm, path=path,
                     excluded=excluded, created_by=created_by, seconds=seconds)
    row["params"]["fit_seconds"] = fit_seconds
    row["params"]["labels_read_at"] = labels_read_at
    return TrainResult(row=row, summary=_summary(preset, subsets, seconds), model=model,
                       labels=subsets)


def fit_model(home: Home, subsets: dict[str, Subset], *, preset: Preset, seed: int, reporter: Reporter):
    """Seed everything with ``seed``, build the preset's model and fit it on ``subsets``.

    Returns the fitted model, its curves and the input normalisation; used by Retrain and by
    each fold of the cross-check.
    """
    keras.utils.set_random_seed(seed)
    shape = features_mod.get_feature(preset.feature).shape
    train_batches = SegmentBatches(home, subsets[TRAIN], feature=preset.feature,
                                   batch_size=preset.batch_size, seed=seed,
                                   weights=balanced_weights(subsets[TRAIN].labels), augment=preset.augment,
                                   steps_per_epoch=preset.steps_per_epoch if preset.steps else None)
    norm = feature_stats(train_batches)
    with tf.distribute.get_strategy().scope():
        model = compile_model(build_model(shape, preset=preset, norm=norm), preset=preset)
    validation = None
    if len(subsets[VALIDATION]):
        validation = SegmentBatches(home, subsets[VALIDATION], feature=preset.feature,
                                    batch_size=inference_batch_size(model), seed=seed, shuffle=False)
    curves = fit(model, train_batches, validation, preset=preset, reporter=reporter)
    if preset.ensemble_c:
        model = add_logistic_member(home, model, subsets[TRAIN], preset=preset)
    return model, curves, norm


def add_logistic_member(home: Home, model: keras.Model, subset: Subset, *, preset: Preset) -> keras.Model:
    """The fitted head averaged with a logistic regression fitted on the same training segments.

    The regression reads what the head's last layers read (``core.model.MEMBER_INPUT``: musicnn's
    50 tag probabilities for ``transfer``): scikit-learn's ``StandardScaler`` →
    ``LogisticRegression(C=preset.ensemble_c, class_weight="balanced")``, the setting of
    ``core.classic``'s model. Its scaling is folded into one frozen dense layer, so the ensemble
    is one Keras model that saves, loads and scores like any other (``core.model.with_logistic_member``).
    """
    from haverford.core import classic

    reader = keras.Model(model.input, model.get_layer(MEMBER_INPUT).output)
    batches = SegmentBatches(home, subset, feature=preset.feature, batch_size=inference_batch_size(model),
                             seed=0, shuffle=False)
    X = np.concatenate([np.asarray(reader.predict_on_batch(batches[i][0])) for i in range(len(batches))])
    pipeline = classic.build_pipeline("logistic_regression", subset.labels, subset.track_ids)
    pipeline.set_params(model__C=preset.ensemble_c, model__max_iter=5000).fit(X, subset.labels)
    scaler, regression = pipeline.named_steps["scale"], pipeline.named_steps["model"]
    sign = 1.0 if int(regression.classes_[1]) == CLASSES.index(BANGER) else -1.0  # coef_ is for classes_[1]
    coef = sign * regression.coef_[0] / scaler.scale_
    intercept = sign * regression.intercept_[0] - float(coef @ scaler.mean_)
    return with_logistic_member(model, (coef, intercept), name=f"{model.name}_ensemble")




def save_model(model: keras.Model, home: Home) -> str:
    """Save as ``.keras`` under a temporary name, then rename into ``models/``; returns the path relative to the home."""
    home.models_dir.mkdir(parents=True, exist_ok=True)
    name = f"model-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.keras"
    tmp = home.models_dir / f".tmp-{name}"
    model.save(tmp)
    os.replace(tmp, home.models_dir / name)
    return str(Path("models") / name)


def _model_row(config: TrainConfig, preset: Preset, subsets, sides, *, curves, norm, path,
               excluded, created_by, seconds) -> dict:
    params = {"preset": preset.to_json(), "config": config.to_json(), "seed": config.seed,
              "norm": {"mean": norm[0], "std": norm[1]}, "classes": list(CLASSES),
              "split": {side: sorted(int(t) for t, s in sides.items() if s == side) for side in SIDES},
              "segments": {side: len(subsets[side]) for side in SIDES}, "excluded_labels": excluded,
              "seconds": seconds, "tensorflow": tf.__version__, "keras": keras.__version__}
    return {"preset": preset.name, "feature": preset.feature, "params": params,
            "labels_hash": labels_hash(subsets), "path": path, "curves": curves, "metrics": {},
            "created_by": created_by}


def _summary(preset: Preset, subsets, seconds: float) -> dict:
    return {"preset": preset.name, "feature": preset.feature, "train_segments": len(subsets[TRAIN]),
            "validation_segments": len(subsets[VALIDATION]), "test_segments": len(subsets[TEST]),
            "split": "by track", "training_seconds": seconds}



