"""The other models the seed wished for: logistic regression, a linear SVM and k-nearest neighbours.

"Perhaps another machine learning model, such as SVM or nearest neighbours classification could
be more effective (and certainly would be quicker!)" (the 2018 notebook). Each is a scikit-learn
``Pipeline`` (``StandardScaler`` → classifier) on a pooled summary of stored features: per mel
band, the mean and standard deviation over time of ``log_mel`` and ``percussive_mel`` (the
summary that Tzanetakis & Cook 2002 fed their genre classifiers, on mel bands), and the pretrained
``musicnn`` embedding, which is pooled already, as it is. Each Retrain fits
them on the training side of the stored split, beside the ConvNet (``core.jobs``); they become
``models`` rows of kind ``classic`` and are scored, evaluated and activated like a ConvNet.

Files are written with skops and loaded only when every type that skops does not trust by
default is on ``TRUSTED``: a pickle runs code on load, a skops file does not. No TensorFlow here.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from haverford.core.errors import HaverfordError
from haverford.core.home import Home
from haverford.core.split import Subset
from haverford.core.vocabulary import BANGER, CLASSES, CLASSIC_MODEL_NAMES, TRAIN
from haverford.db import tracks as tracks_db
from haverford.db.models import CLASSIC

FEATURES = ("log_mel", "percussive_mel")  # without a pretrained embedding
EMBEDDING = "musicnn"
FEATURE_TEXT = "+".join(FEATURES)
READ_BATCH = 512
KNN_NEIGHBOURS = 15
CALIBRATION_FOLDS = 3

# skops trusts scikit-learn's estimators and numpy's types by default (no code runs on load); of
# the rest, our files hold only the calibrated SVM's internals. Any other type is refused.
TRUSTED = ["sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration"]


@dataclass(frozen=True)
class ClassicModel:
    """One of the other models: its key (stored as the model's ``preset``) and display name."""

    key: str
    name: str
    description: str


MODELS = (ClassicModel("logistic_regression", CLASSIC_MODEL_NAMES["logistic_regression"],
                       "L2 logistic regression (C=0.1), balanced class weights"),
          ClassicModel("linear_svm", CLASSIC_MODEL_NAMES["linear_svm"],
                       "linear SVM (C=0.01), balanced class weights, sigmoid-calibrated on track-grouped folds"),
          ClassicModel("knn", CLASSIC_MODEL_NAMES["knn"], f"{KNN_NEIGHBOURS} nearest neighbours, Euclidean"))
assert tuple(m.key for m in MODELS) == tuple(CLASSIC_MODEL_NAMES)  # one list of the other models, in order
BY_KEY = {m.key: m for m in MODELS}


# --- the pooled summary ------------------------------------------------------------------------

def pooled_summary(S: np.ndarray) -> np.ndarray:
    """Per-band mean and standard deviation over time of a batch of spectrograms; an embedding
    (one frame per segment) is pooled already and is returned as it is.

    Parameters
    ----------
    S : np.ndarray [shape=(n, n_bins, n_frames)], dB, or [shape=(n, d, 1)], an embedding

    Returns
    -------
    np.ndarray [shape=(n, 2 * n_bins), dtype=float32]: the ``n_bins`` means, then the ``n_bins``
    standard deviations; [shape=(n, d)] for an embedding
    """
    S = np.asarray(S, dtype=np.float32)
    if S.ndim != 3:
        raise HaverfordError(f"pooled_summary needs (n, n_bins, n_frames) spectrograms, got shape {S.shape}")
    if S.shape[2] == 1:
        return S[:, :, 0]
    return np.concatenate([S.mean(axis=2), S.std(axis=2)], axis=1)


def features_for(feature: str) -> tuple[str, ...]:
    """The features the other models pool beside a ConvNet on ``feature``: the pretrained
    embedding (and what is joined to it, e.g. ``musicnn+rhythm``) when the ConvNet uses it (it is
    stored then; bench/README.md, "Other models": adding the mel summaries to it does not help),
    else ``FEATURES``."""
    from haverford.core.features import parts

    return parts(feature) if EMBEDDING in parts(feature) else FEATURES


def pooled_batch(xs: dict[str, np.ndarray], features: tuple[str, ...] = FEATURES) -> np.ndarray:
    """The pooled summaries of ``features``, side by side.

    Parameters
    ----------
    xs : feature name → np.ndarray [shape=(n, n_bins, n_frames)]

    Returns
    -------
    np.ndarray [shape=(n, d)]: 512 columns for the two 128-band features, 1506 for ``musicnn``
    """
    return np.concatenate([pooled_summary(xs[name]) for name in features], axis=1)


def pooled_features(home: Home, segment_ids: np.ndarray, features: tuple[str, ...] = FEATURES) -> np.ndarray:
    """The pooled summary of stored segments, read from the feature store ``READ_BATCH`` at a time.

    Parameters
    ----------
    segment_ids : np.ndarray [shape=(n,)]

    Returns
    -------
    np.ndarray [shape=(n, d), dtype=float32], d as ``pooled_batch``

    Raises ``HaverfordError`` when a segment's track lacks one of ``features``.
    """
    db, ids = home.connect(), [int(s) for s in segment_ids]
    parts = [pooled_batch({name: home.store.read(tracks_db.segment_locations(db, ids[i:i + READ_BATCH], name), name)
                           for name in features}, features) for i in range(0, len(ids), READ_BATCH)]
    if parts:
        return np.concatenate(parts)
    return np.zeros((0, sum(pooled_width(name) for name in features)), dtype=np.float32)


def pooled_width(feature: str) -> int:
    """Columns that ``pooled_summary`` gives for ``feature``."""
    from haverford.core.features import get_feature

    spec = get_feature(feature)
    return spec.n_bins if spec.is_embedding else 2 * spec.n_bins


def prepare_features(home: Home, *, progress=None, features: tuple[str, ...] = FEATURES) -> None:
    """Compute ``features`` for every track that lacks them (only ``log_mel`` is made at import)."""
    from haverford.core.ingest import compute_missing

    for name in features:
        if tracks_db.tracks_missing_feature(home.connect(), name):
            report = compute_missing(home, name, progress=progress)
            if report.errors and not report.track_ids:
                raise HaverfordError(f"could not compute {name}: {report.errors[0]['error']}")


# --- the pipelines -----------------------------------------------------------------------------

def build_pipeline(key: str, labels: np.ndarray, track_ids: np.ndarray, *, seed: int = 0) -> Pipeline:
    """An unfitted ``StandardScaler`` → classifier pipeline for the training data given.

    The SVM's sigmoid calibration is fitted on folds that keep each track whole (as the split
    does), so a track's own segments never calibrate its scores; kNN's ``k`` shrinks to fit a
    small training set.

    Parameters
    ----------
    key : one of ``BY_KEY``
    labels : np.ndarray [shape=(n,)], 1 = banger
    track_ids : np.ndarray [shape=(n,)]
    """
    if key == "logistic_regression":
        model = LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000)
    elif key == "linear_svm":
        model = CalibratedClassifierCV(LinearSVC(C=0.01, class_weight="balanced", random_state=seed),
                                       method="sigmoid", cv=calibration_folds(labels, track_ids, seed=seed))
    elif key == "knn":
        model = KNeighborsClassifier(n_neighbors=max(1, min(KNN_NEIGHBOURS, len(labels) - 1)))
    else:
        raise HaverfordError(f"unknown model {key!r}; choose one of: {', '.join(BY_KEY)}")
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def calibration_folds(labels: np.ndarray, track_ids: np.ndarray, *, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Track-grouped, verdict-stratified folds (at most ``CALIBRATION_FOLDS``) for the SVM's calibration.

    Raises ``HaverfordError`` when a verdict has fewer than 2 training tracks.
    """
    per_class = [len(np.unique(track_ids[labels == c])) for c in (0, 1)]
    k = min(CALIBRATION_FOLDS, *per_class)
    if k < 2:
        raise HaverfordError(f"the linear SVM's calibration needs 2 training tracks of each verdict; "
                             f"found {per_class[1]} banger and {per_class[0]} not_a_banger: label more tracks")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(train.astype(np.int64), test.astype(np.int64))
            for train, test in splitter.split(np.zeros(len(labels)), labels, groups=track_ids)]


def fit_pipeline(key: str, X: np.ndarray, subset: Subset, *, seed: int = 0) -> tuple[Pipeline, float]:
    """Fit one model on pooled features ``X`` [shape=(n, d)]; returns it and the seconds it took."""
    started = time.perf_counter()
    pipeline = build_pipeline(key, subset.labels, subset.track_ids, seed=seed)
    pipeline.fit(X, subset.labels)
    if key == "linear_svm":  # the folds were only for fitting; the file need not carry them
        pipeline.named_steps["model"].cv = len(pipeline.named_steps["model"].calibrated_classifiers_)
    return pipeline, round(time.perf_counter() - started, 4)


def p_banger(pipeline: Pipeline, X: np.ndarray) -> np.ndarray:
    """p(banger) of pooled features ``X`` [shape=(n, d)]; returns [shape=(n,), dtype=float32]."""
    if not len(X):
        return np.zeros(0, dtype=np.float32)
    column = list(pipeline.classes_).index(CLASSES.index(BANGER))
    return pipeline.predict_proba(X)[:, column].astype(np.float32)


# --- files -------------------------------------------------------------------------------------

def save_pipeline(pipeline: Pipeline, home: Home) -> str:
    """Write with skops under ``models/`` (temporary name, then rename); returns the path relative to the home."""
    import os

    import skops.io as sio

    home.models_dir.mkdir(parents=True, exist_ok=True)
    name = f"classic-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.skops"
    tmp = home.models_dir / f".tmp-{name}"
    sio.dump(pipeline, tmp)
    os.replace(tmp, home.models_dir / name)
    return str(Path("models") / name)


def load_pipeline(home: Home, row: dict) -> Pipeline:
    """Load a model's skops file, refusing any type that neither skops nor ``TRUSTED`` trusts.

    Raises ``HaverfordError`` when the file is missing or holds such a type (before building anything).
    """
    import skops.io as sio

    path = home.path / row["path"]
    if not path.exists():
        raise HaverfordError(f"model file missing: {path}; retrain with 'haverford train'")
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED))
    if untrusted:
        raise HaverfordError(f"model file {path} holds types Haverford does not trust ({', '.join(untrusted)}); "
                             f"retrain with 'haverford train' rather than loading it")
    return sio.load(path, trusted=TRUSTED)


class ClassicScorer:
    """Scores feature batches with a fitted pipeline (``core.predict`` dispatches on the model kind)."""

    def __init__(self, pipeline: Pipeline, features: tuple[str, ...] = FEATURES):
        self.pipeline, self.features = pipeline, tuple(features)

    def p_banger(self, xs: dict[str, np.ndarray]) -> np.ndarray:
        """p(banger) [shape=(n,)] of feature batches ``xs`` (name → [shape=(n, n_bins, n_frames)])."""
        return p_banger(self.pipeline, pooled_batch(xs, self.features))


def load_scorer(home: Home, row: dict) -> ClassicScorer:
    """The scorer of a ``classic`` model row (the features it pools are in its params)."""
    return ClassicScorer(load_pipeline(home, row), tuple(row.get("params", {}).get("features") or FEATURES))


# --- a Retrain's other models ------------------------------------------------------------------

@dataclass
class Fitted:
    """One fitted model, its file and its ``models`` row (not inserted yet)."""

    model: ClassicModel
    pipeline: Pipeline
    row: dict


def fit_all(home: Home, subsets: dict[str, Subset], *, seed: int, base_row: dict, progress=None,
            features: tuple[str, ...] = FEATURES) -> list[Fitted]:
    """Fit every model in ``MODELS`` on the training side and save it; rows copy the ConvNet's split.

    ``base_row`` is the ConvNet's ``models`` row: the other models share its split, labels hash
    and author. A model that cannot be fitted on this data (e.g. the SVM's calibration with one
    track of a verdict) is left out, and the reason logged in ``params["skipped"]`` of the others.
    """
    X = pooled_features(home, subsets[TRAIN].segment_ids, features)
    out, skipped = [], {}
    for done, spec in enumerate(MODELS, start=1):
        try:
            pipeline, seconds = fit_pipeline(spec.key, X, subsets[TRAIN], seed=seed)
        except HaverfordError as exc:
            skipped[spec.key] = str(exc)
            continue
        out.append(Fitted(spec, pipeline, _row(spec, base_row, path=save_pipeline(pipeline, home), seconds=seconds,
                                               features=features)))
        if progress:
            progress(done, len(MODELS))
    for fitted in out:
        fitted.row["params"]["skipped"] = skipped
    return out


def _row(spec: ClassicModel, base_row: dict, *, path: str, seconds: float, features: tuple[str, ...]) -> dict:
    import sklearn

    base = base_row["params"]
    params = {"model": spec.key, "description": spec.description, "features": list(features),
              "pooling": "per-band mean and std over time; an embedding as it is", "classes": list(CLASSES),
              "config": base.get("config"), "convnet_preset": base.get("preset", {}).get("name"),
              "split": base["split"], "segments": base["segments"], "excluded_labels": base.get("excluded_labels"),
              "fit_seconds": seconds, "seconds": seconds, "sklearn": sklearn.__version__}
    return {"kind": CLASSIC, "name": spec.name, "preset": spec.key, "feature": "+".join(features), "params": params,
            "labels_hash": base_row["labels_hash"], "path": path, "curves": {}, "metrics": {},
            "created_by": base_row.get("created_by")}


def score_library(home: Home, fitted: list[tuple[int, Pipeline]], *, progress=None,
                  features: tuple[str, ...] = FEATURES) -> dict:
    """Score every segment of the library with each ``(model_id, pipeline)``, features read once.

    Segments of tracks lacking a feature are skipped and counted. Returns ``{"segments", "skipped"}``.
    """
    from haverford.db import models as models_db

    db = home.connect()
    total, done, skipped = models_db.segment_count(db), 0, 0
    for ids in models_db.iter_segment_batches(db, batch=READ_BATCH):
        locations = {name: tracks_db.segment_locations(db, ids, name) for name in features}
        usable = [i for i in range(len(ids)) if all(locations[n][i]["path"] for n in features)]
        skipped += len(ids) - len(usable)
        if usable:
            X = pooled_batch({n: home.store.read([locations[n][i] for i in usable], n) for n in features}, features)
            for model_id, pipeline in fitted:
                models_db.save_predictions(db, model_id, [ids[i] for i in usable], p_banger(pipeline, X))
        done += len(ids)
        if progress:
            progress(done, total)
    return {"segments": done - skipped, "skipped": skipped}
