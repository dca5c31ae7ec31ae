"""The stored split by track, and the labelled segments on each side of it.

The split is stratified by each track's label (the majority of its segments' consensus
verdicts, ``vocabulary.majority_class``; tracks whose segments tie form a stratum of their own)
and stored in ``splits``: a track keeps its side forever, and new tracks fill each stratum
towards 70/10/20 (train/validation/test) in an order fixed by a hash of their content, so
models trained on more labels stay comparable. Labels are the consensus verdicts
(``vocabulary.consensus``); ties and 'ambiguous' are left out and counted.
No TensorFlow here: the pages and the evaluation read the split too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from haverford.core.errors import HaverfordError
from haverford.core.vocabulary import CLASSES, SIDES, TEST, TRAIN, VALIDATION
from haverford.db import models as models_db

SHARES = {TEST: 0.2, VALIDATION: 0.1}
STRATA = (*CLASSES, None)  # None: tracks whose segments tie


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
    for verdict in STRATA:
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
    targets = {TEST: round(SHARES[TEST] * total), VALIDATION: round(SHARES[VALIDATION] * total)}
    targets[TRAIN] = total - targets[TEST] - targets[VALIDATION]
    if counts[TRAIN] == 0:  # a class needs a training example before it can be held out
        return TRAIN
    return max(SIDES, key=lambda s: (targets[s] - counts[s], s == TRAIN))


def assign_split(db, *, seed: int = 0) -> dict[int, str]:
    """Assign new labelled tracks to a side (stored), and return the whole split."""
    tracks = models_db.labelled_tracks(db)
    assigned = models_db.split_sides(db)
    new = plan_sides(tracks, assigned, seed=seed)
    if new:
        models_db.assign_sides(db, new)
    return models_db.split_sides(db)


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


def trainable_split(db, *, seed: int = 0) -> tuple[dict[int, str], dict[str, Subset], int]:
    """The split (``assign_split``), its labelled subsets and the number of labelled segments left
    out (tied or ambiguous verdicts), checked before any feature is computed or TensorFlow loads.

    Raises ``HaverfordError`` without both classes in training or with an empty test side.
    """
    sides = assign_split(db, seed=seed)
    subsets = labelled_subsets(db, sides)
    excluded = models_db.excluded_label_count(db)
    train, test = subsets[TRAIN], subsets[TEST]
    if len(np.unique(train.labels)) < 2 or not len(test):
        raise HaverfordError(
            f"not enough labelled music to train: {len(train)} training and {len(test)} test "
            f"segments ({excluded} tied or ambiguous verdicts left out); label at least 3 tracks of each class "
            f"as banger and not_a_banger (or build the demo library at its default size in a home of its own: "
            f"'haverford demo --home DIR')")
    return sides, subsets, excluded
