"""musicnn (Pons & Serra 2019, "musicnn: pre-trained convolutional neural networks for music
audio tagging"), MSD weights, rebuilt in Keras 3 as a frozen front end.

``build_musicnn`` goes up to the pooled mid-end: the 753-channel map (front end 561 + three
64-channel mid-end convolutions) max- and mean-pooled over time, 1,506 values per patch
(``POOLED``), interleaved as the original's ``flatten(concat([max_pool, mean_pool], 2))``:
channel c's maximum at 2c, its mean at 2c + 1. That vector is the stored feature (the costly
part). ``build_backend`` is the rest, cheap: batch norm → dense 200 (ReLU) → batch norm → dense
50 → sigmoid, the probabilities of the 50 Million Song Dataset tags (``MSD_TAGS``; dropout is off
at inference). The weights are the ISC-licensed ``MSD_musicnn``
checkpoint of the ``musicnn`` 0.1.0 wheel (``musicnn-LICENSE.md`` beside them), converted by
``python -m haverford.core.pretrained.convert_musicnn WHEEL``, which also stores the original TF1
graph's activations on a fixed input; a test holds this port to them.

The input follows the wheel's ``extractor.batch_data``: mono audio at 16 kHz,
``librosa.feature.melspectrogram(n_fft=512, hop_length=256, n_mels=96)`` (power), cast to
float16, then ``log10(10000·x + 1)``; time first, (frames, 96). The network is fully
convolutional before the pooling, so it takes any number of frames; it was trained on 187
(3 s). Imports TensorFlow: load it only where a model runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path

from haverford.core.quiet import import_tensorflow_quietly, native_stderr_silenced

import_tensorflow_quietly()  # no native start-up chatter on stderr

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

SR = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1: what it was trained on
EMBED_FRAMES = 94  # 1.5 s, the middle of each segment: what ``embed`` gives the network (``patch_frames``)
POOLED = 1506  # 753 channels × (max, mean)
MSD_TAGS = ("rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
            "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
            "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock",
            "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
            "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
            "indie pop", "sad", "House", "happy")  # the wheel's configuration.MSD_LABELS, in output order
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
WEIGHTS_FILE = "musicnn_msd.npz"
REFERENCE_FILE = "musicnn_msd_reference.npz"
TIMBRAL = (("conv2d", "batch_normalization_1", 38), ("conv2d_1", "batch_normalization_2", 67))
TEMPORAL = (("conv2d_2", "batch_normalization_3", 128), ("conv2d_3", "batch_normalization_4", 64),
            ("conv2d_4", "batch_normalization_5", 32))
MIDEND = (("conv2d_5", "batch_normalization_6"), ("conv2d_6", "batch_normalization_7"),
          ("conv2d_7", "batch_normalization_8"))


def log_mel_input(S: np.ndarray) -> np.ndarray:
    """musicnn's input scaling of a mel power spectrogram: float16, then ``log10(10000·S + 1)``.

    The cast to float16 is the wheel's (``extractor.batch_data``); the product is taken in
    float32, because in float16 it overflows to inf for powers above 6.55, which loud bass
    reaches (the wheel's numpy < 1.17 kept float16 there and gave inf). Powers beyond float16's
    range are clipped to its largest value.

    Parameters
    ----------
    S : np.ndarray [shape=(..., frames, 96)], power

    Returns
    -------
    np.ndarray [shape=(..., frames, 96), dtype=float32]
    """
    S16 = np.minimum(np.asarray(S, dtype=np.float32), np.finfo(np.float16).max).astype(np.float16)
    return np.log10(np.float32(10000) * S16.astype(np.float32) + np.float32(1))


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


def build_musicnn(frames: int | None = None) -> keras.Model:
    """MSD_musicnn up to the pooled mid-end, uninitialised (``load_musicnn`` fills the weights).

    Layer names are the checkpoint's variable scopes (``conv2d_5``, ``batch_normalization_6``).

    Parameters
    ----------
    frames : the number of time frames of the input, or None for any

    Returns
    -------
    keras.Model mapping [shape=(batch, frames, 96)] log-compressed mel to [shape=(batch, 1506)]
    """
    inputs = keras.Input(shape=(frames, N_MELS), name="log_mel_16k")
    x = layers.Reshape((-1, N_MELS, 1))(inputs)
    x = _bn("batch_normalization")(x)
    front = []
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)))(x)
    for conv, bn, width in TIMBRAL:
        y = layers.Conv2D(204, (7, width), padding="valid", activation="relu", name=conv)(padded)
        front.append(_bn(bn)(y))
    for conv, bn, length in TEMPORAL:
        y = layers.Conv2D(51, (length, 1), padding="same", activation="relu", name=conv)(x)
        front.append(_bn(bn)(y))
    # max over the frequency axis of each map: (batch, frames, f, c) -> (batch, frames, c)
    front_end = layers.Concatenate(axis=-1)([layers.Lambda(lambda t: keras.ops.max(t, axis=2))(f) for f in front])
    maps = [front_end]
    h = front_end
    for i, (conv, bn) in enumerate(MIDEND):
        y = _bn(bn)(layers.Conv1D(64, 7, padding="same", activation="relu", name=conv)(h))
        h = y if i == 0 else layers.Add()([y, h])
        maps.append(h)
    midend = layers.Concatenate(axis=-1)(maps)  # (batch, frames, 753)
    pooled = layers.Lambda(
        lambda t: keras.ops.reshape(keras.ops.stack([keras.ops.max(t, axis=1), keras.ops.mean(t, axis=1)], axis=-1),
                                    (-1, POOLED)), name="pooled")(midend)
    return keras.Model(inputs, pooled, name="musicnn_msd_pooled")


def build_backend() -> keras.Model:
    """MSD_musicnn's back end, uninitialised: [shape=(batch, 1506)] pooled → [shape=(batch, 50)] tag
    probabilities (``MSD_TAGS``). Layer names are the checkpoint's scopes."""
    inputs = keras.Input(shape=(POOLED,), name="pooled")
    x = _bn("batch_normalization_9")(inputs)
    x = layers.Dense(200, activation="relu", name="dense")(x)
    x = _bn("batch_normalization_10")(x)
    outputs = layers.Dense(len(MSD_TAGS), activation="sigmoid", name="dense_1")(x)
    return keras.Model(inputs, outputs, name="musicnn_msd_tags")


def load_backend() -> keras.Model:
    """The back end with the shipped weights, frozen (a new model each call: heads embed it)."""
    with weights_path().open("rb") as f:
        arrays = dict(np.load(f))
    model = build_backend()
    set_weights(model, arrays)
    model.trainable = False
    return model


def weights_path():
    return resources.files("haverford.core.pretrained").joinpath(WEIGHTS_FILE)


def set_weights(model: keras.Model, arrays: dict[str, np.ndarray]) -> None:
    """Copy checkpoint arrays (``scope/kernel``, ``scope/gamma`` …) into the port's layers.

    The mid-end kernels are stored as the checkpoint's Conv2D kernels (7, c, 1, 64) and used
    as Conv1D kernels (7, c, 64): the original convolves the whole channel axis at once.
    """
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.set_weights([arrays[f"{layer.name}/{k}"] for k in ("gamma", "beta", "moving_mean", "moving_variance")])
        elif isinstance(layer, layers.Conv1D):
            layer.set_weights([arrays[f"{layer.name}/kernel"][:, :, 0, :], arrays[f"{layer.name}/bias"]])
        elif isinstance(layer, layers.Conv2D | layers.Dense):
            layer.set_weights([arrays[f"{layer.name}/kernel"], arrays[f"{layer.name}/bias"]])


@lru_cache(maxsize=2)
def load_musicnn(frames: int | None = None) -> keras.Model:
    """The port with the shipped weights (``musicnn_msd.npz``), built once per process."""
    with weights_path().open("rb") as f:
        arrays = dict(np.load(f))
    model = build_musicnn(frames)
    set_weights(model, arrays)
    model.trainable = False
    return model


# --- the stored feature ------------------------------------------------------------------------

# Patches per forward pass. Small batches keep XNNPACK's activations in cache (about 30 ms of CPU
# per 1.5-s patch at 8 against 33 at 64 on a 2-core EPYC), and resizing the interpreter for a
# track's last, shorter batch then costs little (from 64 it cost up to 270 ms): bench/README.md.
EMBED_BATCH = 8


def patch_frames(n_frames: int) -> slice:
    """The frames of a segment's mel spectrogram that go into the network: the middle
    ``EMBED_FRAMES`` (1.5 s) of a 5-second segment's 313, or all of a shorter one.

    The network's cost is linear in the frames: the middle 1.5 s keeps the embedding above 200
    times real time on a 2-core CPU without AVX-512, where the network's own 3 s did not (108–133×),
    and the leave-one-source-out figures hold (bench/README.md, "A shorter patch").
    """
    if n_frames <= EMBED_FRAMES:
        return slice(0, n_frames)
    start = (n_frames - EMBED_FRAMES) // 2
    return slice(start, start + EMBED_FRAMES)


def network_input(y: np.ndarray, *, sr: int) -> np.ndarray:
    """musicnn's input for each segment: resampled to 16 kHz with soxr (librosa.load's default
    resampler), mel power with ``N_FFT``/``HOP_LENGTH``/``N_MELS``, ``log_mel_input``, middle patch.

    Parameters
    ----------
    y : np.ndarray [shape=(k, n)], mono segments at ``sr`` Hz
    sr : their sample rate

    Returns
    -------
    np.ndarray [shape=(k, frames, 96), dtype=float32], frames = ``EMBED_FRAMES`` for 5-second segments
    """
    import librosa  # a second to import: only this feature needs it here
    import soxr

    y = np.atleast_2d(np.asarray(y, dtype=np.float32))
    y16 = np.stack([soxr.resample(row, sr, SR) for row in y]) if sr != SR else y
    S = librosa.feature.melspectrogram(y=y16, sr=SR, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS)
    S = np.swapaxes(S, 1, 2)  # (k, frames, 96): time first, as the network reads it
    return log_mel_input(S[:, patch_frames(S.shape[1])])


class XnnpackPort:
    """The Keras port converted with TensorFlow Lite's converter and run by its interpreter, whose
    default XNNPACK kernels compute the same pooled vectors (within float32 rounding: 6e-6 of
    the largest value on random input) with half the CPU time of Keras's oneDNN kernels on a CPU
    without AVX-512 (``bench/embed_bench.py``; bench/README.md, "The embedding through XNNPACK").

    Converted once per number of frames (``converted_port``: about 4 s of CPU here, then read from
    the cache in a few milliseconds); nothing is downloaded. One interpreter is not re-entrant:
    calls are serialised by a lock.
    """

    def __init__(self, frames: int):
        import tensorflow as tf

        from haverford.core.pool import default_workers  # the cores this process may use

        blob = converted_port(frames)
        with warnings.catch_warnings(), native_stderr_silenced():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice (LiteRT)
            self._interpreter = tf.lite.Interpreter(model_content=blob, num_threads=default_workers())
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """[shape=(batch, frames, 96)] network input → [shape=(batch, 1506)] pooled embedding."""
        with self._lock:
            if len(x) != self._batch:
                with native_stderr_silenced():  # "Created TensorFlow Lite XNNPACK delegate for CPU."
                    self._interpreter.resize_tensor_input(self._input, list(x.shape))
                    self._interpreter.allocate_tensors()
                self._batch = len(x)
            self._interpreter.set_tensor(self._input, np.ascontiguousarray(x, dtype=np.float32))
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output).copy()


def converted_port(frames: int) -> bytes:
    """The port for inputs of ``frames`` frames, converted by TensorFlow Lite's converter: a
    flatbuffer of about 1.9 MB.

    Converting costs about 4 s of CPU on a 2-core EPYC, in every process that embeds (each Retrain
    worker, each import worker). The result is kept in ``config.cache_dir()`` under a name that
    hashes what it is made from (the shipped weights, this module's code, TensorFlow's version and
    ``frames``), behind a SHA-256 of its own bytes: a later process reads and checks it in a few
    milliseconds, and a file that is cut short or altered is converted again; a new conversion
    replaces those made from anything else. A cache that cannot be written (a read-only home
    folder) only means converting each time.
    """
    import tensorflow as tf

    from haverford.core.config import cache_dir

    made_from = hashlib.sha256()
    for part in (weights_path().read_bytes(), Path(__file__).read_bytes(), tf.__version__.encode(), str(frames).encode()):
        made_from.update(hashlib.sha256(part).digest())
    try:
        path = cache_dir() / f"musicnn-{frames}-{made_from.hexdigest()[:24]}.tflite"
    except RuntimeError:  # no home folder to keep a cache in (Path.home)
        return _convert(frames)
    with contextlib.suppress(OSError):
        stored = path.read_bytes()
        digest, blob = stored[:32], stored[32:]
        if hashlib.sha256(blob).digest() == digest:
            return blob
    blob = _convert(frames)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(hashlib.sha256(blob).digest() + blob)
        os.replace(partial, path)  # whole or not at all, whichever process finishes first
    except OSError:  # read-only or full: convert again next time, and leave no part behind
        with contextlib.suppress(OSError):
            partial.unlink()
        return blob
    for older in path.parent.glob(f"musicnn-{frames}-*.tflite"):  # made from other weights, code or TensorFlow
        if older != path:
            with contextlib.suppress(OSError):
                older.unlink()
    return blob


def _convert(frames: int) -> bytes:
    import tensorflow as tf

    # the converter prints the SavedModel it exports (stdout: a command's JSON goes there)
    with warnings.catch_warnings(), native_stderr_silenced(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return tf.lite.TFLiteConverter.from_keras_model(load_musicnn(frames)).convert()


@lru_cache(maxsize=2)
def xnnpack_port(frames: int) -> XnnpackPort | None:
    """``XnnpackPort`` for inputs of ``frames`` frames, or None where this TensorFlow has no
    ``tf.lite`` (it moves to the LiteRT package): ``embed`` then runs the Keras port."""
    try:
        return XnnpackPort(frames)
    except (AttributeError, ImportError):
        return None


def embed(y: np.ndarray, *, sr: int) -> np.ndarray:
    """The pooled musicnn (MSD) embedding of each segment, through ``XnnpackPort`` (the Keras
    port where TensorFlow Lite is missing).

    Parameters
    ----------
    y : np.ndarray [shape=(k, n)], mono segments at ``sr`` Hz

    Returns
    -------
    np.ndarray [shape=(k, 1506), dtype=float32]: per channel of the 753-channel mid-end map, its
    maximum and mean over time, interleaved (``build_musicnn``)
    """
    x = network_input(y, sr=sr)
    if not len(x):
        return np.zeros((0, POOLED), dtype=np.float32)
    # predict_on_batch runs a traced function: a fifth less CPU than calling the model eagerly
    run = xnnpack_port(x.shape[1]) or load_musicnn(x.shape[1]).predict_on_batch
    return np.concatenate([run(x[i:i + EMBED_BATCH]) for i in range(0, len(x), EMBED_BATCH)])
