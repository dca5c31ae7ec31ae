"""A per-segment summary of rhythm: how strong, how regular and how dense the onsets are.

The pretrained embedding (``musicnn``) hears timbre well, but a slow electronic ambient piece has
the timbre of dance music without its beat. This summary says whether there is a beat, from the
segment's ``log_mel`` (no audio is decoded again beyond what the log-mel needs):

* three onset-strength envelopes, each the mean over a group of mel bands of the positive
  first difference in time of the log-mel (librosa's ``onset.onset_strength`` with ``lag=1``,
  ``max_size=1``, aggregated by the mean; Ellis 2007, "Beat tracking by dynamic programming"):
  all 128 bands, the kick's bands 0-7 (centres 26-206 Hz) and the hi-hats' bands 100-127
  (centres from 5.1 kHz);
* for each envelope, 13 numbers: ``log1p`` of its mean, its coefficient of variation, onset
  peaks per second (local maxima above mean + one standard deviation), and its autocorrelation
  (the autocorrelation tempogram of Grosche, Müller & Kurth 2010, "Cyclic tempogram", over the
  whole segment; mean removed, unbiased, normalised by lag 0): the largest value between 60 and
  200 BPM (beat strength), then the largest in each of 9 tempo bands with edges 40, 55, 70, 85,
  100, 115, 130, 150, 180 and 240 BPM.

39 numbers per segment, stored like an embedding (one vector per segment, ``n_frames == 1``).
This was the only design measured (bench/README.md, "Rhythm beside the embedding"). No TensorFlow.
"""

from __future__ import annotations

import numpy as np

from haverford.core.config import HOP_LENGTH, N_MELS, SR

FPS = SR / HOP_LENGTH  # log-mel frames per second, 43.07
BANDS = {"all": slice(0, N_MELS), "low": slice(0, 8), "high": slice(100, N_MELS)}
TEMPO_EDGES = (40, 55, 70, 85, 100, 115, 130, 150, 180, 240)  # BPM
BEAT_RANGE = (60, 200)  # BPM
PER_BAND = 4 + len(TEMPO_EDGES) - 1
N_VALUES = PER_BAND * len(BANDS)  # 39


def onset_envelopes(S: np.ndarray) -> dict[str, np.ndarray]:
    """Onset strength per frame of each band group.

    Parameters
    ----------
    S : np.ndarray [shape=(k, 128, t)], log-mel in dB

    Returns
    -------
    dict of ``BANDS`` name → np.ndarray [shape=(k, t - 1)], dB per frame, ≥ 0
    """
    S = np.asarray(S, dtype=np.float32)
    return {name: np.maximum(0.0, np.diff(S[:, bands], axis=2)).mean(axis=1) for name, bands in BANDS.items()}


def autocorrelation(o: np.ndarray) -> np.ndarray:
    """Unbiased autocorrelation of each mean-removed envelope, normalised by lag 0.

    Parameters
    ----------
    o : np.ndarray [shape=(k, n)]

    Returns
    -------
    np.ndarray [shape=(k, n)], lag 0 to n - 1 in frames; 1 at lag 0 (0 for a flat envelope)
    """
    n = o.shape[1]
    centred = o - o.mean(axis=1, keepdims=True)
    F = np.fft.rfft(centred, 2 * n, axis=1)
    ac = np.fft.irfft(np.abs(F) ** 2, 2 * n, axis=1)[:, :n]
    return ac / np.maximum(ac[:, :1], 1e-9) * (n / (n - np.arange(n)))


def rhythm_summary(S: np.ndarray) -> np.ndarray:
    """The 39-number rhythm summary of each segment (the module's docstring lists them).

    Parameters
    ----------
    S : np.ndarray [shape=(k, 128, t)], log-mel in dB (``features.log_mel``; t = 216 for 5 s)

    Returns
    -------
    np.ndarray [shape=(k, 39), dtype=float32]: per band group (all, low, high), log1p of the mean
    onset strength, its coefficient of variation, onsets per second, beat strength (60-200 BPM),
    and the autocorrelation peak in each of the 9 tempo bands
    """
    out = []
    for o in onset_envelopes(S).values():
        n = o.shape[1]
        mean, std = o.mean(axis=1), o.std(axis=1)
        ac = autocorrelation(o)
        lags = np.arange(n)
        bpm = 60.0 * FPS / np.maximum(lags, 1)
        bpm[0] = np.inf
        beat = ac[:, (bpm >= BEAT_RANGE[0]) & (bpm <= BEAT_RANGE[1])].max(axis=1)
        tempo = [ac[:, (bpm >= lo) & (bpm < hi)].max(axis=1) for lo, hi in zip(TEMPO_EDGES[:-1], TEMPO_EDGES[1:], strict=True)]
        middle = o[:, 1:-1]
        peaks = (middle > o[:, :-2]) & (middle >= o[:, 2:]) & (middle > (mean + std)[:, None])
        out += [np.log1p(mean), std / np.maximum(mean, 1e-6), peaks.sum(axis=1) / (n / FPS), beat, *tempo]
    return np.stack(out, axis=1).astype(np.float32)
