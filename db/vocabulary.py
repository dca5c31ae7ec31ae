"""The words Haverford stores, defined once: verdicts, split sides, presets, queue modes, and the
consensus rule that turns several labellers' verdicts into one.

Everything else imports these names (``haverford.core.vocabulary`` re-exports them for the
layers above the database); SQL binds them as parameters and calls the consensus rule as the
SQLite aggregate ``verdict_consensus`` registered on every connection, so the rule that fills
``segment_verdicts`` is the very function that training, evaluation and the pages use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

BANGER = "banger"
NOT_A_BANGER = "not_a_banger"
AMBIGUOUS = "ambiguous"
# The two classes in the model's order: column 0 of ``pred_probs`` is P(not a banger), column 1
# P(banger), and a label is ``CLASSES.index(verdict)`` (1 = banger), as in the seed's one-hot.
CLASSES: tuple[str, str] = (NOT_A_BANGER, BANGER)
VERDICTS: tuple[str, ...] = (BANGER, NOT_A_BANGER, AMBIGUOUS)
VERDICT_NAMES = {BANGER: "Banger", NOT_A_BANGER: "Not a banger", AMBIGUOUS: "Ambiguous"}

# The stored split by track: a track keeps its side forever.
TRAIN, VALIDATION, TEST = "train", "validation", "test"
SIDES: tuple[str, ...] = (TRAIN, VALIDATION, TEST)

# Model presets (``haverford.core.model`` holds their settings; reading the names needs no TensorFlow).
PRESET_NAMES: tuple[str, ...] = ("seed", "fast", "tiny", "transfer", "transfer-rhythm")
DEFAULT_PRESET = "transfer-rhythm"

# Labelling queues, in the order the Label page offers them.
QUEUE_MODES: tuple[str, ...] = ("unlabelled_by_me", "unlabelled", "random", "track_order",
                                "disagreements", "most_uncertain")

# Named SQL parameters for the verdicts: ``WHERE v.verdict IN (:not_a_banger, :banger)``.
VERDICT_PARAMS = {BANGER: BANGER, NOT_A_BANGER: NOT_A_BANGER, AMBIGUOUS: AMBIGUOUS}

# The relabel reason that says the segment's label was wrong: a correction, not one more opinion.
CORRECTION = "label was wrong"

CONSENSUS_RULE = ("each labeller's latest verdict counts once, from the segment's latest correction on "
                  "(a relabel whose reason is 'label was wrong' sets aside the votes given before it); "
                  "'ambiguous' wins when it has at least as many votes as either class; otherwise the class "
                  "with strictly more votes wins; a tie between the classes gives no verdict")


def consensus(votes: Iterable[str | None]) -> str | None:
    """The consensus verdict of one segment's votes (each labeller's latest verdict).

    Parameters
    ----------
    votes : iterable of ``'banger'``, ``'not_a_banger'``, ``'ambiguous'`` (others are ignored)

    Returns
    -------
    ``'ambiguous'`` when it has at least as many votes as either class (and at least one);
    else the class with strictly more votes; ``None`` for a tie or no votes (see ``CONSENSUS_RULE``).
    """
    counts = Counter(v for v in votes if v in VERDICTS)
    banger, other, ambiguous = counts[BANGER], counts[NOT_A_BANGER], counts[AMBIGUOUS]
    if ambiguous and ambiguous >= max(banger, other):
        return AMBIGUOUS
    if banger == other:
        return None
    return BANGER if banger > other else NOT_A_BANGER


def majority_class(n_banger: float, n_not_a_banger: float) -> str | None:
    """The class with strictly more weight, ``None`` on a tie: the consensus rule without
    'ambiguous', for a track's label from its segments' verdicts."""
    if n_banger == n_not_a_banger:
        return None
    return BANGER if n_banger > n_not_a_banger else NOT_A_BANGER


class ConsensusAggregate:
    """``verdict_consensus(value)``: ``consensus`` as a SQLite aggregate function."""

    def __init__(self) -> None:
        self.votes: list[str | None] = []

    def step(self, value: str | None) -> None:
        self.votes.append(value)

    def finalize(self) -> str | None:
        return consensus(self.votes)


class MajorityAggregate:
    """``track_majority(verdict)``: ``majority_class`` over segment verdicts as a SQLite aggregate."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()

    def step(self, value: str | None) -> None:
        self.counts[value] += 1

    def finalize(self) -> str | None:
        return majority_class(self.counts[BANGER], self.counts[NOT_A_BANGER])
