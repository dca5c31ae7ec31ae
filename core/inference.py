"""Inference with a saved ConvNet: load a ``.keras`` file, p(banger) for batches of features;
``ConvNetScorer`` is its side of the scorer that ``core.predict`` dispatches to by model kind.

Used by library scoring, ``haverford predict`` and the cross-check; imports TensorFlow, but not
the training code.
"""

from __future__ import annotations

import zipfile

from haverford.core.quiet import import_tensorflow_quietly

import_tensorflow_quietly()  # no native start-up chatter on stderr

import keras  # noqa: E402
import numpy as np  # noqa: E402

from haverford.core.dataset import SegmentBatches  # noqa: E402
from haverford.core.errors import HaverfordError  # noqa: E402
from haverford.core.features import parts  # noqa: E402
from haverford.core.home import Home  # noqa: E402
from haverford.core.model import inference_batch_size  # noqa: E402
from haverford.core.split import Subset  # noqa: E402
from haverford.core.vocabulary import BANGER, CLASSES  # noqa: E402

PREDICT_BATCH = 256


def predict_p_banger(model: keras.Model, batches_x) -> np.ndarray:
    """p(banger) for each segment of an iterable of feature batches.

    Parameters
    ----------
    batches_x : iterable of np.ndarray [shape=(b, n_bins, n_frames)]

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
    """
    step = inference_batch_size(model)
    parts = [_softmax_banger(model.predict_on_batch(x[i:i + step]))
             for x in batches_x for i in range(0, len(x), step)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _softmax_banger(logits) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p[:, CLASSES.index(BANGER)].astype(np.float32)


def load_model(home: Home, row: dict) -> keras.Model:
    """Load a model's ``.keras`` file.

    Raises
    ------
    HaverfordError
        When the file is gone or cannot be read as a Keras model (truncated, overwritten): the
        message says to retrain or to pick another model version.
    """
    path = home.path / row["path"]
    if not path.exists():
        raise HaverfordError(f"model file missing: {path}; retrain with 'haverford train'")
    try:
        return keras.models.load_model(path)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:  # what Keras raises for a damaged archive
        raise HaverfordError(f"model file damaged: {path} ({type(exc).__name__}); retrain with 'haverford train' "
                             f"or pick another model version") from exc


class ConvNetScorer:
    """Scores feature batches with a ConvNet (``core.predict`` dispatches on the model kind)."""

    def __init__(self, model: keras.Model, *, feature: str):
        self.model, self.features = model, parts(feature)

    def p_banger(self, xs: dict[str, np.ndarray]) -> np.ndarray:
        """p(banger) [shape=(n,)] of ``xs[f]`` [shape=(n, n_bins, n_frames)] for each of the
        model's features (embeddings joined by ``+`` go in side by side, in order)."""
        return predict_p_banger(self.model, [np.concatenate([xs[f] for f in self.features], axis=1)])


def load_scorer(home: Home, row: dict) -> ConvNetScorer:
    """The scorer of a ``convnet`` model row."""
    return ConvNetScorer(load_model(home, row), feature=row["feature"])


def predict_subset(home: Home, model: keras.Model, subset: Subset, *, feature: str,
                   progress=None) -> np.ndarray:
    """p(banger) for each segment of ``subset``, read from the feature store in order.

    ``progress(done, total)`` is called after each batch. Returns np.ndarray [shape=(len(subset),)].
    """
    batches = SegmentBatches(home, subset, feature=feature, batch_size=PREDICT_BATCH, seed=0, shuffle=False)
    parts = []
    for i in range(len(batches)):
        parts.append(predict_p_banger(model, [batches[i][0]]))
        if progress:
            progress(i + 1, len(batches))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
