"""The ConvNet: ``build_model(input_shape, *, preset)``, pure and uncompiled (presets live in
``core.presets``). Inputs are normalised inside the
model by a fixed affine layer built from constants measured on the training set, so a saved
``.keras`` file normalises exactly as training did.
"""

from __future__ import annotations

import math

from haverford.core.quiet import import_tensorflow_quietly

import_tensorflow_quietly()  # no native start-up chatter on stderr

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from haverford.core.presets import Preset, get_preset  # noqa: E402  (re-exported)
from haverford.core.vocabulary import BANGER, CLASSES  # noqa: E402

MEMBER_INPUT = "member_input"  # the layer of a head whose output an ensemble's logistic member reads
# Output index → class; p_banger is the softmax of logit 1.


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
    if not preset.conv:
        return _head(input_shape, preset=preset, mean=mean, std=std)
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


def _head(input_shape: tuple[int, ...], *, preset: Preset, mean: float, std: float) -> keras.Model:
    """A preset without conv blocks (``transfer``): a head on a pooled embedding.

    (d, 1) input → flatten → ``(x - mean) / std``, or with ``pretrained_tags`` musicnn's frozen
    back end (``core.pretrained.musicnn.build_backend``: 1506 → 50 tag probabilities; values
    joined after the 1506, such as the 39 of ``rhythm``, go beside the 50 tags) →
    [batch norm: per-dimension scaling] → dropout → [dense ReLU → dropout] → 2 logits. With
    ``dense=0`` and no dropout this is a logistic regression.
    """
    inputs = keras.Input(shape=tuple(input_shape[:2]), name="features")
    x = layers.Flatten()(inputs)
    if preset.pretrained_tags:
        from haverford.core.pretrained import musicnn  # loads the shipped weights

        extra = int(input_shape[0]) - musicnn.POOLED  # values joined after the embedding (musicnn+rhythm)
        if extra:
            embedding = layers.Flatten()(layers.Cropping1D((0, extra), name="embedding")(inputs))
            beside = layers.Flatten()(layers.Cropping1D((musicnn.POOLED, 0), name="beside_embedding")(inputs))
            x = layers.Concatenate(name="tags_and_beside")([musicnn.load_backend()(embedding), beside])
        else:
            x = musicnn.load_backend()(x)
    else:
        x = layers.Rescaling(scale=1.0 / std, offset=-mean / std, name="normalise")(x)
    x = layers.Identity(name=MEMBER_INPUT)(x)  # what an ensemble's logistic member reads (with_logistic_member)
    if preset.batch_norm:
        x = layers.BatchNormalization(momentum=preset.bn_momentum)(x)
    if preset.dropout:
        x = layers.Dropout(preset.dropout)(x)
    if preset.dense:
        x = layers.Dense(preset.dense, activation="relu")(x)
        x = layers.Dropout(preset.dropout)(x)
    regulariser = keras.regularizers.L2(preset.l2) if preset.l2 else None
    outputs = layers.Dense(len(CLASSES), name="logits", kernel_regularizer=regulariser)(x)
    return keras.Model(inputs, outputs, name=f"haverford_{preset.name}")


@keras.saving.register_keras_serializable(package="haverford")
class MeanProbability(layers.Layer):
    """Logits of an ensemble: ``log(mean_i softmax(z_i))`` of its members' logits ``z_i``.

    The softmax of these logits is the mean of the members' class probabilities, so every
    caller that turns logits into p(banger) (``core.inference``) gets the ensemble's average.
    Probabilities are floored at 1e-7 before the log.
    """

    def call(self, inputs):
        mean = keras.ops.mean(keras.ops.stack([keras.ops.softmax(z, axis=-1) for z in inputs]), axis=0)
        return keras.ops.log(keras.ops.maximum(mean, 1e-7))


def with_logistic_member(model: keras.Model, weights: tuple, *, name: str) -> keras.Model:
    """``model`` (a head on an embedding) averaged with a logistic regression on its ``MEMBER_INPUT``.

    Parameters
    ----------
    model : a model from ``build_model`` for a preset without conv blocks (fitted)
    weights : (coef [shape=(d,)], intercept): the logistic regression's p(banger) is
        ``sigmoid(coef · x + intercept)`` on the ``d`` values of ``MEMBER_INPUT`` (scaling folded in)
    name : the ensemble model's name

    Returns
    -------
    keras.Model with the same input, whose logits' softmax is the mean of the two members'
    probabilities (``MeanProbability``); the logistic member is a frozen dense layer with
    logits ``(0, coef · x + intercept)``.
    """
    coef, intercept = np.asarray(weights[0], dtype=np.float32), float(weights[1])
    member_input = model.get_layer(MEMBER_INPUT).output
    dense = layers.Dense(len(CLASSES), name="logistic_member", trainable=False)
    logits = dense(member_input)
    kernel = np.zeros((len(coef), len(CLASSES)), dtype=np.float32)
    kernel[:, CLASSES.index(BANGER)] = coef
    bias = np.zeros(len(CLASSES), dtype=np.float32)
    bias[CLASSES.index(BANGER)] = intercept
    dense.set_weights([kernel, bias])
    outputs = MeanProbability(name="ensemble_logits")([model.output, logits])
    return keras.Model(model.input, outputs, name=name)


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
