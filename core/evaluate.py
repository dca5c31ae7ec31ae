"""Evaluation of a model on its held-out test tracks, and the baselines on the same tracks.

Numbers come from scikit-learn. Every result carries its split (``Split``): the test tracks are
the ones the model held out when it was trained (``models.params["split"]["test"]``), so segments
of one track are never on both sides. Labels are the current consensus verdicts (1 = banger);
``pred_probs`` columns follow ``core.model.CLASSES``: ``[:, 0]`` not a banger, ``[:, 1]`` banger.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from haverford.core.errors import HaverfordError
from haverford.core.haverford import algorithm_verdicts
from haverford.core.home import Home
from haverford.core.vocabulary import BANGER, CLASSES, VERDICTS, consensus, majority_class
from haverford.db import evaluation as eval_db
from haverford.db import library as library_db
from haverford.db import models as models_db
from haverford.db import questions as questions_db

MAJORITY = "majority class"  # the baseline row's name


@dataclass(frozen=True)
class Metrics:
    """Classification metrics at one decision threshold (None where undefined, e.g. AUC on one class).

    ``confusion`` is ``[[TN, FP], [FN, TP]]`` with banger as the positive class.
    """

    n: int
    threshold: float
    accuracy: float | None
    balanced_accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None
    confusion: list[list[int]]


@dataclass(frozen=True)
class Split:
    """How the test set was held out, in words every page and command prints."""

    method: str
    test_tracks: int
    test_segments: int
    unscored_segments: int = 0

    @property
    def text(self) -> str:
        return f"split by track: {self.test_tracks} test tracks held out ({self.test_segments} segments)"


@dataclass(frozen=True)
class Freshness:
    """Which labels a figure was computed against, and how far they moved since training.

    Figures use the consensus verdicts *now*; ``changed`` counts segments the model was trained
    or tested on whose verdict is different now, ``added`` the labelled segments it never saw.
    ``known`` is False for models trained before their labels were recorded.
    """

    trained_at: str
    changed: int = 0
    added: int = 0
    known: bool = True

    @property
    def stale(self) -> bool:
        return bool(self.changed or self.added)

    @property
    def text(self) -> str:
        base = f"against the labels as of now (model trained {self.trained_at[:16].replace('T', ' ')} UTC)"
        if not self.known:
            return base + "; its training labels were not recorded"
        if not self.stale:
            return base + "; no verdict changed since it was trained"
        return (base + f"; since training {self.changed} verdicts changed and {self.added} segments were "
                "newly labelled: Retrain to learn them")

    def to_json(self) -> dict:
        return {"trained_at": self.trained_at, "changed_since_training": self.changed,
                "new_since_training": self.added, "known": self.known, "stale": self.stale, "text": self.text}


@dataclass(frozen=True)
class Rivals:
    """What the baselines need besides the ConvNet, loaded once per evaluation.

    ``algorithm`` is Haverford's algorithm per test segment (1 banger, 0 not, NaN where the
    answers are incomplete); ``labellers`` maps a name to (that person's verdicts, the majority of
    the *other* labellers on the same segments), 1 / 0 each, segments where the others tie or are
    absent left out; ``train_counts`` are the training labels per verdict.
    """

    train_counts: dict[str, int]
    algorithm: np.ndarray
    labellers: dict[str, tuple[np.ndarray, np.ndarray]]
    models: list[dict] = field(default_factory=list)  # the other models of the same run (``sibling_scores``)
    name: str = "ConvNet"  # the evaluated model's name in the table
    fit_seconds: float | None = None  # the evaluated model's


@dataclass(frozen=True)
class Evaluation:
    """A model on its test tracks: data, metrics at ``threshold``, per-track results, baselines."""

    model_id: int
    split: Split
    threshold: float
    labels: np.ndarray       # [shape=(n,)], 1 = banger
    pred_probs: np.ndarray   # [shape=(n, 2)]
    track_ids: np.ndarray    # [shape=(n,)]
    segment_ids: np.ndarray  # [shape=(n,)]
    rivals: Rivals
    metrics: Metrics
    track_metrics: Metrics
    tracks: list[dict] = field(default_factory=list)
    baselines: list[dict] = field(default_factory=list)
    freshness: Freshness | None = None

    def at(self, threshold: float) -> Evaluation:
        """The same evaluation at another decision threshold (pure numpy, no database)."""
        return dataclasses.replace(score(self.model_id, self.split, self.labels, self.pred_probs, self.track_ids,
                                         self.segment_ids, self.rivals, threshold=threshold),
                                   freshness=self.freshness)

    @property
    def majority_baseline(self) -> float | None:
        """Accuracy of always answering the training labels' majority class on the test segments."""
        return next(r["accuracy"] for r in self.baselines if r["name"] == MAJORITY)

    def summary(self) -> dict:
        """The headline figures, as the Retrain summary, the Train page and both CLI commands show them."""
        return {"split": "by track", "split_text": self.split.text, "test_segments": self.split.test_segments,
                "test_tracks": self.split.test_tracks, "test_accuracy": self.metrics.accuracy,
                "balanced_accuracy": self.metrics.balanced_accuracy, "roc_auc": self.metrics.roc_auc,
                "majority_baseline": self.majority_baseline, "track_accuracy": self.track_metrics.accuracy,
                "threshold": self.threshold, "other_models": self.other_models,
                "labels": self.freshness.to_json() if self.freshness else None}

    @property
    def other_models(self) -> list[dict]:
        """The baselines rows of the other learned models of the same run (same test segments)."""
        return [r for r in self.baselines if r["model_id"] not in (None, self.model_id)]

    def to_json(self) -> dict:
        """The ``haverford evaluate --json`` document."""
        return {"model_id": self.model_id, "split": {**asdict(self.split), "text": self.split.text},
                "threshold": self.threshold, "metrics": asdict(self.metrics),
                "track_metrics": asdict(self.track_metrics), "majority_baseline": self.majority_baseline,
                "labels": self.freshness.to_json() if self.freshness else None,
                "baselines": self.baselines, "tracks": self.tracks}


# --- metrics and curves ------------------------------------------------------------------------

def check_inputs(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``labels`` (N,) in {0, 1} and ``pred_probs`` (N, 2); return them as arrays."""
    labels, pred_probs = np.asarray(labels), np.asarray(pred_probs, dtype=np.float64)
    if labels.ndim != 1 or pred_probs.shape != (len(labels), 2):
        raise HaverfordError(f"labels must be (N,) and pred_probs (N, 2); got {labels.shape} and "
                             f"{pred_probs.shape}")
    if len(labels) and not np.isin(labels, (0, 1)).all():
        raise HaverfordError(f"labels must be 0 (not a banger) or 1 (banger); got {np.unique(labels)}")
    return labels.astype(np.int64), pred_probs


def as_pred_probs(p_banger: np.ndarray) -> np.ndarray:
    """Two-column probabilities from p(banger).

    Parameters
    ----------
    p_banger : np.ndarray [shape=(n,)]

    Returns
    -------
    np.ndarray [shape=(n, 2)], columns (not a banger, banger)
    """
    p = np.asarray(p_banger, dtype=np.float64).reshape(-1)
    return np.column_stack([1.0 - p, p])


def _check_threshold(threshold: float) -> float:
    if not 0.0 <= float(threshold) <= 1.0:
        raise HaverfordError(f"threshold must be between 0 and 1, got {threshold}")
    return float(threshold)


def metrics(labels: np.ndarray, pred_probs: np.ndarray, *, threshold: float = 0.5) -> Metrics:
    """Accuracy, balanced accuracy, precision, recall, F1 (banger positive), ROC AUC, confusion.

    Parameters
    ----------
    labels : np.ndarray [shape=(n,)], 1 = banger
    pred_probs : np.ndarray [shape=(n, 2)]
    threshold : predict banger when ``pred_probs[:, 1] >= threshold``
    """
    labels, pred_probs = check_inputs(labels, pred_probs)
    threshold = _check_threshold(threshold)
    if not len(labels):
        return Metrics(0, threshold, None, None, None, None, None, None, [[0, 0], [0, 0]])
    pred = (pred_probs[:, 1] >= threshold).astype(np.int64)
    confusion = confusion_matrix(labels, pred, labels=[0, 1]).tolist()
    precision, recall, f1, _ = precision_recall_fscore_support(labels, pred, average="binary", pos_label=1,
                                                               zero_division=0)
    with warnings.catch_warnings():  # one class only: balanced accuracy warns, still defined
        warnings.simplefilter("ignore")
        balanced = float(balanced_accuracy_score(labels, pred))
    auc = float(roc_auc_score(labels, pred_probs[:, 1])) if len(np.unique(labels)) == 2 else None
    return Metrics(len(labels), threshold, float(accuracy_score(labels, pred)), balanced, float(precision),
                   float(recall), float(f1), auc, confusion)


def curves(labels: np.ndarray, pred_probs: np.ndarray, *, n_bins: int = 10) -> dict:
    """ROC and precision-recall curves, the reliability diagram and score histograms.

    Returns
    -------
    dict with ``roc`` {fpr, tpr, thresholds}, ``pr`` {precision, recall, thresholds},
    ``calibration`` {prob_pred, prob_true, counts} (uniform bins), ``histogram`` {edges,
    banger, not_a_banger} (counts of p_banger per true verdict); curves are empty lists when the
    test set lacks a class.
    """
    labels, pred_probs = check_inputs(labels, pred_probs)
    p = pred_probs[:, 1]
    out = {"roc": {"fpr": [], "tpr": [], "thresholds": []},
           "pr": {"precision": [], "recall": [], "thresholds": []},
           "calibration": {"prob_pred": [], "prob_true": [], "counts": []}, "histogram": histogram(labels, p)}
    if len(np.unique(labels)) < 2:
        return out
    fpr, tpr, roc_t = roc_curve(labels, p)
    precision, recall, pr_t = precision_recall_curve(labels, p)
    prob_true, prob_pred = calibration_curve(labels, p, n_bins=n_bins, strategy="uniform")
    out["roc"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": np.clip(roc_t, 0, 1).tolist()}
    out["pr"] = {"precision": precision.tolist(), "recall": recall.tolist(), "thresholds": pr_t.tolist()}
    counts = np.histogram(p, bins=np.linspace(0, 1, n_bins + 1))[0]
    out["calibration"] = {"prob_pred": prob_pred.tolist(), "prob_true": prob_true.tolist(),
                          "counts": counts[counts > 0].tolist()}
    return out


def histogram(labels: np.ndarray, p_banger: np.ndarray, *, n_bins: int = 20) -> dict:
    """Counts of p_banger in ``n_bins`` equal bins, separately for each true verdict."""
    edges = np.linspace(0, 1, n_bins + 1)
    return {"edges": edges.tolist(),
            "banger": np.histogram(p_banger[labels == 1], bins=edges)[0].tolist(),
            "not_a_banger": np.histogram(p_banger[labels == 0], bins=edges)[0].tolist()}


def track_results(labels: np.ndarray, pred_probs: np.ndarray, track_ids: np.ndarray, *,
                  threshold: float = 0.5) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Track verdicts from the mean segment score against each track's label.

    A track's label is the majority of its segments' labels (``vocabulary.majority_class``, the
    rule that stratifies the split); a track whose segments tie has no label (``label`` None,
    ``correct`` None) and is left out of ``track_labels`` and ``track_probs``.

    Returns
    -------
    rows : ``{track_id, segments, banger_share, mean_p_banger, label, predicted, correct}``
    track_labels : np.ndarray [shape=(n_labelled_tracks,)]
    track_probs : np.ndarray [shape=(n_labelled_tracks, 2)]
    """
    labels, pred_probs = check_inputs(labels, pred_probs)
    tracks, inverse, sizes = np.unique(track_ids, return_inverse=True, return_counts=True)
    n_banger = np.bincount(inverse, weights=labels, minlength=len(tracks))
    mean_p = np.bincount(inverse, weights=pred_probs[:, 1], minlength=len(tracks)) / np.maximum(sizes, 1)
    truth = [majority_class(b, n - b) for b, n in zip(n_banger, sizes, strict=False)]
    predicted = [CLASSES[int(m >= threshold)] for m in mean_p]
    rows = [{"track_id": int(t), "segments": int(n), "banger_share": float(b / n), "mean_p_banger": float(m),
             "label": y, "predicted": g, "correct": None if y is None else y == g}
            for t, n, b, m, y, g in zip(tracks, sizes, n_banger, mean_p, truth, predicted, strict=False)]
    keep = np.array([y is not None for y in truth], dtype=bool)
    track_labels = np.array([int(y == BANGER) for y in truth if y is not None], dtype=np.int64)
    return rows, track_labels, as_pred_probs(mean_p[keep])


# --- baselines ---------------------------------------------------------------------------------

def baseline_row(name: str, labels: np.ndarray, guesses: np.ndarray, *, note: str = "",
                 tracks: int | None = None) -> dict:
    """Accuracy and balanced accuracy of hard guesses (1 = banger) against ``labels``.

    Rows of hard guesses have no ROC AUC, track accuracy or fit time (None), unlike ``model_row``'s.
    """
    row = {"name": name, "segments": len(labels), "tracks": tracks, "accuracy": None,
           "balanced_accuracy": None, "f1": None, "roc_auc": None, "track_accuracy": None,
           "fit_seconds": None, "model_id": None, "note": note}
    if len(labels):
        guesses = np.asarray(guesses).astype(np.int64)
        with warnings.catch_warnings():  # one class only: balanced accuracy warns, still defined
            warnings.simplefilter("ignore")
            row.update(accuracy=float(accuracy_score(labels, guesses)),
                       balanced_accuracy=float(balanced_accuracy_score(labels, guesses)),
                       f1=float(f1_score(labels, guesses, zero_division=0)))
    return row


def majority_baseline(labels: np.ndarray, train_counts: dict[str, int], *, tracks: int) -> dict:
    """The one majority baseline: always answer the majority class of the training labels (a tie
    answers banger), scored on the test segments ``labels``."""
    majority = max(CLASSES, key=lambda c: (train_counts.get(c, 0), c == BANGER))
    guesses = np.full(len(labels), float(majority == BANGER))
    return baseline_row(MAJORITY, labels, guesses, tracks=tracks,
                        note=f"always '{majority}' (majority of {sum(train_counts.values())} training labels)")


def algorithm_baseline(labels: np.ndarray, algorithm: np.ndarray, convnet_p: np.ndarray, *,
                       threshold: float, name: str = "ConvNet") -> list[dict]:
    """Haverford's algorithm on the segments whose answers are complete, and the ConvNet on exactly those.

    Parameters
    ----------
    labels : np.ndarray [shape=(n,)]
    algorithm : np.ndarray [shape=(n,)], 1 / 0, NaN where the answers are incomplete
    convnet_p : np.ndarray [shape=(n,)], p_banger
    """
    keep = ~np.isnan(algorithm)
    note = f"on the {int(keep.sum())} of {len(labels)} test segments whose answers are complete"
    return [baseline_row("Haverford's algorithm", labels[keep], algorithm[keep], note=note),
            baseline_row(f"{name}, same segments", labels[keep], (convnet_p[keep] >= threshold).astype(float),
                         note=note)]


def labeller_baselines(labellers: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    """Each labeller's latest verdicts against the majority of the other labellers (leave one out)."""
    return [baseline_row(f"labeller {name}", others, guesses,
                         note=f"vs the other labellers' majority on {len(guesses)} test segments")
            for name, (guesses, others) in sorted(labellers.items()) if len(guesses)]


def model_baseline(name: str, labels: np.ndarray, p_banger: np.ndarray, track_ids: np.ndarray, *,
                   threshold: float, model_id: int, fit_seconds: float | None, note: str = "") -> dict:
    """A learned model's row: the same ``metrics`` and ``track_results`` as the evaluated model's figures.

    Parameters
    ----------
    labels, track_ids : np.ndarray [shape=(n,)], the test segments
    p_banger : np.ndarray [shape=(n,)], NaN where the model has not scored a segment (left out)
    """
    keep = ~np.isnan(np.asarray(p_banger, dtype=np.float64))
    probs = as_pred_probs(np.asarray(p_banger)[keep])
    segment = metrics(labels[keep], probs, threshold=threshold)
    _, track_labels, track_probs = track_results(labels[keep], probs, track_ids[keep], threshold=threshold)
    return {"name": name, "segments": segment.n, "tracks": len(np.unique(track_ids[keep])),
            "accuracy": segment.accuracy, "balanced_accuracy": segment.balanced_accuracy, "f1": segment.f1,
            "roc_auc": segment.roc_auc,
            "track_accuracy": metrics(track_labels, track_probs, threshold=threshold).accuracy,
            "fit_seconds": fit_seconds, "model_id": model_id,
            "note": note or f"model {model_id} at threshold {threshold:g}"}


def other_model_baselines(labels: np.ndarray, track_ids: np.ndarray, models: list[dict], *,
                          threshold: float) -> list[dict]:
    """The other models trained in the same run, on exactly the same test segments."""
    return [model_baseline(m["name"], labels, m["p_banger"], track_ids, threshold=threshold, model_id=m["model_id"],
                           fit_seconds=m["fit_seconds"], note=f"model {m['model_id']}, same run and split")
            for m in models]


def baselines(labels: np.ndarray, p_banger: np.ndarray, rivals: Rivals, *, threshold: float,
              tracks: int, model_id: int, track_ids: np.ndarray) -> list[dict]:
    """The table the seed wished for: every rival on the same test tracks, the evaluated model last."""
    rows = [majority_baseline(labels, rivals.train_counts, tracks=tracks)]
    rows += algorithm_baseline(labels, rivals.algorithm, p_banger, threshold=threshold, name=rivals.name)
    rows += labeller_baselines(rivals.labellers)
    rows += other_model_baselines(labels, track_ids, rivals.models, threshold=threshold)
    rows.append(model_baseline(rivals.name, labels, p_banger, track_ids, threshold=threshold, model_id=model_id,
                               fit_seconds=rivals.fit_seconds))
    return rows


# --- a model's evaluation ----------------------------------------------------------------------

def model_row(db, model_id: int | None) -> dict:
    """The model asked for, else the active one; the error says how to get one."""
    from haverford.core.predict import model_row as find  # no TensorFlow: predict imports it lazily

    return find(db, model_id)


def test_data(db, model: dict) -> tuple[Split, dict[str, np.ndarray]]:
    """The model's held-out test tracks' labelled, scored segments as aligned arrays."""
    test_tracks = [int(t) for t in (model["params"].get("split") or {}).get("test", [])]
    rows = eval_db.scored_labels(db, model["id"], test_tracks)
    scored = np.array([r for r in rows if r[3] is not None], dtype=np.float64).reshape(-1, 4)
    data = {"segment_ids": scored[:, 0].astype(np.int64), "track_ids": scored[:, 1].astype(np.int64),
            "labels": scored[:, 2].astype(np.int64), "p_banger": scored[:, 3]}
    n_tracks = len(set(data["track_ids"].tolist()))
    return Split("by track", n_tracks, len(scored), len(rows) - len(scored)), data


def ruled_answers(rows: list[dict], questions: list[dict]) -> list[dict]:
    """The answer rows of (segment, labeller) pairs that answered a question with a rule: the others
    (e.g. a folder label, a bare verdict) can only come out incomplete, so the algorithm skips them."""
    ruled = {q["key"] for q in questions if q.get("rule")}
    pairs = {(r["segment_id"], r["labeller"]) for r in rows if r["key"] in ruled}
    return [r for r in rows if (r["segment_id"], r["labeller"]) in pairs]


def load_rivals(db, model: dict, segment_ids: np.ndarray) -> Rivals:
    """Training label counts, Haverford's algorithm and each labeller's verdicts on the test segments."""
    questions = questions_db.list_questions(db)
    rows = library_db.latest_answers(db, segment_ids.tolist())
    decided = algorithm_verdicts(ruled_answers(rows, questions), questions)
    algorithm = np.array([np.nan if decided.get(int(s)) is None else float(decided[int(s)] == BANGER)
                          for s in segment_ids], dtype=np.float64)
    train_tracks = (model["params"].get("split") or {}).get("train", [])
    return Rivals(eval_db.verdict_counts(db, train_tracks), algorithm,
                  labeller_guesses(rows, segment_ids, verdict_question=questions_db.verdict_question_id(db)),
                  models=sibling_scores(db, model, segment_ids), name=model_name(model),
                  fit_seconds=fit_seconds(model))


def model_name(model: dict) -> str:
    """How a model is named in the baselines table: ``ConvNet``, or the other model's name."""
    if model.get("kind") == models_db.CLASSIC:
        return model.get("name") or model["preset"]
    return "ConvNet"


def fit_seconds(model: dict) -> float | None:
    """Seconds the model took to fit (a ConvNet trained before this was recorded: its whole training)."""
    return model["params"].get("fit_seconds", model["params"].get("seconds"))


def sibling_scores(db, model: dict, segment_ids: np.ndarray) -> list[dict]:
    """The other models of ``model``'s run (a Retrain fits a ConvNet and the ``core.classic`` models
    on one split), each with its p_banger on ``segment_ids`` (NaN where it has not scored one)."""
    if model.get("run_id") is None:
        return []
    out = []
    for other in models_db.run_models(db, model["run_id"]):
        if other["id"] != model["id"]:
            scores = models_db.predictions(db, other["id"])
            out.append({"name": model_name(other), "model_id": other["id"], "fit_seconds": fit_seconds(other),
                        "p_banger": np.array([scores.get(int(s), np.nan) for s in segment_ids], dtype=np.float64)})
    return out


def labeller_guesses(rows: list[dict], segment_ids: np.ndarray, *,
                     verdict_question: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Labeller → (their verdicts, the other labellers' majority), 1 / 0, from latest-answer rows.

    Comparing a labeller with a consensus that holds their own vote would flatter them, so each
    is compared with the others only; segments where the others tie or nobody else answered
    are left out.
    """
    wanted = {int(s) for s in segment_ids}
    votes: dict[int, dict[str, str]] = {}
    for r in rows:
        if r["question_id"] == verdict_question and r["value"] in VERDICTS and int(r["segment_id"]) in wanted:
            votes.setdefault(int(r["segment_id"]), {})[r["labeller"]] = r["value"]
    people: dict[str, list[tuple[float, float]]] = {}
    for by_labeller in votes.values():
        for name, guess in by_labeller.items():
            others = consensus(v for who, v in by_labeller.items() if who != name)
            if guess in CLASSES and others in CLASSES:
                people.setdefault(name, []).append((float(guess == BANGER), float(others == BANGER)))
    return {name: (np.array([g for g, _ in pairs]), np.array([o for _, o in pairs])) for name, pairs in people.items()}


def score(model_id: int, split: Split, labels: np.ndarray, pred_probs: np.ndarray, track_ids: np.ndarray,
          segment_ids: np.ndarray, rivals: Rivals, *, threshold: float) -> Evaluation:
    """Metrics, per-track results and baselines at ``threshold`` (pure numpy)."""
    threshold = _check_threshold(threshold)
    tracks, track_labels, track_probs = track_results(labels, pred_probs, track_ids, threshold=threshold)
    return Evaluation(model_id, split, threshold, labels, pred_probs, track_ids, segment_ids, rivals,
                      metrics=metrics(labels, pred_probs, threshold=threshold),
                      track_metrics=metrics(track_labels, track_probs, threshold=threshold), tracks=tracks,
                      baselines=baselines(labels, pred_probs[:, 1], rivals, threshold=threshold,
                                          tracks=split.test_tracks, model_id=model_id, track_ids=track_ids))


def evaluate_model(home: Home, model_id: int | None = None, *, threshold: float = 0.5) -> Evaluation:
    """Evaluate a model (default: the active one) on the test tracks it held out when trained.

    Raises ``HaverfordError`` when there is no model or it has no scored, labelled test segments.
    """
    threshold = _check_threshold(threshold)
    db = home.connect()
    model = model_row(db, model_id)
    split, data = test_data(db, model)
    if not split.test_segments:
        raise HaverfordError(f"model {model['id']} has no scored, labelled segments on its test tracks; "
                             f"retrain with 'haverford train' (it scores the library when it finishes)")
    rivals = load_rivals(db, model, data["segment_ids"])
    result = score(model["id"], split, data["labels"], as_pred_probs(data["p_banger"]), data["track_ids"],
                   data["segment_ids"], rivals, threshold=threshold)
    return dataclasses.replace(result, freshness=freshness(db, model))


def freshness(db, model: dict) -> Freshness:
    """How the labels moved since ``model`` was trained (see ``Freshness``)."""
    if not models_db.has_label_snapshot(db, model["id"]):
        return Freshness(model["created_at"], known=False)
    return Freshness(model["created_at"], **models_db.label_changes(db, model["id"]))


def misclassified(home: Home, model_id: int | None = None, *, threshold: float = 0.5, side: str | None = None,
                  track_id: int | None = None, labeller: str | None = None, min_confidence: float = 0.5,
                  limit: int = 50, offset: int = 0) -> dict:
    """One page of the labelled segments a model (default: the active one) gets wrong, most
    confidently wrong first, against the consensus verdicts now.

    Returns ``{"model": row, "rows": [...], "total", "reviewed", "labels": Freshness}``; rows as
    ``db.evaluation.misclassified``. Raises ``NotFoundError`` when there is no such model.
    """
    threshold = _check_threshold(threshold)
    db = home.connect()
    model = model_row(db, model_id)
    rows, totals = eval_db.misclassified(db, model["id"], threshold=threshold, side=side, track_id=track_id,
                                         labeller=labeller, min_confidence=min_confidence, limit=limit,
                                         offset=offset)
    return {"model": model, "rows": rows, **totals, "labels": freshness(db, model)}
