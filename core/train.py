"""The training job: stored track split, labelled data streamed from the feature store, fit,
evaluation on held-out tracks, and the model file. ``core.jobs`` records it as a run.

The split is by track, stratified by each track's majority verdict, and stored in ``splits``:
a track keeps its side forever, new tracks fill each stratum towards 70/10/20 (train/validation/
test) in an order fixed by a hash of their content, so models trained on more labels stay
comparable. Labels are the consensus verdicts; ties are left out and counted.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off stderr

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.metrics import (accuracy_score, balanced_accuracy_score,  # noqa: E402
                             confusion_matrix, roc_auc_score)
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

from haverford.core import features as features_mod  # noqa: E402
from haverford.core.errors import HaverfordError  # noqa: E402
from haverford.core.home import Home  # noqa: E402
from haverford.core.model import (CLASSES, Preset, build_model, compile_model, get_preset,  # noqa: E402
                        inference_batch_size)
from haverford.db import models as models_db  # noqa: E402
from haverford.db import tracks as tracks_db  # noqa: E402

SIDES = ("train", "validation", "test")
SHARES = {"test": 0.2, "validation": 0.1}
PREDICT_BATCH = 256
NORM_SAMPLE = 256


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


@dataclass(frozen=True)
class TrainConfig:
    """What a Retrain asks for; ``feature``/``epochs``/``max_steps`` override the preset's."""

    preset: str = "fast"
    feature: str | None = None
    seed: int = 0
    epochs: int | None = None
    max_steps: int | None = None
    overrides: dict | None = None  # preset fields to change, for experiments (bench/train_bench.py)

    def resolved(self) -> Preset:
        """The preset with this config's overrides applied, validated."""
        preset = get_preset(self.preset)
        if self.overrides:
            preset = preset.replace(**{k: tuple(map(tuple, v)) if k == "conv" else v
                                       for k, v in self.overrides.items()})
        if self.feature:
            features_mod.get_feature(self.feature)
            preset = preset.replace(feature=self.feature)
        if self.epochs:
            preset = preset.replace(epochs=int(self.epochs))
        if self.max_steps and preset.steps:
            preset = preset.replace(steps=min(preset.steps, int(self.max_steps)),
                                    steps_per_epoch=min(preset.steps_per_epoch or 100, int(self.max_steps)))
        return preset

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class TrainResult:
    """A trained model file and the row that describes it (``models`` columns)."""

    row: dict
    summary: dict = field(default_factory=dict)


# --- the split ---------------------------------------------------------------------------------

def plan_sides(tracks: list[dict], assigned: dict[int, str], *, seed: int = 0) -> dict[int, str]:
    """Sides for the tracks not yet assigned, stratified by verdict; assigned tracks never move.

    Parameters
    ----------
    tracks : ``{track_id, content_hash, verdict}`` for every labelled track
    assigned : track id → side already stored

    Returns
    -------
    track id → side, for the new tracks only
    """
    new: dict[int, str] = {}
    for verdict in CLASSES:
        stratum = [t for t in tracks if t["verdict"] == verdict]
        counts = {side: sum(assigned.get(t["track_id"]) == side for t in stratum) for side in SIDES}
        fresh = sorted((t for t in stratum if t["track_id"] not in assigned),
                       key=lambda t: _order_key(t["content_hash"], seed))
        for track in fresh:
            side = _most_needed(counts, total=sum(counts.values()) + 1)
            counts[side] += 1
            new[track["track_id"]] = side
    return new


def _order_key(content_hash: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{content_hash}".encode()).hexdigest()


def _most_needed(counts: dict[str, int], *, total: int) -> str:
    """The side furthest below its target share once the stratum has ``total`` tracks."""
    targets = {"test": round(SHARES["test"] * total), "validation": round(SHARES["validation"] * total)}
    targets["train"] = total - targets["test"] - targets["validation"]
    if counts["train"] == 0:  # a class needs a training example before it can be held out
        return "train"
    return max(SIDES, key=lambda s: (targets[s] - counts[s], s == "train"))


def assign_split(db, *, seed: int = 0) -> dict[int, str]:
    """Assign new labelled tracks to a side (stored), and return the whole split."""
    tracks = models_db.labelled_tracks(db)
    assigned = models_db.split_sides(db)
    new = plan_sides(tracks, assigned, seed=seed)
    if new:
        models_db.assign_sides(db, new)
    return models_db.split_sides(db)


# --- data ------------------------------------------------------------------------------------

@dataclass
class Subset:
    """Labelled segments of one side: ids, labels (1 = banger) and tracks, aligned."""

    segment_ids: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.segment_ids)


def labelled_subsets(db, sides: dict[int, str]) -> dict[str, Subset]:
    """The labelled segments of each side of the split."""
    rows = models_db.labelled_segments(db)
    out = {}
    for side in SIDES:
        picked = [r for r in rows if sides.get(r["track_id"]) == side]
        out[side] = Subset(np.array([r["segment_id"] for r in picked], dtype=np.int64),
                           np.array([CLASSES.index(r["verdict"]) for r in picked], dtype=np.int64),
                           np.array([r["track_id"] for r in picked], dtype=np.int64))
    return out


def labels_hash(subsets: dict[str, Subset]) -> str:
    """SHA-256 of every (segment id, label, side) a run trains and tests on."""
    digest = hashlib.sha256()
    for side in SIDES:
        s = subsets[side]
        digest.update(side.encode() + s.segment_ids.tobytes() + s.labels.tobytes())
    return digest.hexdigest()


class SegmentBatches(keras.utils.PyDataset):
    """Batches of features read from the store on demand: memory does not grow with the library.

    Yields ``(x [shape=(b, n_bins, n_frames), float32], y [shape=(b,)], w [shape=(b,)])``.
    Epoch-based: a fresh seeded permutation per epoch. With ``steps_per_epoch`` set: batches are
    cut from an endless stream of seeded permutations (the seed's fixed number of steps).
    """

    def __init__(self, home: Home, subset: Subset, *, feature: str, batch_size: int, seed: int,
                 shuffle: bool = True, weights: np.ndarray | None = None,
                 steps_per_epoch: int | None = None, on_batch=None):
        super().__init__()
        self.store, self.feature, self.batch_size = home.store, feature, batch_size
        self.locations = tracks_db.segment_locations(home.connect(), subset.segment_ids.tolist(), feature)
        self.labels = subset.labels
        self.weights = weights if weights is not None else np.ones(len(subset), dtype=np.float32)
        self.seed, self.shuffle, self.steps_per_epoch, self.on_batch = seed, shuffle, steps_per_epoch, on_batch
        self.epoch_number = 0

    def __len__(self) -> int:
        return self.steps_per_epoch or math.ceil(len(self.labels) / self.batch_size)

    def on_epoch_end(self) -> None:
        self.epoch_number += 1

    def positions(self, index: int) -> np.ndarray:
        """Row positions of batch ``index`` in the current epoch."""
        n, b = len(self.labels), self.batch_size
        if not self.shuffle:
            return np.arange(index * b, min(n, (index + 1) * b))
        if self.steps_per_epoch is None:
            return self._permutation(self.epoch_number)[index * b:(index + 1) * b]
        start = (self.epoch_number * self.steps_per_epoch + index) * b
        flat = np.arange(start, start + b)
        return np.array([self._permutation(p // n)[p % n] for p in flat])

    def _permutation(self, k: int) -> np.ndarray:
        return np.random.default_rng([self.seed, k]).permutation(len(self.labels))

    def __getitem__(self, index: int):
        rows = self.positions(index)
        x = self.store.read([self.locations[i] for i in rows], self.feature).astype(np.float32)
        return x, self.labels[rows], self.weights[rows]


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-segment weights that make both classes count equally (sklearn's ``balanced``).

    Returns
    -------
    np.ndarray [shape=(len(labels),), dtype=float32]
    """
    classes = np.unique(labels)
    per_class = compute_class_weight("balanced", classes=classes, y=labels)
    lookup = dict(zip(classes.tolist(), per_class))
    return np.array([lookup[int(y)] for y in labels], dtype=np.float32)


def feature_stats(batches: SegmentBatches, *, max_segments: int = NORM_SAMPLE) -> tuple[float, float]:
    """Mean and standard deviation (dB) of a seeded sample of training segments."""
    rng = np.random.default_rng(batches.seed)
    rows = rng.choice(len(batches.labels), size=min(max_segments, len(batches.labels)), replace=False)
    x = batches.store.read([batches.locations[i] for i in sorted(rows)], batches.feature).astype(np.float32)
    return float(x.mean()), float(max(x.std(), 1e-3))


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


def predict_p_banger(model: keras.Model, batches_x) -> np.ndarray:
    """p(banger) for each segment of an iterable of feature batches.

    Parameters
    ----------
    batches_x : iterable of np.ndarray [shape=(b, n_bins, n_frames)]

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
    """
    step = inference_batch_size(model)
    parts = [_softmax_banger(model.predict_on_batch(x[i:i + step]))
             for x in batches_x for i in range(0, len(x), step)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _softmax_banger(logits) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p[:, CLASSES.index("banger")].astype(np.float32)


# --- evaluation ------------------------------------------------------------------------------

def test_metrics(labels: np.ndarray, p_banger: np.ndarray, track_ids: np.ndarray) -> dict:
    """Segment- and track-level metrics on the held-out test tracks.

    Parameters
    ----------
    labels : np.ndarray [shape=(n,)], 1 = banger
    p_banger : np.ndarray [shape=(n,)]
    track_ids : np.ndarray [shape=(n,)]
    """
    pred = (p_banger >= 0.5).astype(int)
    share = float(labels.mean()) if len(labels) else 0.0
    out = {"split": "by track", "test_segments": int(len(labels)),
           "test_tracks": int(len(np.unique(track_ids))),
           "accuracy": float(accuracy_score(labels, pred)) if len(labels) else None,
           "balanced_accuracy": float(balanced_accuracy_score(labels, pred)) if len(labels) else None,
           "majority_baseline": max(share, 1 - share) if len(labels) else None,
           "confusion": confusion_matrix(labels, pred, labels=[0, 1]).tolist(),
           "roc_auc": float(roc_auc_score(labels, p_banger)) if len(np.unique(labels)) == 2 else None}
    out.update(_track_level(labels, p_banger, track_ids))
    return out


def _track_level(labels: np.ndarray, p_banger: np.ndarray, track_ids: np.ndarray) -> dict:
    """Accuracy of track verdicts (mean p_banger ≥ 0.5) against each track's majority label."""
    tracks = np.unique(track_ids)
    if not len(tracks):
        return {"track_accuracy": None}
    truth = [labels[track_ids == t].mean() >= 0.5 for t in tracks]
    guess = [p_banger[track_ids == t].mean() >= 0.5 for t in tracks]
    return {"track_accuracy": float(np.mean(np.equal(truth, guess)))}


# --- the job ---------------------------------------------------------------------------------

def prepare_features(home: Home, feature: str, *, reporter: Reporter) -> None:
    """Compute ``feature`` for every track that lacks it (e.g. ``log_stft`` for the seed preset)."""
    from haverford.core.ingest import compute_missing

    if tracks_db.tracks_missing_feature(home.connect(), feature):
        report = compute_missing(home, feature, progress=lambda d, t, _: reporter.stage("features", d, t))
        if report.errors and not report.track_ids:
            raise HaverfordError(f"could not compute {feature}: {report.errors[0]['error']}")


def check_trainable(subsets: dict[str, Subset], excluded: int) -> None:
    """Refuse to train without both classes in training and a non-empty test side."""
    train, test = subsets["train"], subsets["test"]
    if len(np.unique(train.labels)) < 2 or not len(test):
        raise HaverfordError(
            f"not enough labelled music to train: {len(train)} training and {len(test)} test "
            f"segments ({excluded} tied or ambiguous verdicts left out); label at least 3 tracks of each class "
            f"as banger and not_a_banger (or run 'haverford demo' for a labelled library)")


def train(home: Home, config: TrainConfig, *, reporter: Reporter | None = None,
          created_by: str | None = None) -> TrainResult:
    """Run the whole training job and save the model; returns the ``models`` row (not inserted)."""
    reporter = reporter or SilentReporter()
    started = time.perf_counter()
    preset = config.resolved()
    prepare_features(home, preset.feature, reporter=reporter)
    db = home.connect()
    sides = assign_split(db, seed=config.seed)
    subsets = labelled_subsets(db, sides)
    excluded = models_db.excluded_label_count(db)
    check_trainable(subsets, excluded)
    model, curves, norm = fit_model(home, subsets, preset=preset, seed=config.seed, reporter=reporter)
    metrics = _evaluate(home, model, subsets["test"], feature=preset.feature, reporter=reporter)
    path = save_model(model, home)
    seconds = round(time.perf_counter() - started, 3)
    row = _model_row(config, preset, subsets, sides, curves=curves, metrics=metrics, norm=norm,
                     path=path, home=home, excluded=excluded, created_by=created_by, seconds=seconds)
    return TrainResult(row=row, summary=_summary(preset, subsets, metrics, seconds))


def fit_model(home: Home, subsets: dict[str, Subset], *, preset: Preset, seed: int, reporter: Reporter):
    """Seed everything with ``seed``, build the preset's model and fit it on ``subsets``.

    Returns the fitted model, its curves and the input normalisation; used by Retrain and by
    each fold of the cross-check.
    """
    keras.utils.set_random_seed(seed)
    shape = features_mod.get_feature(preset.feature).shape
    train_batches = SegmentBatches(home, subsets["train"], feature=preset.feature,
                                   batch_size=preset.batch_size, seed=seed,
                                   weights=balanced_weights(subsets["train"].labels),
                                   steps_per_epoch=preset.steps_per_epoch if preset.steps else None)
    norm = feature_stats(train_batches)
    with tf.distribute.get_strategy().scope():
        model = compile_model(build_model(shape, preset=preset, norm=norm), preset=preset)
    validation = None
    if len(subsets["validation"]):
        validation = SegmentBatches(home, subsets["validation"], feature=preset.feature,
                                    batch_size=inference_batch_size(model), seed=seed, shuffle=False)
    curves = fit(model, train_batches, validation, preset=preset, reporter=reporter)
    return model, curves, norm


def _evaluate(home: Home, model: keras.Model, test: Subset, *, feature: str, reporter: Reporter) -> dict:
    batches = SegmentBatches(home, test, feature=feature, batch_size=PREDICT_BATCH, seed=0, shuffle=False)
    parts = []
    for i in range(len(batches)):
        parts.append(predict_p_banger(model, [batches[i][0]]))
        reporter.stage("evaluating", i + 1, len(batches))
    return test_metrics(test.labels, np.concatenate(parts), test.track_ids)


def save_model(model: keras.Model, home: Home) -> str:
    """Save as ``.keras`` under a temporary name, then rename into ``models/``; returns the path relative to the home."""
    home.models_dir.mkdir(parents=True, exist_ok=True)
    name = f"model-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.keras"
    tmp = home.models_dir / f".tmp-{name}"
    model.save(tmp)
    os.replace(tmp, home.models_dir / name)
    return str(Path("models") / name)


def _model_row(config: TrainConfig, preset: Preset, subsets, sides, *, curves, metrics, norm, path,
               home, excluded, created_by, seconds) -> dict:
    params = {"preset": preset.to_json(), "config": config.to_json(), "seed": config.seed,
              "norm": {"mean": norm[0], "std": norm[1]}, "classes": list(CLASSES),
              "split": {side: sorted(int(t) for t, s in sides.items() if s == side) for side in SIDES},
              "segments": {side: len(subsets[side]) for side in SIDES}, "excluded_labels": excluded,
              "seconds": seconds, "tensorflow": tf.__version__, "keras": keras.__version__}
    return {"preset": preset.name, "feature": preset.feature, "params": params,
            "labels_hash": labels_hash(subsets), "path": path, "curves": curves, "metrics": metrics,
            "created_by": created_by}


def _summary(preset: Preset, subsets, metrics: dict, seconds: float) -> dict:
    return {"preset": preset.name, "feature": preset.feature, "train_segments": len(subsets["train"]),
            "validation_segments": len(subsets["validation"]), "test_segments": len(subsets["test"]),
            "test_accuracy": metrics["accuracy"], "majority_baseline": metrics["majority_baseline"],
            "track_accuracy": metrics["track_accuracy"], "split": "by track", "seconds": seconds}


def load_model(home: Home, row: dict) -> keras.Model:
    """Load a model's ``.keras`` file; the error says what to do when it is gone."""
    path = home.path / row["path"]
    if not path.exists():
        raise HaverfordError(f"model file missing: {path}; retrain with 'haverford train'")
    return keras.models.load_model(path)

