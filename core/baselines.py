"""The baselines a model is compared with on the same test segments: the majority class of the
training labels, Haverford's algorithm, each labeller against the others, and the other models
of the same run. Each is one row of the Evaluate page's table and ``haverford evaluate --json``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from haverford.core.metrics import as_pred_probs, metrics, track_results
from haverford.core.vocabulary import BANGER, CLASSES, VERDICTS, consensus

MAJORITY = "majority class"  # the baseline row's name


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


def labeller_guesses(rows: list[dict], segment_ids: np.ndarray, *,
                     verdict_question: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Labeller → (their verdicts, the other labellers' majority), 1 / 0, from latest-answer rows.

    Comparing a labeller with a consensus that holds their own vote would flatter them, so each
    is compared with the others only; segments where the others tie or nobody else answered
    are left out. Votes a later correction set aside (``counted`` 0) take no part, as in the
    consensus itself.
    """
    wanted = {int(s) for s in segment_ids}
    votes: dict[int, dict[str, str]] = {}
    for r in rows:
        if (r["question_id"] == verdict_question and r["value"] in VERDICTS and int(r["segment_id"]) in wanted
                and r.get("counted", 1)):
            votes.setdefault(int(r["segment_id"]), {})[r["labeller"]] = r["value"]
    people: dict[str, list[tuple[float, float]]] = {}
    for by_labeller in votes.values():
        for name, guess in by_labeller.items():
            others = consensus(v for who, v in by_labeller.items() if who != name)
            if guess in CLASSES and others in CLASSES:
                people.setdefault(name, []).append((float(guess == BANGER), float(others == BANGER)))
    return {name: (np.array([g for g, _ in pairs]), np.array([o for _, o in pairs])) for name, pairs in people.items()}
