"""The words Haverford uses, for the layers above the database: verdicts and their order, split
sides, preset names, queue modes and the consensus rule, all defined once in
``haverford.db.vocabulary`` (the database stores and aggregates them), plus their display titles.
"""

from __future__ import annotations

from haverford.db.vocabulary import (
                                     AMBIGUOUS,
                                     BANGER,
                                     CLASSES,
                                     CONSENSUS_RULE,
                                     CORRECTION,
                                     DEFAULT_PRESET,
                                     NOT_A_BANGER,
                                     PRESET_NAMES,
                                     QUEUE_MODES,
                                     SIDES,
                                     TEST,
                                     TRAIN,
                                     VALIDATION,
                                     VERDICT_NAMES,
                                     VERDICTS,
                                     consensus,
                                     majority_class,
)

__all__ = ["AMBIGUOUS", "BANGER", "CLASSES", "CONSENSUS_RULE", "CORRECTION", "DEFAULT_PRESET", "NOT_A_BANGER",
           "CLASSIC_MODEL_NAMES", "PRESET_NAMES", "QUEUE_MODES", "QUEUE_TITLES", "SIDES", "TEST", "TRAIN", "VALIDATION",
           "VERDICT_NAMES", "VERDICTS", "consensus", "majority_class"]

QUEUE_TITLES = {
    "unlabelled_by_me": "Next unlabelled by me",
    "unlabelled": "Unlabelled by anyone",
    "random": "Random (unlabelled by me)",
    "track_order": "In track order",
    "disagreements": "Disagreements",
    "most_uncertain": "Most uncertain for the model",
}
assert tuple(QUEUE_TITLES) == QUEUE_MODES  # one list of queues: a title for each, in order


def minute(stamp: str | None) -> str:
    """A stored ISO-8601 UTC time (``db.connection.now``) as pages and commands show it, to the
    minute: ``2026-12-07T12:16:03.123+00:00`` → ``2026-12-07 12:16`` ("" for None)."""
    return (stamp or "")[:16].replace("T", " ")


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an ``s`` unless ``n`` is 1: "1 track", "3 tracks", "0 tracks"."""
    return f"{n} {word}{'s' * (n != 1)}"

# the other models (core.classic, which loads scikit-learn): key → display name
CLASSIC_MODEL_NAMES = {"logistic_regression": "logistic regression", "linear_svm": "linear SVM",
                       "knn": "k-nearest neighbours"}
