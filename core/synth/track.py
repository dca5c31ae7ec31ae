"""A generated track and the ground truth of its segments; the mastering every track shares."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from haverford.core.synth._base import PEAK, SEGMENT_S, SR

BANGER, NOT_A_BANGER = "banger", "not_a_banger"


@dataclass(frozen=True)
class SegmentTruth:
    """Ground truth of one 5-second segment ``[start_s, start_s + 5)``.

    ``bpm`` is None for free-tempo pieces; ``drops`` counts the drops starting inside the
    segment and ``drop_dopeness`` (1..10) rates them, None when ``drops == 0``. ``style`` names
    what the segment sounds like (``four_on_the_floor``, ``acoustic``, ``breakbeat``,
    ``live_drums``, ``ambient``, ``synth_ballad``, ``acoustic_intro``, ``acoustic_outro``) and
    ``hard`` says whether people (and models) may reasonably hear it the other way.
    """

    index: int
    start_s: float
    bpm: float | None
    drops: int
    drop_dopeness: int | None
    acoustic: bool
    verdict: str
    style: str = "four_on_the_floor"
    hard: bool = False


# eq=False: the generated __eq__ would compare arrays and raise; tracks compare by identity.
@dataclass(frozen=True, eq=False)
class SynthTrack:
    """A generated track: mono float32 audio ``y [shape=(n,)]`` at ``sr`` and its ground truth.

    ``label`` is the track's verdict (what an import by folder would give every segment);
    a segment's own ``verdict`` may differ (the acoustic intro of a banger).
    ``drop_times_s`` holds the exact start of every drop (on a bar line), empty for not-bangers.
    """

    title: str
    label: str
    y: np.ndarray
    sr: int
    bpm: float | None
    segments: tuple[SegmentTruth, ...]
    drop_times_s: tuple[float, ...] = ()
    style: str = "four_on_the_floor"


def n_samples(duration_s: float) -> int:
    """Samples in ``duration_s`` seconds at ``SR``; ValueError naming the value if not >= 5 s."""
    if not (isinstance(duration_s, (int, float, np.number)) and math.isfinite(duration_s)
            and duration_s >= SEGMENT_S):
        raise ValueError(f"duration_s must be a finite number of seconds >= {SEGMENT_S} "
                         f"(one segment), got {duration_s!r}")
    return int(round(duration_s * SR))


def title(label: str, tag: str, bpm: float | None) -> str:
    """A readable title such as ``Demo banger 03 (128 BPM)``."""
    tempo = "free tempo" if bpm is None else f"{bpm:.0f} BPM"
    name = "banger" if label == BANGER else "not a banger"
    return f"Demo {name} {tag} ({tempo})"


# ---------------------------------------------------------------------------------------------
# Ground truth and mastering


def segment_truth(n_segments: int, *, bpm: float | None, drops: list[tuple[float, int]],
                  acoustic: bool, verdict: str, style: str,
                  hard: bool = False) -> tuple[SegmentTruth, ...]:
    """One ``SegmentTruth`` per full segment; ``drops`` holds ``(time_s, dopeness)`` pairs."""
    segments = []
    for i in range(n_segments):
        start = i * SEGMENT_S
        inside = [dope for t, dope in drops if start <= t < start + SEGMENT_S]
        # Two drops in one segment cannot happen with >= 8 bars between drops; max() if it did.
        dopeness = max(inside) if inside else None
        segments.append(SegmentTruth(i, start, bpm, len(inside), dopeness, acoustic, verdict, style, hard))
    return tuple(segments)


def renumber(parts: list[tuple[SegmentTruth, ...]]) -> tuple[SegmentTruth, ...]:
    """Concatenate the truths of consecutive parts, renumbering index and start."""
    flat = [s for part in parts for s in part]
    return tuple(dataclasses.replace(s, index=i, start_s=i * SEGMENT_S) for i, s in enumerate(flat))


def master(y: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
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
