"""Classification figures from ``labels`` (N,) and ``pred_probs`` (N, 2): metrics at a threshold,
curves, score histograms and track verdicts. Numbers come from scikit-learn.

Labels are 1 = banger, 0 = not a banger; ``pred_probs`` columns follow ``core.vocabulary.CLASSES``:
``[:, 0]`` not a banger, ``[:, 1]`` banger.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from haverford.core.errors import HaverfordError
from haverford.core.vocabulary import BANGER, CLASSES, majority_class


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


def check_threshold(threshold: float) -> float:
    """``threshold`` as a float; a value outside [0, 1] raises ``HaverfordError``."""
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
    threshold = check_threshold(threshold)
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
