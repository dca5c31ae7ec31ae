"""The ConvNet: presets (hyperparameters as data) and ``build_model``, pure and uncompiled.

``seed`` is the 2018 notebook's network, exactly (TensorFlow's deep-MNIST shape on ``log_stft``);
``fast`` is the default, sized by measurement for a 2-core CPU on ``log_mel``
(bench/README.md, "Training"); ``tiny`` keeps the tests fast. Inputs are normalised inside the
model by a fixed affine layer built from constants measured on the training set, so a saved
``.keras`` file normalises exactly as training did.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off stderr

import keras  # noqa: E402
from keras import layers  # noqa: E402

from haverford.core.errors import HaverfordError  # noqa: E402

# Output index → class; p_banger is the softmax of logit 1.
CLASSES = ("not_a_banger", "banger")


@dataclass(frozen=True)
class Preset:
    """A network and how to train it.

    ``steps`` fixes the number of optimiser steps (the seed's 1000) and disables early
    stopping; otherwise training runs up to ``epochs`` epochs and stops after ``patience``
    epochs without a better validation loss, restoring the best weights.
    """

    name: str
    feature: str
    conv: tuple[tuple[int, int], ...]  # (filters, kernel) per conv block
    dense: int
    dropout: float
    batch_norm: bool
    global_pool: bool
    learning_rate: float
    batch_size: int
    epochs: int = 30
    patience: int | None = 4
    steps: int | None = None
    steps_per_epoch: int | None = None  # for step-based presets: how often curves are recorded
    pool_input: tuple[int, int] | None = None
    bn_momentum: float = 0.9  # Keras' 0.99 lags far behind on a few hundred steps; fast uses 0.5
    description: str = ""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "Preset":
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("seed", "log_stft", conv=((32, 5), (16, 5)), dense=256, dropout=0.5, batch_norm=False,
           global_pool=False, learning_rate=1e-4, batch_size=50, steps=1000, steps_per_epoch=100,
           patience=None, description="the 2018 notebook's ConvNet: ~57 M weights, 1000 steps of 50"),
    Preset("fast", "log_mel", conv=((16, 3), (32, 3), (32, 3)), dense=32, dropout=0.5,
           batch_norm=True, global_pool=True, learning_rate=3e-3, batch_size=32, epochs=25,
           patience=4, pool_input=(2, 2), bn_momentum=0.5,
           description="default: small conv-pool blocks with batch norm and global pooling"),
    Preset("tiny", "log_mel", conv=((8, 3), (8, 3)), dense=8, dropout=0.2, batch_norm=True,
           global_pool=True, learning_rate=1e-2, batch_size=16, epochs=12, patience=3,
           pool_input=(4, 4), description="for tests: trains in seconds"),
)}
DEFAULT_PRESET = "fast"


def get_preset(name: str) -> Preset:
    """Look up a preset by name; the error lists the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise HaverfordError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def build_model(input_shape: tuple[int, ...], *, preset: Preset | str, norm: tuple[float, float] = (-40.0, 20.0)) -> keras.Model:
    """The ConvNet for ``preset``, uncompiled.

    Parameters
    ----------
    input_shape : (n_bins, n_frames) or (n_bins, n_frames, 1)
    preset : Preset or its name
    norm : (mean, std) of the training features in dB; the model computes ``(x - mean) / std``

    Returns
    -------
    keras.Model mapping [shape=(batch, n_bins, n_frames)] dB to [shape=(batch, 2)] logits
    (index 1 = banger)
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    mean, std = float(norm[0]), float(norm[1])
    inputs = keras.Input(shape=tuple(input_shape[:2]), name="features_db")
    x = layers.Reshape((*input_shape[:2], 1))(inputs)
    x = layers.Rescaling(scale=1.0 / std, offset=-mean / std, name="normalise")(x)
    if preset.pool_input:
        x = layers.AveragePooling2D(preset.pool_input, padding="same")(x)
    for filters, kernel in preset.conv:
        x = _conv_block(x, filters, kernel, batch_norm=preset.batch_norm, momentum=preset.bn_momentum)
    x = layers.GlobalAveragePooling2D()(x) if preset.global_pool else layers.Flatten()(x)
    x = layers.Dense(preset.dense, activation="relu")(x)
    x = layers.Dropout(preset.dropout)(x)
    outputs = layers.Dense(len(CLASSES), name="logits")(x)
    return keras.Model(inputs, outputs, name=f"haverford_{preset.name}")


def _conv_block(x, filters: int, kernel: int, *, batch_norm: bool, momentum: float):
    """conv (SAME) → [batch norm] → ReLU → max-pool 2×2 (SAME)."""
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=not batch_norm)(x)
    if batch_norm:
        x = layers.BatchNormalization(momentum=momentum)(x)
    x = layers.ReLU()(x)
    return layers.MaxPooling2D(2, padding="same")(x)


def inference_batch_size(model: keras.Model, *, max_floats: int = 2 ** 26, cap: int = 512) -> int:
    """Segments per forward pass so that the largest conv activation stays under ~256 MB.

    The seed network's first conv alone makes 7 M floats per segment on (1025, 216), so a
    batch of 256 would need 7 GB; the fast preset takes the cap.
    """
    sizes = [math.prod(layer.output.shape[1:]) for layer in model.layers if isinstance(layer, layers.Conv2D)]
    return max(1, min(cap, max_floats // max(sizes, default=1)))


def compile_model(model: keras.Model, *, preset: Preset) -> keras.Model:
    """Adam and softmax cross-entropy on the logits, as the seed did; returns ``model``."""
    model.compile(optimizer=keras.optimizers.Adam(preset.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model
