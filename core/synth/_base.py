"""Constants and the building blocks shared by both kinds of demo music."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import signal

SR = 22050
SEGMENT_S = 5.0
PEAK = 0.89

_SEGMENT_N = int(SEGMENT_S * SR)
_BANGER_BPM = (120.0, 140.0)
_NOT_BANGER_BPM = (50.0, 90.0)
_DOPENESS = (5, 10)
_FREE_TEMPO_P = 0.3
_GUITAR, _PIANO = 0, 1

# Triads as semitones above the tonic, one chord per bar.
_MINOR_PROGRESSIONS = (
    ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17)),  # i VI III VII
    ((0, 3, 7), (5, 8, 12), (8, 12, 15), (7, 11, 14)),  # i iv VI V
    ((0, 3, 7), (10, 14, 17), (8, 12, 15), (10, 14, 17)),  # i VII VI VII
)
_MAJOR_PROGRESSIONS = (
    ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)),  # I V vi IV
    ((0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14)),  # I vi IV V
    ((0, 4, 7), (5, 9, 12), (9, 12, 16), (7, 11, 14)),  # I IV vi V
)
# 16th-note positions of the chord stabs in a drop bar.
_STAB_RHYTHMS = ((2, 6, 10, 14), (0, 3, 6, 10, 12), (2, 3, 6, 10, 11, 14))
# Indices into a 4-note voicing (three chord tones and the octave) for the arpeggios.
_ARP_PATTERNS = ((0, 1, 2, 3), (0, 1, 2, 3, 2, 1), (0, 2, 1, 3), (0, 2, 3, 1, 2, 3))


# ---------------------------------------------------------------------------------------------
# Shared building blocks


def _midi_hz(midi: np.ndarray | int) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def _place(y: np.ndarray, event: np.ndarray, onsets_s: np.ndarray | Sequence[float],
           gains: np.ndarray | Sequence[float] | float = 1.0) -> None:
    """Add ``gain * event`` into ``y`` at every onset, in place; events past the end are cut."""
    starts = np.round(np.asarray(onsets_s, dtype=float) * SR).astype(np.int64)
    gains = np.broadcast_to(np.asarray(gains, dtype=float), starts.shape)
    for start, gain in zip(starts, gains, strict=False):  # one slice-add per note, not per sample
        if 0 <= start < len(y):
            end = min(len(y), start + len(event))
            y[start:end] += gain * event[: end - start]


def _filtered(x: np.ndarray, cutoff_hz: float | tuple[float, float], *, btype: str,
              order: int = 2) -> np.ndarray:
    """``x`` through a Butterworth filter (``btype`` lowpass, highpass or bandpass)."""
    b, a = signal.butter(order, cutoff_hz, btype=btype, fs=SR)
    return signal.lfilter(b, a, x)


def _voice(chord: tuple[int, ...], *, tonic: int, low: int) -> np.ndarray:
    """MIDI notes of ``chord`` (semitones above ``tonic``) folded into ``[low, low + 12)``."""
    return np.sort([low + (tonic + s - low) % 12 for s in chord])


def _pad_tone(midis: np.ndarray, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """Soft chord [shape=(n,)]: two slightly detuned sines per note, so it slowly beats."""
    t = np.arange(n, dtype=np.float32) / SR
    freqs = np.concatenate([_midi_hz(midis) * 2 ** (-6 / 1200), _midi_hz(midis) * 2 ** (6 / 1200)])
    phases = rng.uniform(0, 2 * np.pi, len(freqs))
    tone = np.zeros(n, dtype=np.float32)
    for f, p in zip(freqs.astype(np.float32), phases.astype(np.float32), strict=False):
        tone += np.sin(2 * np.pi * f * t + p)
    return tone / len(freqs)


def _pad_envelope(n: int, *, attack_s: float, release_s: float) -> np.ndarray:
    t = np.arange(n) / SR
    return np.minimum(1.0, t / attack_s) * np.clip((n / SR - t) / release_s, 0.0, 1.0)

