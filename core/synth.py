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


@dataclass(frozen=True)
class _Bars:
    """Per bar of a banger: its section, its place in it, the section length [shape=(n_bars,)]."""

    kind: np.ndarray
    run_pos: np.ndarray
    run_len: np.ndarray
    bar_s: float


@dataclass(frozen=True)
class _Grid:
    """One entry per 16th note: onset, section, place in bar (0..15), chord, progress (0..1)."""

    t: np.ndarray
    kind: np.ndarray
    pos: np.ndarray
    chord: np.ndarray
    progress: np.ndarray


@dataclass(frozen=True)
class _Notes:
    """Note events of a not-banger, each array [shape=(n_notes,)]."""

    onset_s: np.ndarray
    midi: np.ndarray
    velocity: np.ndarray
    instrument: np.ndarray


@dataclass(frozen=True)
class _Piece:
    """Plan of a not-banger: its notes and, per chord, start and voicing [shape=(n_chords, 4)]."""

    bpm: float | None
    notes: _Notes
    chord_starts_s: np.ndarray
    voicings: np.ndarray
    pad: bool


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


# ---------------------------------------------------------------------------------------------
# Shared building blocks


def _midi_hz(midi: np.ndarray | int) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def _place(y: np.ndarray, event: np.ndarray, onsets_s: np.ndarray,
           gains: np.ndarray | float = 1.0) -> None:
    """Add ``gain * event`` into ``y`` at every onset, in place; events past the end are cut."""
    starts = np.round(np.asarray(onsets_s, dtype=float) * SR).astype(np.int64)
    gains = np.broadcast_to(np.asarray(gains, dtype=float), starts.shape)
    for start, gain in zip(starts, gains):  # one slice-add per note, not per sample
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
    for f, p in zip(freqs.astype(np.float32), phases.astype(np.float32)):
        tone += np.sin(2 * np.pi * f * t + p)
    return tone / len(freqs)


def _pad_envelope(n: int, *, attack_s: float, release_s: float) -> np.ndarray:
    t = np.arange(n) / SR
    return np.minimum(1.0, t / attack_s) * np.clip((n / SR - t) / release_s, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Bangers: arrangement


def _banger_bars(bpm: float, *, n: int, rng: np.random.Generator) -> _Bars:
    """Arrange the track in bars; every drop starts on a bar inside a full segment."""
    bar_s = 4 * 60.0 / bpm
    n_bars = math.ceil(n / SR / bar_s)
    last_drop_bar = math.ceil((n // _SEGMENT_N) * SEGMENT_S / bar_s) - 1
    kinds = _banger_sections(n_bars, last_drop_bar=last_drop_bar, rng=rng)
    run_pos, run_len = _section_runs(kinds)
    return _Bars(np.array(kinds), run_pos, run_len, bar_s)


def _banger_sections(n_bars: int, *, last_drop_bar: int, rng: np.random.Generator) -> list[str]:
    """Section of each bar: intro, build, drop, then (breakdown, build, drop) while they fit."""
    intro, build = (int(rng.choice([2, 4])) for _ in range(2))
    if intro + build > last_drop_bar:  # short track: squeeze the lead-in so a drop still fits
        intro = last_drop_bar // 2
        build = last_drop_bar - intro
    kinds = ["intro"] * intro + ["build"] * build
    while True:
        drop, breakdown, build = (int(rng.choice(c)) for c in ([4, 8], [2, 4], [2, 4]))
        next_drop = len(kinds) + drop + breakdown + build
        if next_drop > last_drop_bar or next_drop + 4 > n_bars:
            break
        kinds += ["drop"] * drop + ["breakdown"] * breakdown + ["build"] * build
    return kinds + ["drop"] * (n_bars - len(kinds))


def _section_runs(kinds: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Position of each bar inside its section and that section's length, in bars."""
    bounds = [i for i in range(len(kinds)) if i == 0 or kinds[i] != kinds[i - 1]] + [len(kinds)]
    lengths = np.diff(bounds)
    run_pos = np.concatenate([np.arange(k) for k in lengths])
    return run_pos, np.repeat(lengths, lengths)


def _drop_times(bars: _Bars) -> list[float]:
    starts = np.flatnonzero((bars.kind == "drop") & (bars.run_pos == 0))
    return [float(i * bars.bar_s) for i in starts]


def _grid(bars: _Bars, *, n_chords: int) -> _Grid:
    """The 16th-note grid of the whole track."""
    step = np.arange(len(bars.kind) * 16)
    bar, pos = step // 16, step % 16
    progress = (bars.run_pos[bar] * 16 + pos) / (bars.run_len[bar] * 16)
    return _Grid(step * bars.bar_s / 16, bars.kind[bar], pos, bar % n_chords, progress)


def _render_banger(bars: _Bars, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """Mix of drums, bass, stabs, risers and pads [shape=(n,)]."""
    progression = _MINOR_PROGRESSIONS[int(rng.integers(len(_MINOR_PROGRESSIONS)))]
    tonic = int(rng.integers(33, 41))  # A1..E2: the bass sits under ~120 Hz
    grid = _grid(bars, n_chords=len(progression))
    y = _drums(grid, n=n, rng=rng)
    y += _bass_line(bars, progression, tonic=tonic, n=n, rng=rng)
    y += _stabs(grid, progression, tonic=tonic, n=n, rng=rng)
    y += _risers(bars, n=n, rng=rng)
    y += _banger_pads(bars, progression, tonic=tonic, n=n, rng=rng)
    return y


# ---------------------------------------------------------------------------------------------
# Bangers: drums


def _drums(grid: _Grid, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """Kick, clap, hi-hats, snare roll and crash placed on the grid [shape=(n,)]."""
    y = np.zeros(n)
    drop = grid.kind == "drop"
    _place(y, _kick(rng), grid.t[drop & (grid.pos % 4 == 0)], 1.0)
    clap = _snare(rng)
    _place(y, clap, grid.t[drop & np.isin(grid.pos, (4, 12))], 0.35)
    roll = _snare_roll(grid)
    _place(y, clap, grid.t[roll], 0.08 + 0.4 * grid.progress[roll] ** 2)
    _place(y, _crash(rng), grid.t[drop & (grid.progress == 0)], 0.3)
    _hats(y, grid, rng=rng)
    return y


def _hats(y: np.ndarray, grid: _Grid, *, rng: np.random.Generator) -> None:
    """Closed hats on the off-beats, plus quieter 16ths in drops; four takes, so no hit repeats."""
    gain = np.where(grid.pos % 4 == 2, np.where(grid.kind == "breakdown", 0.1, 0.18), 0.0)
    gain = np.where((grid.pos % 2 == 1) & (grid.kind == "drop"), 0.06, gain)
    hit = np.flatnonzero(gain > 0)
    for take in range(4):
        _place(y, _hat(rng), grid.t[hit[take::4]], gain[hit[take::4]])


def _snare_roll(grid: _Grid) -> np.ndarray:
    """Build-up hits, getting denser: quarters, then 8ths, then 16ths for the last quarter."""
    every = np.where(grid.progress < 0.5, 4, np.where(grid.progress < 0.75, 2, 1))
    return (grid.kind == "build") & (grid.pos % every == 0)


def _kick(rng: np.random.Generator, *, dur_s: float = 0.35) -> np.ndarray:
    """Kick drum: a sine swept 150 -> 45 Hz (the "thump") and a short broadband beater click."""
    t = np.arange(int(dur_s * SR)) / SR
    freq = 45.0 + 105.0 * np.exp(-t / 0.04)
    thump = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.12)
    click = _filtered(rng.standard_normal(len(t)), 6000.0, btype="lowpass") * np.exp(-t / 0.004)
    return thump + 0.4 * click


def _hat(rng: np.random.Generator, *, dur_s: float = 0.05) -> np.ndarray:
    t = np.arange(int(dur_s * SR)) / SR
    return _filtered(rng.standard_normal(len(t)), 7000.0, btype="highpass") * np.exp(-t / 0.012)


def _snare(rng: np.random.Generator, *, dur_s: float = 0.2) -> np.ndarray:
    t = np.arange(int(dur_s * SR)) / SR
    noise = _filtered(rng.standard_normal(len(t)), (1000.0, 6000.0), btype="bandpass")
    return noise * np.exp(-t / 0.07) + 0.5 * np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.04)


def _crash(rng: np.random.Generator, *, dur_s: float = 1.5) -> np.ndarray:
    t = np.arange(int(dur_s * SR)) / SR
    return _filtered(rng.standard_normal(len(t)), 4000.0, btype="highpass") * np.exp(-t / 0.45)


# ---------------------------------------------------------------------------------------------
# Bangers: bass, stabs, risers, pads


def _bass_line(bars: _Bars, progression: tuple, *, tonic: int, n: int,
               rng: np.random.Generator) -> np.ndarray:
    """8th-note bass on the chord roots [shape=(n,)]: muffled in the intro, open in drops."""
    # Roots folded to within a fifth of the tonic, so the bass stays under ~120 Hz.
    roots = np.array([tonic + (c[0] + 5) % 12 - 5 for c in progression])
    octave_up = rng.random(8) < 0.35  # one riff for the whole track, as producers write it
    eighth = np.arange(len(bars.kind) * 8)
    midi = roots[(eighth // 8) % len(roots)] + 12 * octave_up[eighth % 8]
    tone, k = _bass_tone(midi, eighth_s=bars.bar_s / 8, n=n)
    bar = k // 8
    muffled = _filtered(tone, 220.0, btype="lowpass") * (bars.kind == "intro")[bar]
    return 0.5 * (muffled + _filtered(tone, 700.0, btype="lowpass") * (bars.kind == "drop")[bar])


def _bass_tone(midi: np.ndarray, *, eighth_s: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Saw plus sub sine playing ``midi`` (one per 8th) with plucky envelopes; also 8th index."""
    i = np.arange(n)
    k = np.minimum((i / (eighth_s * SR)).astype(np.int64), len(midi) - 1)
    # Continuous phase: no clicks between notes. Wrapped first, so float32 is exact enough.
    cycle = (np.cumsum(_midi_hz(midi)[k] / SR) % 1.0).astype(np.float32)
    env = _bass_envelope(eighth_s).astype(np.float32)
    offset = np.minimum(i - np.ceil(k * eighth_s * SR).astype(np.int64), len(env) - 1)
    return (2 * cycle - 1 + 0.8 * np.sin(2 * np.pi * cycle)) * env[offset], k


def _bass_envelope(eighth_s: float) -> np.ndarray:
    """One 8th note's envelope: 3 ms attack, decay, released just before the next note."""
    t = np.arange(int(eighth_s * SR) + 2) / SR
    env = (1 - np.exp(-t / 0.003)) * np.exp(-t / 0.25)
    return env * np.clip((0.95 * eighth_s - t) / 0.005, 0.0, 1.0)


def _stabs(grid: _Grid, progression: tuple, *, tonic: int, n: int,
           rng: np.random.Generator) -> np.ndarray:
    """Supersaw chord stabs [shape=(n,)]: a riff in drops, one per bar in build-ups."""
    rhythm = _STAB_RHYTHMS[int(rng.integers(len(_STAB_RHYTHMS)))]
    hit = ((grid.kind == "drop") & np.isin(grid.pos, rhythm)) | (
        (grid.kind == "build") & (grid.pos == 0))
    gain = np.where(grid.kind == "drop", 0.3, 0.15)
    y = np.zeros(n)
    for c, chord in enumerate(progression):
        stab = _supersaw_stab(_voice(chord, tonic=tonic, low=tonic + 24), rng=rng)
        sel = hit & (grid.chord == c)
        _place(y, stab, grid.t[sel], gain[sel])
    return y


def _supersaw_stab(midis: np.ndarray, *, rng: np.random.Generator,
                   dur_s: float = 0.25) -> np.ndarray:
    t = np.arange(int(dur_s * SR)) / SR
    detune = 2.0 ** (np.array([-12.0, 0.0, 12.0]) / 1200)  # cents: the "supersaw" width
    freqs = np.outer(_midi_hz(midis), detune).ravel()
    phases = rng.random(len(freqs))[:, None] + freqs[:, None] * t
    saws = (2 * (phases % 1.0) - 1).mean(axis=0)
    env = (1 - np.exp(-t / 0.003)) * np.exp(-t / 0.09)
    return _filtered(saws, 3000.0, btype="lowpass") * env


def _risers(bars: _Bars, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """A rising noise sweep over every build-up [shape=(n,)]."""
    y = np.zeros(n)
    for start in np.flatnonzero((bars.kind == "build") & (bars.run_pos == 0)):
        riser = _riser(bars.run_len[start] * bars.bar_s, rng=rng)
        _place(y, riser, [start * bars.bar_s], 0.3)
    return y


def _riser(dur_s: float, *, rng: np.random.Generator) -> np.ndarray:
    """Noise whose low-pass opens 300 Hz -> 9 kHz, plus a 200 Hz -> 2 kHz sine, swelling."""
    m = int(dur_s * SR)
    ramp = np.arange(m) / m
    noise = _sweep_lowpass(rng.standard_normal(m), cutoff_hz=300.0 * 30.0**ramp)
    sweep = np.sin(2 * np.pi * np.cumsum(200.0 * 10.0**ramp) / SR)
    return (noise + 0.3 * sweep) * ramp**2


def _sweep_lowpass(x: np.ndarray, *, cutoff_hz: np.ndarray, block: int = 512) -> np.ndarray:
    """One-pole low-pass with a time-varying cutoff [shape=x.shape], updated every ``block``."""
    out = np.empty_like(x)
    last = 0.0
    for i in range(0, len(x), block):  # per block: lfilter cannot vary its coefficients
        a = math.exp(-2 * math.pi * cutoff_hz[i] / SR)
        out[i:i + block], _ = signal.lfilter([1 - a], [1, -a], x[i:i + block], zi=[a * last])
        last = out[min(i + block, len(x)) - 1]
    return out


def _banger_pads(bars: _Bars, progression: tuple, *, tonic: int, n: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Sustained chords in breakdowns (and, in some tracks, softly under the intro)."""
    gain = {"breakdown": 0.35, "intro": 0.12 if rng.random() < 0.5 else 0.0}
    m = int((bars.bar_s + 0.4) * SR)
    env = _pad_envelope(m, attack_s=0.3, release_s=0.4)
    y = np.zeros(n)
    for c, chord in enumerate(progression):
        pad = _pad_tone(_voice(chord, tonic=tonic, low=tonic + 24), n=m, rng=rng) * env
        for bar in np.flatnonzero(np.arange(len(bars.kind)) % len(progression) == c):
            _place(y, pad, [bar * bars.bar_s], gain.get(str(bars.kind[bar]), 0.0))
    return y


# ---------------------------------------------------------------------------------------------
# Not-bangers: plan


def _plan_piece(rng: np.random.Generator, *, duration_s: float) -> _Piece:
    """Tempo, notes and chords of a not-banger: an arpeggio over rolled chords, one chord a bar."""
    progression, tonic = _key(rng)
    bpm, onsets, per_chord = _piece_onsets(rng, duration_s=duration_s)
    voicings = np.array([_four_note_voicing(c, tonic=tonic) for c in progression])
    voicings = voicings[(np.arange(len(onsets)) // per_chord) % len(progression)]
    arpeggio, chords = _arpeggio_and_chord_instruments(rng)
    notes = _concat_notes(
        _arpeggio(onsets, voicings, per_chord=per_chord, instrument=arpeggio, rng=rng),
        _block_chords(onsets[::per_chord], voicings[::per_chord], instrument=chords, rng=rng))
    return _Piece(bpm, notes, onsets[::per_chord], voicings[::per_chord], rng.random() < 0.4)


def _key(rng: np.random.Generator) -> tuple[tuple, int]:
    """A major or minor progression and its tonic (MIDI, D3..B3: above the 150 Hz bass range)."""
    progressions = _MINOR_PROGRESSIONS if rng.random() < 0.5 else _MAJOR_PROGRESSIONS
    return progressions[int(rng.integers(len(progressions)))], int(rng.integers(50, 60))


def _piece_onsets(rng: np.random.Generator, *,
                  duration_s: float) -> tuple[float | None, np.ndarray, int]:
    """``(bpm or None, arpeggio onsets [shape=(n_notes,)], notes per chord)``."""
    if rng.random() < _FREE_TEMPO_P:
        return None, _free_onsets(rng, duration_s=duration_s), int(rng.integers(5, 9))
    bpm = round(float(rng.uniform(*_NOT_BANGER_BPM)), 1)
    per_beat = 2 if bpm < 70 else 1  # keeps the arpeggio at ~1.2-2.3 notes per second
    onsets = _rubato_onsets(60.0 / bpm / per_beat, rng=rng, duration_s=duration_s)
    return bpm, onsets, 4 * per_beat


def _rubato_onsets(ioi_s: float, *, rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """Onsets every ``ioi_s`` with a slow tempo wander (at most 7 %) and human timing jitter."""
    m = int(duration_s / ioi_s * 1.2) + 8
    drift = signal.lfilter([1.0], [1.0, -0.97], rng.standard_normal(m))
    drift *= 0.07 / (np.abs(drift).max() + 1e-12)
    t = 0.25 + np.concatenate([[0.0], np.cumsum(ioi_s * (1 + drift))[:-1]])
    t += rng.normal(scale=0.012, size=m)
    return t[t < duration_s - 0.3]


def _free_onsets(rng: np.random.Generator, *, duration_s: float) -> np.ndarray:
    """Onsets with no pulse: gamma-distributed gaps (mean 0.6 s) and occasional pauses."""
    m = int(duration_s / 0.3) + 8
    gaps = rng.gamma(3.0, 0.2, size=m) + (rng.random(m) < 0.08) * rng.uniform(0.5, 1.5, size=m)
    t = 0.3 + np.concatenate([[0.0], np.cumsum(gaps)[:-1]])
    return t[t < duration_s - 0.3]


def _four_note_voicing(chord: tuple[int, ...], *, tonic: int) -> np.ndarray:
    """The triad in the octave above ``tonic`` and its lowest note an octave up [shape=(4,)]."""
    triad = _voice(chord, tonic=tonic, low=tonic)
    return np.append(triad, triad[0] + 12)


def _arpeggio_and_chord_instruments(rng: np.random.Generator) -> tuple[int, int]:
    """Guitar alone, piano alone, or guitar arpeggio over piano chords."""
    band = int(rng.integers(3))
    return ((_GUITAR, _GUITAR), (_PIANO, _PIANO), (_GUITAR, _PIANO))[band]


def _arpeggio(onsets: np.ndarray, voicings: np.ndarray, *, per_chord: int, instrument: int,
              rng: np.random.Generator) -> _Notes:
    """One note per onset walking a pattern over its chord's ``voicings [shape=(n_notes, 4)]``."""
    pattern = np.array(_ARP_PATTERNS[int(rng.integers(len(_ARP_PATTERNS)))])
    step = np.arange(len(onsets)) % per_chord
    midi = voicings[np.arange(len(onsets)), pattern[step % len(pattern)]]
    velocity = 0.5 + 0.25 * rng.random(len(onsets)) + 0.15 * (step == 0)
    return _Notes(onsets, midi, velocity, np.full(len(onsets), instrument))


def _block_chords(starts: np.ndarray, voicings: np.ndarray, *, instrument: int,
                  rng: np.random.Generator) -> _Notes:
    """A rolled chord (triad and octave) at every chord change."""
    roll = np.arange(voicings.shape[1]) * (0.015 if instrument == _GUITAR else 0.008)  # strum
    onsets = starts[:, None] + roll[None, :]
    velocity = (0.3 + 0.1 * rng.random(voicings.shape)).ravel()
    return _Notes(onsets.ravel(), voicings.ravel(), velocity, np.full(voicings.size, instrument))


def _concat_notes(*parts: _Notes) -> _Notes:
    fields = [f.name for f in dataclasses.fields(_Notes)]
    return _Notes(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


# ---------------------------------------------------------------------------------------------
# Not-bangers: instruments


def _render_notes(notes: _Notes, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """All notes [shape=(n,)]; each (instrument, pitch) is synthesised once and reused."""
    y = np.zeros(n)
    for instrument, midi in sorted(set(zip(notes.instrument.tolist(), notes.midi.tolist()))):
        sel = (notes.instrument == instrument) & (notes.midi == midi)
        make = _pluck if instrument == _GUITAR else _piano
        _place(y, make(float(_midi_hz(midi)), rng=rng), notes.onset_s[sel], notes.velocity[sel])
    return y


def _pluck(freq: float, *, rng: np.random.Generator, dur_s: float = 2.5) -> np.ndarray:
    """Karplus-Strong plucked string [shape=(dur_s * SR,)].

    The feedback loop is a delay of ``n_delay`` samples, the two-point average (the string's
    losses, which dull high partials first) and a first-order all-pass that tunes the fractional
    part of the period; all three are one IIR filter run by ``lfilter``.
    """
    n_delay, c = _pluck_delay(freq)
    t60 = float(np.clip(3.0 * np.sqrt(196.0 / freq), 1.0, 4.0))  # low strings ring longer
    g = 10.0 ** (-3.0 / (freq * t60))
    a = np.zeros(n_delay + 3)
    a[0], a[1] = 1.0, c
    a[n_delay:n_delay + 3] -= g * np.array([c, 1 + c, 1.0]) / 2
    excitation = np.zeros(int(dur_s * SR))
    excitation[:n_delay] = _filtered(rng.standard_normal(n_delay), 5000.0, btype="lowpass", order=1)
    return signal.lfilter([1.0, c], a, excitation)


def _pluck_delay(freq: float) -> tuple[int, float]:
    """Integer delay and all-pass coefficient so the loop period equals ``SR / freq``."""
    period = SR / freq
    n_delay = int(period - 1.0)
    frac = period - 0.5 - n_delay  # the average costs half a sample; all-pass takes 0.5..1.5
    return n_delay, (1.0 - frac) / (1.0 + frac)


def _piano(freq: float, *, rng: np.random.Generator, dur_s: float = 2.5) -> np.ndarray:
    """Piano-like tone [shape=(dur_s * SR,)]: stretched partials, each with a two-stage decay."""
    t = np.arange(int(dur_s * SR), dtype=np.float32) / SR
    k = np.arange(1, 11)
    partials = k * freq * np.sqrt(1 + 4e-4 * k**2)  # string stiffness stretches the partials
    keep = partials < 0.45 * SR
    k, partials = k[keep], partials[keep]
    amps = (1.0 / k**1.2) * rng.uniform(0.8, 1.2, len(k))
    tau = 1.8 * np.sqrt(262.0 / freq) / k**0.6  # high partials and high notes die sooner
    tone = np.zeros(len(t), dtype=np.float32)
    for f, amp, tau_k in zip(partials.tolist(), amps.tolist(), tau.tolist()):
        # Python floats keep the arithmetic in float32, twice as fast as float64.
        decay = 0.7 * np.exp(t * (-4.0 / tau_k)) + 0.3 * np.exp(t * (-1.0 / tau_k))
        tone += amp * decay * np.sin(t * (2 * np.pi * f))
    return tone * np.minimum(1.0, t / 0.002)  # 2 ms hammer attack


def _piece_pad(starts: np.ndarray, midis: np.ndarray, *, n: int,
               rng: np.random.Generator) -> np.ndarray:
    """A soft pad holding each chord from its start to the next one's [shape=(n,)]."""
    ends = np.append(starts[1:], n / SR)
    release_s = 0.6
    spans = np.round((ends - starts + release_s) * SR).astype(np.int64)
    y = np.zeros(n)
    tones = {}
    for start, chord, m in zip(starts, midis, spans):
        key = tuple(chord.tolist())
        if key not in tones:  # one long tone per distinct chord, cut to length per use
            tones[key] = _pad_tone(chord, n=int(spans.max()), rng=rng)
        env = _pad_envelope(int(m), attack_s=0.8, release_s=release_s)
        _place(y, tones[key][:m] * env, [start], 0.12)
    return y
