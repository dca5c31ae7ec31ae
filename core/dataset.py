"""Labelled segments as Keras input: batches read from the feature store on demand, class
weights and the input normalisation measured on the training side.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off stderr

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

from haverford.core.home import Home  # noqa: E402
from haverford.core.presets import AUGMENTATIONS  # noqa: E402,F401  (re-exported)
from haverford.core.split import Subset  # noqa: E402
from haverford.db import tracks as tracks_db  # noqa: E402

NORM_SAMPLE = 256


class SegmentBatches(keras.utils.PyDataset):
    """Batches of features read from the store on demand: memory does not grow with the library.

    Yields ``(x [shape=(b, n_bins, n_frames), float32], y [shape=(b,)], w [shape=(b,)])``.
    Epoch-based: a fresh seeded permutation per epoch. With ``steps_per_epoch`` set: batches are
    cut from an endless stream of seeded permutations (the seed's fixed number of steps).
    """

    def __init__(self, home: Home, subset: Subset, *, feature: str, batch_size: int, seed: int,
                 shuffle: bool = True, weights: np.ndarray | None = None,
                 steps_per_epoch: int | None = None, on_batch=None, augment: tuple[str, ...] = ()):
        super().__init__()
        self.augment = tuple(augment)
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
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch_number, index])
            x = augment_batch(x, self.augment, rng=rng)
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


# --- augmentation for robustness to unheard sources (issue 13; presets' ``augment``, off for seed) ---

MASK_BANDS = 16   # SpecAugment's F: widest frequency mask, bands (Park et al. 2019, LibriSpeech basic)
MASK_FRAMES = 27  # SpecAugment's T: widest time mask, frames (ibid.; 27 frames = 0.6 s here)


def augment_batch(x: np.ndarray, names: tuple[str, ...], *, rng: np.random.Generator) -> np.ndarray:
    """Apply the named augmentations to a training batch, each segment drawn independently.

    Parameters
    ----------
    x : np.ndarray [shape=(b, n_bins, n_frames), dtype=float32], dB
    names : subset of ``presets.AUGMENTATIONS``: ``shift`` (random circular shift in time),
        ``masks`` (one SpecAugment frequency mask and one time mask)
    rng : seeded generator (the batch's seed, epoch and index)

    Returns
    -------
    np.ndarray [shape=(b, n_bins, n_frames)], a new array
    """
    x = x.copy()
    if "shift" in names:
        x = shift_in_time(x, rng=rng)
    if "masks" in names:
        x = spec_masks(x, rng=rng)
    return x


def shift_in_time(x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Roll each segment by a random number of frames: a 5-s cut starting anywhere in the bar."""
    shifts = rng.integers(0, x.shape[-1], size=len(x))
    return np.stack([np.roll(seg, int(k), axis=-1) for seg, k in zip(x, shifts)])


def spec_masks(x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """SpecAugment's masks (Park et al. 2019): per segment, one band of up to ``MASK_BANDS`` mel
    bands and one stretch of up to ``MASK_FRAMES`` frames set to the segment's mean dB, in place."""
    n_bins, n_frames = x.shape[1:]
    for seg in x:
        fill = seg.mean()
        f, t = rng.integers(0, MASK_BANDS + 1), rng.integers(0, MASK_FRAMES + 1)
        f0, t0 = rng.integers(0, n_bins - f + 1), rng.integers(0, n_frames - t + 1)
        seg[f0:f0 + f, :] = fill
        seg[:, t0:t0 + t] = fill
    return x
