"""The cross-check: out-of-fold scores for every labelled segment, and likely label errors.

k models are fitted on track-grouped, verdict-stratified folds (``StratifiedGroupKFold``):
each labelled segment is scored only by the model whose training set left out its whole track.
By default each fold's model is k-nearest neighbours (``knn_pipeline``: cosine, k = √n) on the
stored pretrained embedding: a cross-check takes seconds once the embedding is stored, and on the demo and on real
music with planted label errors it ranks them first more often than a ConvNet per fold, which
took a minute on the demo (bench/README.md, "Demo"). A ConvNet preset remains a choice
(``model="convnet"``).
Label issues are ranked by self-confidence, the out-of-fold probability of the given label
(cleanlab's ``get_self_confidence_for_each_label``), and flagged with cleanlab's
``find_label_issues`` (on data too small for its thresholds: "the out-of-fold verdict disagrees").

It runs like Retrain: a ``training_runs`` row (``kind='crosscheck'``, one run at a time across
both kinds) executed by ``python -m haverford.core.worker`` in its own process, with progress,
heartbeat and cancel through ``core.jobs.DbReporter``. TensorFlow is used only through
``core.train``, imported when a ConvNet cross-check runs (and by the embedding, when it is not
stored yet).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import numpy as np

from haverford.core import jobs
from haverford.core.errors import HaverfordError
from haverford.core.home import Home
from haverford.core.presets import TrainConfig
from haverford.core.roles import require
from haverford.core.split import Subset
from haverford.core.vocabulary import BANGER, CLASSIC_MODEL_NAMES, TRAIN, VALIDATION
from haverford.db import crosscheck as crosscheck_db
from haverford.db import models as models_db
from haverford.db import runs as runs_db
from haverford.db import write

KIND = "crosscheck"


CONVNET = "convnet"
# core.classic's models, k-nearest neighbours first (the default), then a ConvNet: key → display name
FOLD_MODELS = {"knn": CLASSIC_MODEL_NAMES["knn"], **{k: v for k, v in CLASSIC_MODEL_NAMES.items() if k != "knn"},
               CONVNET: "ConvNet"}


@dataclass(frozen=True)
class CrossCheckConfig:
    """How many folds, and the model fitted on each.

    ``model`` is one of ``core.classic``'s models (``knn``, the default: seconds;
    ``logistic_regression``; ``linear_svm``) on the pooled ``feature``, or ``"convnet"``: the
    ConvNet ``preset`` trained for ``epochs`` per fold (minutes). ``feature`` None means the
    features the other models of the active model's Retrain use (``classic.features_for``: the
    stored embedding when the active model uses one, else the pooled mel summaries), or the
    default preset's when no model is active.

    Raises ``HaverfordError`` for an unknown ``model``.
    """

    folds: int = 3
    model: str = "knn"
    feature: str | None = None
    preset: str = "fast"
    epochs: int | None = 6
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in FOLD_MODELS:
            raise HaverfordError(f"unknown cross-check model {self.model!r}; choose one of: {', '.join(FOLD_MODELS)}")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CrossCheckConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "model" not in known and "preset" in known:  # stored before the classic models were offered
            known["model"] = CONVNET
        return cls(**known)


def describe(config: dict | str) -> str:
    """A cross-check config (a dict, or the JSON stored with its run) in words: "k-nearest neighbours, 3 folds"."""
    c = CrossCheckConfig.from_json(json.loads(config) if isinstance(config, str) else config)
    model = f"ConvNet {c.preset}, {_epochs(c.epochs)} per fold" if c.model == CONVNET else FOLD_MODELS[c.model]
    return f"{model}{' on ' + c.feature if c.feature and c.model != CONVNET else ''}, {c.folds} folds"


def _epochs(epochs: int | None) -> str:
    return "the preset's epochs" if epochs is None else f"{epochs} epoch{'' if epochs == 1 else 's'}"


def classic_features(db, config: CrossCheckConfig) -> tuple[str, ...]:
    """The stored features a classic fold model pools (see ``CrossCheckConfig``)."""
    from haverford.core import classic
    from haverford.core.features import parts
    from haverford.core.presets import get_preset
    from haverford.core.vocabulary import DEFAULT_PRESET

    if config.feature:
        return parts(config.feature)
    active = models_db.active_model(db)
    return classic.features_for(active["feature"] if active else get_preset(DEFAULT_PRESET, db=db).feature)


# --- folds and ranking (pure) -------------------------------------------------------------------

def plan_folds(labels: np.ndarray, track_ids: np.ndarray, *, k: int, seed: int = 0) -> np.ndarray:
    """The fold of each segment: whole tracks per fold, folds stratified by verdict.

    Parameters
    ----------
    labels : np.ndarray [shape=(n,)], 1 = banger
    track_ids : np.ndarray [shape=(n,)]

    Returns
    -------
    np.ndarray [shape=(n,), dtype=int64], fold number in ``range(k)``
    """
    from sklearn.model_selection import StratifiedGroupKFold

    check_foldable(labels, track_ids, k=k)
    folds = np.full(len(labels), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, held) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups=track_ids)):
        folds[held] = fold
    check_training_sides(labels, folds, k=k)
    return folds


def check_foldable(labels: np.ndarray, track_ids: np.ndarray, *, k: int) -> None:
    """Refuse fewer than 2 folds, fewer tracks than folds, or a missing class."""
    n_tracks = len(np.unique(track_ids))
    if k < 2:
        raise HaverfordError(f"a cross-check needs at least 2 folds, got {k}")
    if n_tracks < k or len(np.unique(labels)) < 2:
        fewer = ", or use fewer folds" if n_tracks >= 2 and len(np.unique(labels)) == 2 else ""
        raise HaverfordError(f"cannot cross-check {k} folds on {n_tracks} labelled tracks with "
                             f"{len(np.unique(labels))} verdict(s); label at least {k} tracks with both "
                             f"verdicts present{fewer}")


def check_training_sides(labels: np.ndarray, folds: np.ndarray, *, k: int) -> None:
    """Every fold's model must train on both verdicts."""
    for fold in range(k):
        if len(np.unique(labels[folds != fold])) < 2:
            raise HaverfordError(f"fold {fold + 1} of {k} would train on one verdict only; label more "
                                 f"tracks of each verdict or use fewer folds")


def fold_tracks(track_ids: np.ndarray, folds: np.ndarray, *, k: int) -> dict[int, dict[str, list[int]]]:
    """Fold → ``{"train": track ids, "held_out": track ids}`` (stored, so leaks can be checked)."""
    out = {}
    for fold in range(k):
        held = np.unique(track_ids[folds == fold])
        out[fold] = {"held_out": held.tolist(), "train": np.setdiff1d(np.unique(track_ids), held).tolist()}
    return out


def self_confidence(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """The out-of-fold probability of each segment's given label (low = likely label error).

    Parameters
    ----------
    labels : np.ndarray [shape=(n,)]
    pred_probs : np.ndarray [shape=(n, 2)]

    Returns
    -------
    np.ndarray [shape=(n,)]
    """
    from cleanlab.rank import get_self_confidence_for_each_label  # imported when a run scores: pages stay light

    return np.asarray(get_self_confidence_for_each_label(labels, pred_probs))


def find_issues(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, str]:
    """A boolean mask of likely label errors and the method used.

    cleanlab's ``find_label_issues`` (confident learning); when it cannot estimate its
    thresholds on tiny data, segments whose out-of-fold verdict disagrees.
    """
    from cleanlab.filter import find_label_issues

    fallback = pred_probs[np.arange(len(labels)), labels] < 0.5
    try:
        return np.asarray(find_label_issues(labels, pred_probs)), "cleanlab.filter.find_label_issues"
    except ValueError as exc:  # e.g. a class with too few examples to estimate a threshold
        return fallback, f"out-of-fold verdict disagrees (cleanlab: {exc})"


# --- training the folds ------------------------------------------------------------------------

class FoldReporter:
    """Prefixes stages with the fold and numbers epochs across folds (one curve per run)."""

    def __init__(self, inner, *, fold: int, k: int, epochs: int):
        self.inner, self.fold, self.k, self.epochs = inner, fold, k, epochs

    def stage(self, name: str, done: int, total: int) -> None:
        self.inner.stage(f"fold {self.fold + 1}/{self.k}: {name}", done, total)

    def epoch(self, epoch: int, metrics: dict) -> None:
        self.inner.epoch(self.fold * self.epochs + epoch, {**metrics, "fold": self.fold + 1})


def labelled_arrays(db) -> dict[str, np.ndarray]:
    """Every labelled segment: ``segment_ids``, ``labels`` (1 = banger), ``track_ids``."""
    rows = models_db.labelled_segments(db)
    return {"segment_ids": np.array([r["segment_id"] for r in rows], dtype=np.int64),
            "labels": np.array([r["verdict"] == BANGER for r in rows], dtype=np.int64),
            "track_ids": np.array([r["track_id"] for r in rows], dtype=np.int64)}


def out_of_fold(home: Home, data: dict[str, np.ndarray], folds: np.ndarray, config: CrossCheckConfig, *,
                reporter) -> np.ndarray:
    """p_banger of each segment from the fold model that never saw its track.

    Returns
    -------
    np.ndarray [shape=(n,)]
    """
    if config.model != CONVNET:
        return _classic_out_of_fold(home, data, folds, config, reporter=reporter)
    from haverford.core.inference import predict_subset
    from haverford.core.train import fit_model, prepare_features

    preset = TrainConfig(preset=config.preset, epochs=config.epochs, seed=config.seed).resolved()
    prepare_features(home, preset.feature, reporter=reporter)
    p = np.full(len(folds), np.nan)
    for fold in range(config.folds):
        held = folds == fold
        # no validation tracks: each fold's model early-stops on training loss, its test is the held-out fold
        subsets = {TRAIN: _subset(data, ~held), VALIDATION: _subset(data, np.zeros_like(held))}
        fold_reporter = FoldReporter(reporter, fold=fold, k=config.folds, epochs=preset.epochs)
        model, _, _ = fit_model(home, subsets, preset=preset, seed=config.seed + fold, reporter=fold_reporter)
        p[held] = predict_subset(home, model, _subset(data, held), feature=preset.feature,
                                 progress=lambda d, t, r=fold_reporter: r.stage("scoring held-out tracks", d, t))
    return p


def _classic_out_of_fold(home: Home, data: dict[str, np.ndarray], folds: np.ndarray, config: CrossCheckConfig, *,
                         reporter) -> np.ndarray:
    """``out_of_fold`` with one of ``core.classic``'s models per fold, on pooled stored features
    (computed first for tracks that lack them)."""
    from haverford.core import classic

    features = classic_features(home.connect(), config)
    name = "+".join(features)
    classic.prepare_features(home, progress=lambda d, t, _: reporter.stage(f"features ({name})", d, t), features=features)
    X = classic.pooled_features(home, data["segment_ids"], features)
    p = np.full(len(folds), np.nan)
    k = int(folds.max()) + 1
    for fold in range(k):
        reporter.stage(f"fitting {FOLD_MODELS[config.model]} on {name}", fold, k)
        held = folds == fold
        if config.model == "knn":
            pipeline = knn_pipeline(int((~held).sum())).fit(X[~held], data["labels"][~held])
        else:
            pipeline, _ = classic.fit_pipeline(config.model, X[~held], _subset(data, ~held), seed=config.seed + fold)
        p[held] = classic.p_banger(pipeline, X[held])
    reporter.stage(f"fitting {FOLD_MODELS[config.model]} on {name}", k, k)
    return p


def knn_pipeline(n_train: int):
    """The cross-check's k-nearest neighbours for ``n_train`` training segments: standardised
    features, cosine distance, k = round(√n_train) neighbours (k_n = √n, Duda, Hart & Stork,
    *Pattern Classification*, 2nd ed., §4.4). Unfitted.

    Not ``core.classic``'s kNN (15 neighbours, Euclidean): on the demo's planted label errors and on
    real music with planted flips it ranked them first more often (bench/README.md, "Demo": 0.97–1.0
    of them in the top K on three demo seeds, 0.84–0.86 on real music, against 0.74–0.79 and
    0.77 for the ConvNet per fold)."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    k = max(1, min(n_train - 1, round(float(np.sqrt(n_train)))))
    return Pipeline([("scale", StandardScaler()), ("model", KNeighborsClassifier(n_neighbors=k, metric="cosine"))])


def _subset(data: dict[str, np.ndarray], mask: np.ndarray) -> Subset:
    return Subset(data["segment_ids"][mask], data["labels"][mask], data["track_ids"][mask])


def score_rows(data: dict[str, np.ndarray], folds: np.ndarray, p_banger: np.ndarray) -> tuple[list[dict], str]:
    """The rows stored in ``crosscheck_scores`` and the issue-finding method."""
    from haverford.core.metrics import as_pred_probs

    pred_probs = as_pred_probs(p_banger)
    confidence = self_confidence(data["labels"], pred_probs)
    issues, method = find_issues(data["labels"], pred_probs)
    rows = [{"segment_id": int(s), "fold": int(f), "label": int(y), "p_banger": float(p),
             "self_confidence": float(c), "is_issue": int(i)}
            for s, f, y, p, c, i in zip(data["segment_ids"], folds, data["labels"], p_banger, confidence, issues, strict=False)]
    return rows, method


def run_crosscheck(home: Home, config: CrossCheckConfig, *, reporter) -> dict:
    """Plan folds, fit k models and score their held-out tracks; returns what to store (``rows``,
    ``folds``, the issue-finding ``method`` and the fold ``model`` in words)."""
    data = labelled_arrays(home.connect())
    folds = plan_folds(data["labels"], data["track_ids"], k=config.folds, seed=config.seed)
    model = (f"ConvNet {config.preset}, {_epochs(config.epochs)} per fold" if config.model == CONVNET
             else f"{FOLD_MODELS[config.model]} on {'+'.join(classic_features(home.connect(), config))}")
    p_banger = out_of_fold(home, data, folds, config, reporter=reporter)
    rows, method = score_rows(data, folds, p_banger)
    return {"rows": rows, "folds": fold_tracks(data["track_ids"], folds, k=config.folds), "method": method,
            "model": model}


# --- the run -----------------------------------------------------------------------------------

def create_crosscheck(home: Home, config: CrossCheckConfig, *, created_by: str | None) -> int:
    """Record a queued cross-check run, refusing while any run (Retrain or cross-check) is going.

    Raises ``HaverfordError`` at once, before any run is recorded, when the labelled tracks
    cannot make ``config.folds`` folds (``check_foldable``)."""
    _check_foldable(home, config)
    return jobs.create_run(home, config, created_by=created_by, kind=KIND)


def _check_foldable(home: Home, config: CrossCheckConfig) -> None:
    data = labelled_arrays(home.connect())
    check_foldable(data["labels"], data["track_ids"], k=config.folds)


def start_crosscheck(home: Home, config: CrossCheckConfig, *, created_by: str | None) -> int:
    """Queue a cross-check and launch its worker process (the one job framework); returns the run id.

    Raises what ``jobs.start_run`` raises (the actor may not start runs first), then as
    ``create_crosscheck`` does."""
    require(home, "train", detail=KIND)
    _check_foldable(home, config)
    return jobs.start_run(home, config, created_by=created_by, kind=KIND)


def execute_crosscheck(home: Home, run_id: int, *, reporter=None) -> dict:
    """Run a queued cross-check in this process (``jobs.execute_run``); returns its summary."""
    return jobs.execute_run(home, run_id, reporter=reporter)


def run_body(home: Home, run: dict, reporter) -> dict:
    """The ``crosscheck`` run kind: fold models, out-of-fold scores, stored with the run's success."""
    started = time.perf_counter()
    out = run_crosscheck(home, CrossCheckConfig.from_json(run["config"]), reporter=reporter)
    _store(home.connect(), run["id"], out)
    issues = sum(r["is_issue"] for r in out["rows"])
    return {"model": out["model"], "scored_segments": len(out["rows"]), "issues": issues, "method": out["method"],
            "folds": len(out["folds"]), "seconds": round(time.perf_counter() - started, 3)}


def _store(db, run_id: int, out: dict) -> None:
    with write(db):
        crosscheck_db.save_folds(db, run_id, out["folds"])
        crosscheck_db.save_crosscheck_scores(db, run_id, out["rows"])
        runs_db.heartbeat(db, run_id, progress={"stage": "done", "done": 1, "total": 1,
                                                "method": out["method"]})
        if not runs_db.finish_run(db, run_id, "succeeded"):
            raise HaverfordError(f"run {run_id} was marked finished by someone else (presumed dead?)")
