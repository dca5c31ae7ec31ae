"""Labelled segments as Keras input: batches read from the feature store on demand, class
weights, the input normalisation measured on the training side, and an optional augmentation of
training batches (random time shift and SpecAugment masks; strength 0 = off, the presets' default).
"""

from __future__ import annotations

import math

from haverford.core.quiet import import_tensorflow_quietly

import_tensorflow_quietly()  # no native start-up chatter on stderr

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

from haverford.core import features as features_mod  # noqa: E402
from haverford.core.home import Home  # noqa: E402
from haverford.core.split import Subset  # noqa: E402
from haverford.db import tracks as tracks_db  # noqa: E402

NORM_SAMPLE = 256
MAX_SHIFT = 0.25  # of the frames, at strength 1
MAX_MASK = 0.15   # of the bins / frames, at strength 1 (SpecAugment's F=27 of 80 bands is 0.34; milder here)


def augment_batch(x: np.ndarray, *, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Randomly shift each spectrogram in time and mask one band of bins and one of frames.

    The masks follow SpecAugment (Park et al. 2019, "SpecAugment: a simple data augmentation
    method for automatic speech recognition", frequency and time masking), filled with the
    spectrogram's mean; the shift is circular, up to ``MAX_SHIFT * strength`` of the frames, and
    each mask up to ``MAX_MASK * strength`` wide. A gain change would do nothing: every feature is
    in dB relative to its own maximum.

    Parameters
    ----------
    x : np.ndarray [shape=(b, n_bins, n_frames)], dB
    strength : 0 (returns ``x`` unchanged) to 1
    rng : the generator to draw from (seeded per batch by the caller)

    Returns
    -------
    np.ndarray [shape=(b, n_bins, n_frames)], a new array unless ``strength`` is 0
    """
    if strength <= 0:
        return x
    out = np.array(x, copy=True)
    _, n_bins, n_frames = out.shape
    for spec in out:
        spec[:] = np.roll(spec, int(rng.integers(-1, 2) * rng.uniform(0, MAX_SHIFT * strength) * n_frames), axis=1)
        fill = spec.mean()
        _mask(spec, axis=0, width=int(rng.uniform(0, MAX_MASK * strength) * n_bins), rng=rng, fill=fill)
        _mask(spec, axis=1, width=int(rng.uniform(0, MAX_MASK * strength) * n_frames), rng=rng, fill=fill)
    return out


def _mask(spec: np.ndarray, *, axis: int, width: int, rng: np.random.Generator, fill: float) -> None:
    """Set ``width`` consecutive rows (axis 0) or columns (axis 1) at a random place to ``fill``."""
    if width <= 0:
        return
    start = int(rng.integers(0, spec.shape[axis] - width + 1))
    index = (slice(start, start + width), slice(None)) if axis == 0 else (slice(None), slice(start, start + width))
    spec[index] = fill


class SegmentBatches(keras.utils.PyDataset):
    """Batches of features read from the store on demand: memory does not grow with the library.

    Yields ``(x [shape=(b, n_bins, n_frames), float32], y [shape=(b,)], w [shape=(b,)])``.
    Epoch-based: a fresh seeded permutation per epoch. With ``steps_per_epoch`` set: batches are
    cut from an endless stream of seeded permutations (the seed's fixed number of steps).
    ``augment`` > 0 augments shuffled (training) batches with ``augment_batch``.
    """

    def __init__(self, home: Home, subset: Subset, *, feature: str, batch_size: int, seed: int,
                 shuffle: bool = True, weights: np.ndarray | None = None,
                 steps_per_epoch: int | None = None, on_batch=None, augment: float = 0.0):
        super().__init__()
        self.store, self.feature, self.batch_size = home.store, feature, batch_size
        db, ids = home.connect(), subset.segment_ids.tolist()
        self.locations = {part: tracks_db.segment_locations(db, ids, part) for part in features_mod.parts(feature)}
        self.labels = subset.labels
        self.weights = weights if weights is not None else np.ones(len(subset), dtype=np.float32)
        self.seed, self.shuffle, self.steps_per_epoch, self.on_batch = seed, shuffle, steps_per_epoch, on_batch
        self.epoch_number, self.augment = 0, float(augment)

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
        return np.array([self._permutation(int(p // n))[p % n] for p in flat])

    def _permutation(self, k: int) -> np.ndarray:
        return np.random.default_rng([self.seed, k]).permutation(len(self.labels))

    def read(self, rows) -> np.ndarray:
        """The features of rows ``rows`` [shape=(b, n_bins, n_frames), float32]; joined embedding
        features (``"musicnn+rhythm"``) side by side along the bins."""
        parts = [self.store.read([locations[i] for i in rows], part)
                 for part, locations in self.locations.items()]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def __getitem__(self, index: int):
        rows = self.positions(index)
        x = self.read(rows)
        if self.shuffle and self.augment > 0:
            rng = np.random.default_rng([self.seed, self.epoch_number, index])
            x = augment_batch(x, strength=self.augment, rng=rng)
        return x, self.labels[rows], self.weights[rows]


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-segment weights that make both classes count equally (sklearn's ``balanced``).

    Returns
    -------
    np.ndarray [shape=(len(labels),), dtype=float32]
    """
    classes = np.unique(labels)
    per_class = compute_class_weight("balanced", classes=classes, y=labels)
    lookup = dict(zip(classes.tolist(), per_class, strict=False))
    return np.array([lookup[int(y)] for y in labels], dtype=np.float32)


def feature_stats(batches: SegmentBatches, *, max_segments: int = NORM_SAMPLE) -> tuple[float, float]:
    """Mean and standard deviation (dB) of a seeded sample of training segments."""
    rng = np.random.default_rng(batches.seed)
    rows = rng.choice(len(batches.labels), size=min(max_segments, len(batches.labels)), replace=False)
    x = batches.read(sorted(rows))
    return float(x.mean()), float(max(x.std(), 1e-3))
