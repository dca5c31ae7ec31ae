"""Procedural demo music with known answers to Haverford's test.

``haverford demo`` needs a labelled library that works offline, so this module synthesises one:
easy *bangers* (four-on-the-floor electronic tracks with build-ups and drops) and *not bangers*
(slow plucked-string and piano pieces), and beside them the hard cases of ``synth.hard``:
breakbeats, acoustic drums at dance tempo, electronic ambient without a kick, slow synth
ballads, and bangers whose intro and outro are acoustic. Each track carries the ground truth of
every full 5-second segment, so labelling, training and evaluation can be checked against
known answers.

The same seed gives bit-identical audio. Only numpy and scipy are used and every instrument is
rendered with whole-array operations (filters and the Karplus-Strong string through
``scipy.signal.lfilter``); Python loops run over notes or blocks, never over samples.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator

import numpy as np

from haverford.core.synth._base import _BANGER_BPM, _DOPENESS, _SEGMENT_N, PEAK, SEGMENT_S, SR
from haverford.core.synth.acoustic import _piece_pad, _plan_piece, _render_notes
from haverford.core.synth.banger import _banger_bars, _drop_times, _render_banger
from haverford.core.synth.hard import make_ambient, make_breakbeat, make_intro_outro, make_live_drums, make_synth_ballad
from haverford.core.synth.track import (
    BANGER,
    NOT_A_BANGER,
    SegmentTruth,
    SynthTrack,
    master,
    n_samples,
    segment_truth,
    title,
)

__all__ = ["PEAK", "SEGMENT_S", "SR", "STYLES", "SegmentTruth", "SynthTrack", "make_ambient", "make_banger",
           "make_breakbeat", "make_intro_outro", "make_library", "make_live_drums", "make_not_banger",
           "make_synth_ballad"]


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
    n = n_samples(duration_s)
    rng = np.random.default_rng(seed)
    bpm = round(float(rng.uniform(*_BANGER_BPM)), 1)
    bars = _banger_bars(bpm, n=n, rng=rng)
    y = master(_render_banger(bars, n=n, rng=rng), rng=rng)
    times = _drop_times(bars)
    dopeness = rng.integers(_DOPENESS[0], _DOPENESS[1] + 1, size=len(times)).tolist()
    segments = segment_truth(n // _SEGMENT_N, bpm=bpm, drops=list(zip(times, dopeness, strict=False)),
                             acoustic=False, verdict=BANGER, style="four_on_the_floor")
    return SynthTrack(title(BANGER, f"seed {seed}", bpm), BANGER, y, SR, bpm, segments, tuple(times))


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
    n = n_samples(duration_s)
    rng = np.random.default_rng(seed)
    piece = _plan_piece(rng, duration_s=n / SR)
    y = _render_notes(piece.notes, n=n, rng=rng)
    if piece.pad:
        y += _piece_pad(piece.chord_starts_s, piece.voicings[:, :3] + 12, n=n, rng=rng)
    segments = segment_truth(n // _SEGMENT_N, bpm=piece.bpm, drops=[], acoustic=True,
                             verdict=NOT_A_BANGER, style="acoustic")
    return SynthTrack(title(NOT_A_BANGER, f"seed {seed}", piece.bpm), NOT_A_BANGER, master(y, rng=rng), SR,
                      piece.bpm, segments, style="acoustic")


Maker = Callable[..., SynthTrack]

# Track styles in library order: the i-th banger and the i-th not-banger take the i-th entry of
# their cycle, so a library of 12 or more tracks holds every style and one of 24 holds each at
# least twice. A third of the not-bangers are live drums, the one hard case that a model which
# never heard it calls a banger outright (a beat at dance tempo): with fewer, the folds of a
# cross-check can hold every one of them out at once.
BANGER_CYCLE: tuple[Maker, ...] = (make_banger, make_breakbeat, make_banger, make_intro_outro)
NOT_BANGER_CYCLE: tuple[Maker, ...] = (make_not_banger, make_live_drums, make_not_banger, make_ambient,
                                       make_live_drums, make_synth_ballad)
STYLES = ("four_on_the_floor", "breakbeat", "intro_outro", "acoustic", "live_drums", "ambient", "synth_ballad")


def make_library(n_tracks: int, *, seed: int = 0, min_s: float = 30.0,
                 max_s: float = 60.0) -> Iterator[SynthTrack]:
    """Generate a demo library lazily: banger, not-banger, banger, ... (half each, banger first).

    Styles follow ``BANGER_CYCLE`` and ``NOT_BANGER_CYCLE``. Durations are uniform in
    ``[min_s, max_s]`` and per-track seeds are drawn from ``np.random.default_rng(seed)``, so the
    same arguments give bit-identical tracks. Arguments are checked on the call, before the
    first track is generated.

    Raises
    ------
    ValueError
        ``n_tracks`` not a whole number >= 0, or not ``5 <= min_s <= max_s`` (finite).
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


def library_maker(i: int) -> Maker:
    """The generator of the ``i``-th track (0-based) of a demo library."""
    cycle = BANGER_CYCLE if i % 2 == 0 else NOT_BANGER_CYCLE
    return cycle[(i // 2) % len(cycle)]


def _library_tracks(durations: np.ndarray, seeds: np.ndarray) -> Iterator[SynthTrack]:
    for i, (duration_s, track_seed) in enumerate(zip(durations, seeds, strict=False)):
        track = library_maker(i)(int(track_seed), duration_s=float(duration_s))
        yield dataclasses.replace(track, title=title(track.label, f"{i // 2 + 1:02d}", track.bpm))
