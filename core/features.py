"""Spectral features of 5-second segments, batched: the seed's ``log_stft`` and its successors.

Every feature shares one STFT (n_fft=2048, hop_length=512, Hann, center=True) and is scaled
per clip with ``librosa.power_to_db(ref=np.max, top_db=80)``, so values lie in [-80, 0] dB.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import librosa
import numpy as np
import scipy.sparse

from core.config import FRAMES_PER_SEGMENT, HOP_LENGTH, N_FFT, N_MELS, SR, TOP_DB
from core.errors import HaverfordError


@dataclass(frozen=True)
class Feature:
    """A named feature and the shape it gives for one 5-second segment."""

    name: str
    n_bins: int
    description: str

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_bins, FRAMES_PER_SEGMENT)


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("log_stft", 1 + N_FFT // 2, "seed: log power STFT, 1025 bins (dB)"),
        Feature("log_mel", N_MELS, "log mel spectrogram, 128 bands (dB)"),
        Feature("percussive_mel", N_MELS, "log mel of HPSS's percussive part, 128 bands (dB)"),
    )
}


def get_feature(name: str) -> Feature:
    """Look up a feature by name; the error lists the known ones."""
    try:
        return FEATURES[name]
    except KeyError:
        known = ", ".join(FEATURES)
        raise HaverfordError(f"unknown feature {name!r}; choose one of: {known}") from None


def stft(y: np.ndarray) -> np.ndarray:
    """Complex STFT with the seed's parameters.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]

    Returns
    -------
    np.ndarray [shape=(..., 1025, 1 + n // 512), dtype=complex64]
    """
    return librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH, window="hann", center=True)


def to_db(S: np.ndarray) -> np.ndarray:
    """``power_to_db(ref=np.max, top_db=80)`` applied to each clip on its own (seed scaling).

    Parameters
    ----------
    S : np.ndarray [shape=(k, f, t)], power

    Returns
    -------
    np.ndarray [shape=(k, f, t), dtype=float32], values in [-80, 0]
    """
    out = np.empty(S.shape, dtype=np.float32)
    for i, clip in enumerate(S):
        out[i] = librosa.power_to_db(clip, ref=np.max, top_db=TOP_DB)
    return out


@lru_cache(maxsize=4)
def mel_basis(sr: int = SR, n_mels: int = N_MELS) -> scipy.sparse.csr_matrix:
    """librosa's Slaney mel filter bank [shape=(n_mels, 1025)], computed once, stored sparse.

    Each filter covers a handful of bins (about 2,000 non-zeros of 131,200), so the sparse
    product is several times faster than ``librosa.feature.melspectrogram``'s dense one and
    equal to it up to float32 rounding.
    """
    return scipy.sparse.csr_matrix(librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=n_mels).astype(np.float32))


def power(D: np.ndarray) -> np.ndarray:
    """|D|² computed in place on one float32 buffer (the seed's ``np.abs(D) ** 2``)."""
    S = np.abs(D)
    return np.square(S, out=S)


def log_stft(y: np.ndarray) -> np.ndarray:
    """The seed's feature: log power spectrogram of each segment.

    Parameters
    ----------
    y : np.ndarray [shape=(k, n)], mono segments at 22,050 Hz

    Returns
    -------
    np.ndarray [shape=(k, 1025, 1 + n // 512)], dB in [-80, 0]; (k, 1025, 216) for 5 s
    """
    return to_db(power(stft(_batch(y))))


def log_mel(y: np.ndarray) -> np.ndarray:
    """Log mel spectrogram (128 bands) of the same power STFT as ``log_stft``.

    Returns
    -------
    np.ndarray [shape=(k, 128, 1 + n // 512)], dB in [-80, 0]
    """
    return to_db(_mel_power(power(stft(_batch(y)))))


def percussive_mel(y: np.ndarray) -> np.ndarray:
    """Log mel spectrogram of the percussive part of librosa's HPSS (median filtering).

    Returns
    -------
    np.ndarray [shape=(k, 128, 1 + n // 512)], dB in [-80, 0]
    """
    D = stft(_batch(y))
    P = np.stack([librosa.decompose.hpss(clip)[1] for clip in D])
    return to_db(_mel_power(power(P)))


def _mel_power(S: np.ndarray) -> np.ndarray:
    """Mel projection of a power spectrogram batch [shape=(k, 1025, t)] → (k, 128, t)."""
    basis = mel_basis()
    return np.stack([basis @ clip for clip in S])


def _batch(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    return y[np.newaxis] if y.ndim == 1 else y


_COMPUTE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log_stft": log_stft,
    "log_mel": log_mel,
    "percussive_mel": percussive_mel,
}


def compute(name: str, y: np.ndarray) -> np.ndarray:
    """Compute feature ``name`` for segments ``y`` [shape=(k, n)] → (k, n_bins, frames)."""
    get_feature(name)
    return _COMPUTE[name](y)


def compute_many(names: list[str], y: np.ndarray) -> dict[str, np.ndarray]:
    """Compute several features of the same segments, sharing one STFT where they can."""
    y = _batch(y)
    if set(names) <= {"log_stft", "log_mel"}:
        S = power(stft(y))
        done = {"log_stft": lambda: to_db(S), "log_mel": lambda: to_db(_mel_power(S))}
        return {n: done[n]() for n in names}
    return {n: compute(n, y) for n in names}
