"""A model's evaluation on the test tracks it held out when it was trained, read from the library:
the figures (``core.metrics``), the baselines on the same segments (``core.baselines``), how far
the labels moved since training (``Freshness``), and the misclassified segments.

Every result carries its split (``Split``): the test tracks are the ones the model held out when
it was trained (``models.params["split"]["test"]``), so segments of one track are never on both
sides. Labels are the current consensus verdicts (1 = banger); ``pred_probs`` columns follow
``core.vocabulary.CLASSES``: ``[:, 0]`` not a banger, ``[:, 1]`` banger.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field

import numpy as np

from haverford.core.baselines import MAJORITY, Rivals, baselines, labeller_guesses
from haverford.core.errors import HaverfordError
from haverford.core.haverford import algorithm_verdicts
from haverford.core.home import Home
from haverford.core.metrics import Metrics, as_pred_probs, check_threshold, metrics, track_results
from haverford.core.vocabulary import BANGER, minute, plural
from haverford.db import evaluation as eval_db
from haverford.db import library as library_db
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import tracks as tracks_db


@dataclass(frozen=True)
class Split:
    """How the test set was held out, in words every page and command prints."""

    method: str
    test_tracks: int
    test_segments: int
    unscored_segments: int = 0

    @property
    def text(self) -> str:
        return f"split by track: {plural(self.test_tracks, 'test track')} held out ({self.test_segments} segments)"


def _count(n: int, noun: str) -> str:
    """``1 verdict``, ``2 verdicts``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class Freshness:
    """Which labels a figure was computed against, and how far they moved since training.

    Figures use the consensus verdicts *now*; ``changed`` counts segments the model was trained
    or tested on whose verdict is different now, ``added`` the labelled segments it never saw.
    ``known`` is False for models trained before their labels were recorded. ``trained_at`` is
    when the training read its labels (ISO-8601 UTC; models saved before that was recorded: when
    they were saved), so a verdict changed while a Retrain runs counts as changed since training.
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
        when = minute(self.trained_at)
        base = f"against the labels as of now (model trained on those of {when} UTC)"
        if not self.known:
            return base + "; its training labels were not recorded"
        if not self.stale:
            return base + "; no verdict changed since it was trained"
        return (base + f"; since training {_count(self.changed, 'verdict')} changed and "
                f"{_count(self.added, 'segment')} {'was' if self.added == 1 else 'were'} "
                "newly labelled: Retrain to learn them")

    def to_json(self) -> dict:
        return {"trained_at": self.trained_at, "changed_since_training": self.changed,
                "new_since_training": self.added, "known": self.known, "stale": self.stale, "text": self.text}


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
    """Training label counts, Haverford's algorithm on the test segments, and each labeller's verdicts
    on every audible segment of the test tracks.

    The labellers are compared with the others wherever the others decide, including segments
    whose consensus is a tie: with two labellers every disagreement is a tie, and leaving those
    out would compare each person only where everyone agreed (always 1.0)."""
    questions = questions_db.list_questions(db)
    rows = library_db.latest_answers(db, segment_ids.tolist())
    decided = algorithm_verdicts(ruled_answers(rows, questions), questions)
    algorithm = np.array([np.nan if decided.get(int(s)) is None else float(decided[int(s)] == BANGER)
                          for s in segment_ids], dtype=np.float64)
    split = model["params"].get("split") or {}
    test_segments = np.array([s for t in split.get("test", []) for s in tracks_db.segment_ids(db, int(t), audible_only=True)],
                             dtype=np.int64)
    labellers = labeller_guesses(library_db.latest_answers(db, test_segments.tolist()), test_segments,
                                 verdict_question=questions_db.verdict_question_id(db))
    return Rivals(eval_db.verdict_counts(db, split.get("train", [])), algorithm, labellers,
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


def score(model_id: int, split: Split, labels: np.ndarray, pred_probs: np.ndarray, track_ids: np.ndarray,
          segment_ids: np.ndarray, rivals: Rivals, *, threshold: float) -> Evaluation:
    """Metrics, per-track results and baselines at ``threshold`` (pure numpy)."""
    threshold = check_threshold(threshold)
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
    threshold = check_threshold(threshold)
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
    """How the labels moved since ``model`` read them to train (see ``Freshness``)."""
    read_at = model["params"].get("labels_read_at", model["created_at"])  # older models: when they were saved
    if not models_db.has_label_snapshot(db, model["id"]):
        return Freshness(read_at, known=False)
    changes = models_db.label_changes(db, model["id"])
    return Freshness(read_at, changed=changes["changed"], added=changes["added"])


def misclassified(home: Home, model_id: int | None = None, *, threshold: float = 0.5, side: str | None = None,
                  track_id: int | None = None, labeller: str | None = None, min_confidence: float = 0.5,
                  limit: int = 50, offset: int = 0) -> dict:
    """One page of the labelled segments a model (default: the active one) gets wrong, most
    confidently wrong first, against the consensus verdicts now.

    Returns ``{"model": row, "rows": [...], "total", "reviewed", "labels": Freshness}``; rows as
    ``db.evaluation.misclassified``. Raises ``NotFoundError`` when there is no such model.
    """
    threshold = check_threshold(threshold)
    db = home.connect()
    model = model_row(db, model_id)
    rows, totals = eval_db.misclassified(db, model["id"], threshold=threshold, side=side, track_id=track_id,
                                         labeller=labeller, min_confidence=min_confidence, limit=limit,
                                         offset=offset)
    return {"model": model, "rows": rows, **totals, "labels": freshness(db, model)}
