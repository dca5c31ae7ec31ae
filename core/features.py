"""Spectral features of 5-second segments, batched: the seed's ``log_stft`` and its successors.

Every feature shares one STFT (n_fft=2048, hop_length=512, periodic Hann, center=True with
zero padding: ``librosa.stft``'s defaults) and is scaled per clip like
``librosa.power_to_db(ref=np.max, top_db=80)``, so values lie in [-80, 0] dB. The tests hold
each feature to a direct librosa computation.

The STFT runs one segment at a time through ``scipy.fft`` so that the 216 windowed frames
(1.7 MB) stay in cache: that is twice as fast as one FFT over a batch, and about three times
as fast as ``librosa.stft``. Nothing here imports librosa except HPSS, because importing it
costs a second at every process start, a quarter of a typical ingest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from haverford.core.config import FRAMES_PER_SEGMENT, HOP_LENGTH, N_FFT, N_MELS, SR, TOP_DB
from haverford.core.errors import HaverfordError

AMIN = 1e-10  # power_to_db's floor
N_BINS = 1 + N_FFT // 2
MEL_TABLE = "mel_basis.npz"  # librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS), shipped
MEL_BLOCK = 64  # frequency bins per dense block of the mel projection
POWER_CHUNK = 108  # frames per FFT call: half a segment
MUSICNN_POOLED = 1506  # core.pretrained.musicnn.POOLED (that module loads TensorFlow)
RHYTHM_VALUES = 39  # core.rhythm.N_VALUES


@dataclass(frozen=True)
class Feature:
    """A named feature and the shape it gives for one 5-second segment."""

    name: str
    n_bins: int
    description: str
    n_frames: int = FRAMES_PER_SEGMENT  # 1 for an embedding: one vector per segment

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_bins, self.n_frames)

    @property
    def is_embedding(self) -> bool:
        """A vector per segment (a pretrained network's), not a spectrogram in dB."""
        return self.n_frames == 1


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("log_stft", N_BINS, "seed: log power STFT, 1025 bins (dB)"),
        Feature("log_mel", N_MELS, "log mel spectrogram, 128 bands (dB)"),
        Feature("percussive_mel", N_MELS, "log mel of HPSS's percussive part, 128 bands (dB)"),
        Feature("musicnn", MUSICNN_POOLED, "pretrained musicnn (MSD) embedding: max and mean over time "
                "of its 753-channel map, 1506 values (core.pretrained.musicnn)", n_frames=1),
        Feature("rhythm", RHYTHM_VALUES, "rhythm summary of the log-mel: onset strength and its autocorrelation "
                "in three band groups, 39 values (core.rhythm)", n_frames=1),
    )
}
JOIN = "+"  # "musicnn+rhythm": embeddings side by side, one input (parts)


def parts(name: str) -> tuple[str, ...]:
    """The stored features of a feature name: ``"musicnn+rhythm"`` → ``("musicnn", "rhythm")``."""
    return tuple(name.split(JOIN))


def get_feature(name: str) -> Feature:
    """Look up a feature by name; the error lists the known ones.

    Embeddings joined by ``+`` (``"musicnn+rhythm"``) are one feature of their summed length,
    read side by side in that order (``core.dataset.SegmentBatches``); only embeddings join.
    """
    if JOIN in name:
        found = [get_feature(part) for part in parts(name)]
        if not all(f.is_embedding for f in found) or len(set(parts(name))) < len(found):
            raise HaverfordError(f"feature {name!r}: only distinct embeddings (one vector per segment) "
                                 f"join with '{JOIN}'")
        return Feature(name, sum(f.n_bins for f in found), " + ".join(f.description for f in found), n_frames=1)
    try:
        return FEATURES[name]
    except KeyError:
        known = ", ".join(FEATURES)
        raise HaverfordError(f"unknown feature {name!r}; choose one of: {known}") from None


def stored_feature(name: str) -> Feature:
    """A feature the store holds a file of: not a ``+`` join (its parts are stored one by one).

    Raises ``HaverfordError`` for an unknown name or a join, naming the parts to compute instead.
    """
    feature = get_feature(name)
    if JOIN in name:
        raise HaverfordError(f"{name!r} joins stored features; compute each of them: {', '.join(parts(name))}")
    return feature


@lru_cache(maxsize=1)
def window() -> np.ndarray:
    """The periodic Hann window of ``scipy.signal.get_window('hann', 2048)`` (librosa's)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def stft(y: np.ndarray) -> np.ndarray:
    """Complex STFT with the seed's parameters, as ``librosa.stft`` lays it out.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]

    Returns
    -------
    np.ndarray [shape=(k, 1025, 1 + n // 512), dtype=complex64]
    """
    y = _batch(y)
    out = np.empty((len(y), N_BINS, _n_frames(y)), dtype=np.complex64)
    for i, D in enumerate(_stft_rows(y, magnitude=False)):
        out[i] = D.T
    return out


def power(D: np.ndarray) -> np.ndarray:
    """|D|² on one float32 buffer (the seed's ``np.abs(D) ** 2``)."""
    S = np.abs(D)
    return np.square(S, out=S)


def to_db(S: np.ndarray) -> np.ndarray:
    """``power_to_db(S, ref=np.max, top_db=80)`` of each clip on its own, in one pass.

    ``10·log10(max(amin, S)) − 10·log10(max(amin, max S))`` floored at −80 dB: the log of the
    maximum is the maximum of the logs, so each clip is shifted by its own largest value.
    A clip with no power above ``amin`` (digital silence) sits at the floor, −80 dB, where
    librosa would give 0 dB, the top of the range, as if it were the loudest clip.

    Parameters
    ----------
    S : np.ndarray [shape=(k, f, t)], power

    Returns
    -------
    np.ndarray [shape=(k, f, t), dtype=float32], values in [-80, 0]
    """
    out = np.maximum(S, np.float32(AMIN), dtype=np.float32)
    np.log10(out, out=out)
    out *= np.float32(10.0)
    peak = out.max(axis=(1, 2), keepdims=True)
    out -= peak
    out[peak[:, 0, 0] <= np.float32(10.0 * np.log10(AMIN))] = -TOP_DB  # no power at all: the floor
    return np.maximum(out, np.float32(-TOP_DB), out=out)


def _librosa_mel_basis(sr: int, n_mels: int) -> np.ndarray:
    import librosa  # a second to import: only for settings other than the shipped table's

    return librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=n_mels).astype(np.float32)


@lru_cache(maxsize=4)
def mel_basis(sr: int = SR, n_mels: int = N_MELS) -> np.ndarray:
    """librosa's Slaney mel filter bank [shape=(n_mels, 1025), dtype=float32].

    For the seed's settings it is read from ``core/mel_basis.npz``, a copy of
    ``librosa.filters.mel`` that a test compares with librosa; other settings ask librosa.
    """
    if (sr, n_mels) == (SR, N_MELS):
        with resources.files("haverford.core").joinpath(MEL_TABLE).open("rb") as f:
            return np.load(f)["weights"]
    return _librosa_mel_basis(sr, n_mels)


def write_mel_table() -> None:
    """Regenerate the shipped ``core/mel_basis.npz`` from librosa (after a librosa upgrade)."""
    path = resources.files("haverford.core").joinpath(MEL_TABLE)
    np.savez_compressed(str(path), weights=_librosa_mel_basis(SR, N_MELS))


@lru_cache(maxsize=4)
def _mel_blocks(sr: int, n_mels: int) -> tuple[tuple[slice, slice, np.ndarray], ...]:
    """The filter bank cut into blocks of 64 frequency bins, each with only the bands it touches.

    A Slaney filter covers 4 to 53 bins, so the blocks hold 10,048 weights instead of
    131,200 and the projection is 2.7 times faster than one dense product.
    """
    basis = mel_basis(sr, n_mels)
    blocks = []
    for start in range(0, basis.shape[1], MEL_BLOCK):
        bins = slice(start, min(start + MEL_BLOCK, basis.shape[1]))
        bands = np.flatnonzero(basis[:, bins].any(axis=1))
        if len(bands):
            rows = slice(int(bands[0]), int(bands[-1]) + 1)
            blocks.append((bins, rows, np.ascontiguousarray(basis[rows, bins].T)))
    return tuple(blocks)


def mel_power(P: np.ndarray, *, sr: int = SR, n_mels: int = N_MELS) -> np.ndarray:
    """Mel projection of one power spectrogram, frames first: (t, 1025) → (t, n_mels)."""
    out = np.zeros((P.shape[0], n_mels), dtype=np.float32)
    for bins, bands, weights in _mel_blocks(sr, n_mels):
        out[:, bands] += P[:, bins] @ weights
    return out


def _stft_rows(y: np.ndarray, *, magnitude: bool) -> Iterator[np.ndarray]:
    """The STFT of each row of ``y`` [shape=(k, n)], frames first: (1 + n // 512, 1025),
    complex64, or its magnitude in float32. The yielded array is reused for the next row.

    Each row is zero-padded by n_fft/2 on both sides (``center=True``) and framed without a
    copy; 108 frames at a time are windowed into one buffer, which the FFT may overwrite.
    Half a segment (0.9 MB in, 0.9 MB out) stays in the core's cache: 12 % faster than
    whole segments.
    """
    n = y.shape[-1]
    padded = np.zeros(n + N_FFT, dtype=np.float32)
    frames = sliding_window_view(padded, N_FFT)[::HOP_LENGTH]
    windowed = np.empty((min(POWER_CHUNK, len(frames)), N_FFT), dtype=np.float32)
    out = np.empty((len(frames), N_BINS), dtype=np.float32 if magnitude else np.complex64)
    for row in y:
        padded[N_FFT // 2: N_FFT // 2 + n] = row
        for start in range(0, len(frames), POWER_CHUNK):
            chunk = frames[start:start + POWER_CHUNK]
            buffer = windowed[:len(chunk)]
            np.multiply(chunk, window(), out=buffer)
            D = scipy.fft.rfft(buffer, axis=-1, overwrite_x=True)
            if magnitude:
                np.abs(D, out=out[start:start + len(chunk)])
            else:
                out[start:start + len(chunk)] = D
        yield out


def _powers(y: np.ndarray) -> Iterator[np.ndarray]:
    """|STFT|² of each row of ``y``, frames first, in one reused float32 buffer."""
    for magnitude in _stft_rows(y, magnitude=True):
        yield np.square(magnitude, out=magnitude)


def log_stft(y: np.ndarray) -> np.ndarray:
    """The seed's feature: log power spectrogram of each segment.

    Parameters
    ----------
    y : np.ndarray [shape=(k, n)], mono segments at 22,050 Hz

    Returns
    -------
    np.ndarray [shape=(k, 1025, 1 + n // 512)], dB in [-80, 0]; (k, 1025, 216) for 5 s
    """
    return compute_many(["log_stft"], y)["log_stft"]


def log_mel(y: np.ndarray) -> np.ndarray:
    """Log mel spectrogram (128 bands) of the same power STFT as ``log_stft``.

    Returns
    -------
    np.ndarray [shape=(k, 128, 1 + n // 512)], dB in [-80, 0]
    """
    return compute_many(["log_mel"], y)["log_mel"]


def percussive_mel(y: np.ndarray) -> np.ndarray:
    """Log mel spectrogram of the percussive part of librosa's HPSS (median filtering).

    The percussive power is ``percussive_power``: librosa's ``hpss`` with its default kernel
    (31) and margin (1), computed 3× faster (``tests/test_features.py`` holds it to librosa).

    Returns
    -------
    np.ndarray [shape=(k, 128, 1 + n // 512)], dB in [-80, 0]
    """
    y = _batch(y)
    out = np.empty((len(y), N_MELS, _n_frames(y)), dtype=np.float32)
    for i, S in enumerate(_stft_rows(y, magnitude=True)):
        out[i] = mel_power(percussive_power(S)).T
    return to_db(out)


HPSS_KERNEL = 31  # librosa.decompose.hpss's default kernel_size, in frames and in bins


def percussive_power(S: np.ndarray) -> np.ndarray:
    """The power of the percussive part of a magnitude spectrogram, as ``librosa.decompose.hpss``
    separates it (Fitzgerald 2010, "Harmonic/percussive separation using median filtering"):
    ``|P|²`` for ``H, P = hpss(S.T)`` with ``kernel_size=31``, ``margin=1``, ``power=2``.

    The same median filters and soft mask (``librosa.util.softmask``), but each filter runs
    along one row at a time: scipy's ``median_filter`` has a fast path for 1-D input (63 ms
    against 199 ms of CPU per 5-s segment, ``bench/features_bench.py``), where librosa passes it the whole 2-D
    array with a 1 × 31 footprint. The filtered values are identical.

    Parameters
    ----------
    S : np.ndarray [shape=(t, f), dtype=float32], STFT magnitude, frames first

    Returns
    -------
    np.ndarray [shape=(t, f), dtype=float32], power
    """
    from librosa.util import softmask  # only this feature needs librosa itself
    from scipy.ndimage import median_filter

    harmonic = np.ascontiguousarray(S.T)  # (f, t): filtered along time, one frequency at a time
    for row in harmonic:
        row[:] = median_filter(row, size=HPSS_KERNEL, mode="reflect")
    percussive = np.empty_like(S)  # (t, f): filtered along frequency, one frame at a time
    for frame, row in zip(S, percussive, strict=True):
        row[:] = median_filter(frame, size=HPSS_KERNEL, mode="reflect")
    mask = softmask(percussive, harmonic.T, power=2, split_zeros=True)
    P = S * mask
    return np.square(P, out=P)


def musicnn_embedding(y: np.ndarray) -> np.ndarray:
    """The pretrained musicnn (MSD) embedding of each segment (``core.pretrained.musicnn.embed``).

    Loads TensorFlow (on first use) and the converted weights.

    Returns
    -------
    np.ndarray [shape=(k, 1506, 1), dtype=float32]
    """
    from haverford.core.pretrained import musicnn  # TensorFlow: only for this feature

    return musicnn.embed(_batch(y), sr=SR)[:, :, np.newaxis]


def _n_frames(y: np.ndarray) -> int:
    return 1 + y.shape[-1] // HOP_LENGTH


def _batch(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    return y[np.newaxis] if y.ndim == 1 else y


def compute(name: str, y: np.ndarray) -> np.ndarray:
    """Compute feature ``name`` for segments ``y`` [shape=(k, n)] → (k, n_bins, frames)."""
    return compute_many([name], y)[name]


_FROM_POWER: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log_stft": lambda P: P.T,
    "log_mel": lambda P: mel_power(P).T,
}


def compute_many(names: list[str], y: np.ndarray) -> dict[str, np.ndarray]:
    """Compute several features of the same segments, sharing one STFT per segment.

    Returns
    -------
    dict of name → np.ndarray [shape=(k, n_bins, 1 + n // 512), dtype=float32], dB in [-80, 0]
    """
    for name in names:
        get_feature(name)
    y = _batch(y)
    wanted = [*names, "log_mel"] if "rhythm" in names else names  # the rhythm summary reads the log-mel
    shared = [n for n in dict.fromkeys(wanted) if n in _FROM_POWER]
    out = {n: np.empty((len(y), FEATURES[n].n_bins, _n_frames(y)), dtype=np.float32) for n in shared}
    if shared:
        for i, P in enumerate(_powers(y)):
            for n in shared:
                out[n][i] = _FROM_POWER[n](P)
    done = {n: to_db(values) for n, values in out.items()}
    if "percussive_mel" in names:
        done["percussive_mel"] = percussive_mel(y)
    if "musicnn" in names:
        done["musicnn"] = musicnn_embedding(y)
    if "rhythm" in names:
        from haverford.core.rhythm import rhythm_summary

        done["rhythm"] = rhythm_summary(done["log_mel"])[:, :, np.newaxis]
    return {n: done[n] for n in names}
