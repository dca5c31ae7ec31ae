"""Procedural demo music with known answers to Haverford's test.

``haverford demo`` needs a labelled library that works offline, so this module synthesises one:
*bangers* (four-on-the-floor electronic tracks with build-ups and drops) and *not bangers*
(slow plucked-string and piano pieces). Each track carries the ground truth of every full
5-second segment, so labelling, training and evaluation can be checked against known answers.

The same seed gives bit-identical audio. Only numpy and scipy are used and every instrument is
rendered with whole-array operations (filters and the Karplus-Strong string through
``scipy.signal.lfilter``); Python loops run over notes or blocks, never over samples.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from haverford.core.synth._base import _BANGER_BPM, _DOPENESS, _SEGMENT_N, PEAK, SEGMENT_S, SR
from haverford.core.synth.acoustic import _piece_pad, _plan_piece, _render_notes
from haverford.core.synth.banger import _banger_bars, _drop_times, _render_banger

__all__ = ["PEAK", "SEGMENT_S", "SR", "SegmentTruth", "SynthTrack", "make_banger", "make_library",
           "make_not_banger"]


@dataclass(frozen=True)
class SegmentTruth:
    """Ground truth of one 5-second segment ``[start_s, start_s + 5)``.

    ``bpm`` is None for free-tempo pieces; ``drops`` counts the drops starting inside the
    segment and ``drop_dopeness`` (1..10) rates them, None when ``drops == 0``.
    """

    index: int
    start_s: float
    bpm: float | None
    drops: int
    drop_dopeness: int | None
    acoustic: bool
    verdict: str


# eq=False: the generated __eq__ would compare arrays and raise; tracks compare by identity.
@dataclass(frozen=True, eq=False)
class SynthTrack:
    """A generated track: mono float32 audio ``y [shape=(n,)]`` at ``sr`` and its ground truth.

    ``drop_times_s`` holds the exact start of every drop (on a bar line), empty for not-bangers.
    """

    title: str
    label: str
    y: np.ndarray
    sr: int
    bpm: float | None
    segments: tuple[SegmentTruth, ...]
    drop_times_s: tuple[float, ...] = ()


# ---------------------------------------------------------------------------------------------
# Public API


def make_banger(seed: int, *, duration_s: float) -> SynthTrack:
    """Generate a banger: 120-140 BPM, intro, build-up, at least one drop on a bar boundary.

    Parameters
    ----------
    seed : int >= 0
        Same seed and duration give bit-identical output.
    duration_s : float >= 5
        Length of the track; ``floor(n / (5 * SR))`` full segments get ground truth.

    Returns
    -------
    SynthTrack
        ``y [shape=(round(duration_s * SR),)]``, float32, peak 0.89, label ``"banger"``.
    """
    n = _n_samples(duration_s)
    rng = np.random.default_rng(seed)
    bpm = round(float(rng.uniform(*_BANGER_BPM)), 1)
    bars = _banger_bars(bpm, n=n, rng=rng)
    y = _master(_render_banger(bars, n=n, rng=rng), rng=rng)
    times = _drop_times(bars)
    dopeness = rng.integers(_DOPENESS[0], _DOPENESS[1] + 1, size=len(times)).tolist()
    segments = _segment_truth(n // _SEGMENT_N, bpm=bpm, drops=list(zip(times, dopeness)),
                              acoustic=False, verdict="banger")
    title = _title("banger", f"seed {seed}", bpm)
    return SynthTrack(title, "banger", y, SR, bpm, segments, tuple(times))


def make_not_banger(seed: int, *, duration_s: float) -> SynthTrack:
    """Generate a not-banger: plucked strings and piano, 50-90 BPM with rubato or free tempo.

    Parameters
    ----------
    seed : int >= 0
        Same seed and duration give bit-identical output.
    duration_s : float >= 5
        Length of the track.

    Returns
    -------
    SynthTrack
        ``y [shape=(round(duration_s * SR),)]``, float32, peak 0.89, label ``"not_a_banger"``,
        ``bpm`` None for free tempo, no drops, acoustic instruments in every segment.
    """
    n = _n_samples(duration_s)
    rng = np.random.default_rng(seed)
    piece = _plan_piece(rng, duration_s=n / SR)
    y = _render_notes(piece.notes, n=n, rng=rng)
    if piece.pad:
        y += _piece_pad(piece.chord_starts_s, piece.voicings[:, :3] + 12, n=n, rng=rng)
    segments = _segment_truth(n // _SEGMENT_N, bpm=piece.bpm, drops=[], acoustic=True,
                              verdict="not_a_banger")
    title = _title("not_a_banger", f"seed {seed}", piece.bpm)
    return SynthTrack(title, "not_a_banger", _master(y, rng=rng), SR, piece.bpm, segments)


def make_library(n_tracks: int, *, seed: int = 0, min_s: float = 30.0,
                 max_s: float = 60.0) -> Iterator[SynthTrack]:
    """Generate a demo library lazily: banger, not-banger, banger, ... (half each, banger first).

    Durations are uniform in ``[min_s, max_s]`` and per-track seeds are drawn from
    ``np.random.default_rng(seed)``, so the same arguments give bit-identical tracks. Arguments
    are checked on the call, before the first track is generated.
    """
    if not isinstance(n_tracks, (int, np.integer)) or n_tracks < 0:
        raise ValueError(f"n_tracks must be a whole number >= 0, got {n_tracks!r}")
    if not (SEGMENT_S <= min_s <= max_s and math.isfinite(max_s)):
        raise ValueError(f"need {SEGMENT_S} <= min_s <= max_s (finite), got min_s={min_s!r}, "
                         f"max_s={max_s!r}")
    rng = np.random.default_rng(seed)
    durations = rng.uniform(min_s, max_s, size=int(n_tracks))
    seeds = rng.integers(0, 2**31 - 1, size=int(n_tracks))
    return _library_tracks(durations, seeds)


def _library_tracks(durations: np.ndarray, seeds: np.ndarray) -> Iterator[SynthTrack]:
    for i, (duration_s, track_seed) in enumerate(zip(durations, seeds)):
        make = make_banger if i % 2 == 0 else make_not_banger
        track = make(int(track_seed), duration_s=float(duration_s))
        yield dataclasses.replace(track, title=_title(track.label, f"{i // 2 + 1:02d}", track.bpm))


def _title(label: str, tag: str, bpm: float | None) -> str:
    tempo = "free tempo" if bpm is None else f"{bpm:.0f} BPM"
    name = "banger" if label == "banger" else "not a banger"
    return f"Demo {name} {tag} ({tempo})"


def _n_samples(duration_s: float) -> int:
    if not (isinstance(duration_s, (int, float, np.number)) and math.isfinite(duration_s)
            and duration_s >= SEGMENT_S):
        raise ValueError(f"duration_s must be a finite number of seconds >= {SEGMENT_S} "
                         f"(one segment), got {duration_s!r}")
    return int(round(duration_s * SR))


# ---------------------------------------------------------------------------------------------
# Ground truth and mastering


def _segment_truth(n_segments: int, *, bpm: float | None, drops: list[tuple[float, int]],
                   acoustic: bool, verdict: str) -> tuple[SegmentTruth, ...]:
    """One ``SegmentTruth`` per full segment; ``drops`` holds ``(time_s, dopeness)`` pairs."""
    segments = []
    for i in range(n_segments):
        start = i * SEGMENT_S
        inside = [dope for t, dope in drops if start <= t < start + SEGMENT_S]
        # Two drops in one segment cannot happen with >= 8 bars between drops; max() if it did.
        dopeness = max(inside) if inside else None
        segments.append(SegmentTruth(i, start, bpm, len(inside), dopeness, acoustic, verdict))
    return tuple(segments)


def _master(y: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Noise floor, fades and peak normalisation of ``y [shape=(n,)]`` to float32 at ``PEAK``."""
    loudest = float(np.abs(y).max()) or 1.0
    # A -60 dB floor keeps every segment off digital silence, as real recordings are.
    y = y + rng.normal(scale=1e-3 * loudest, size=len(y))
    y = y * _fades(len(y), in_s=0.01, out_s=0.1)
    return (y * (PEAK / np.abs(y).max())).astype(np.float32)


def _fades(n: int, *, in_s: float, out_s: float) -> np.ndarray:
    """Gain curve [shape=(n,)] with linear fade-in and fade-out (never exactly zero)."""
    gain = np.ones(n)
    n_in, n_out = min(n, int(in_s * SR)), min(n, int(out_s * SR))
    gain[:n_in] *= np.linspace(0.0, 1.0, n_in + 1)[1:]
    gain[n - n_out:] *= np.linspace(1.0, 0.0, n_out + 1)[:-1]
    return gain

