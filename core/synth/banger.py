"""Bangers: four-on-the-floor arrangement, drums, bass, stabs, risers and pads."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from haverford.core.synth._base import (
    _MINOR_PROGRESSIONS,
    _SEGMENT_N,
    _STAB_RHYTHMS,
    SEGMENT_S,
    SR,
    _filtered,
    _midi_hz,
    _pad_envelope,
    _pad_tone,
    _place,
    _voice,
)


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


def _render_banger(bars: _Bars, *, n: int, rng: np.random.Generator, drums=None) -> np.ndarray:
    """Mix of drums, bass, stabs, risers and pads [shape=(n,)].

    ``drums(grid, n=, rng=)`` renders the drum kit; the default is the four-on-the-floor kit.
    """
    progression = _MINOR_PROGRESSIONS[int(rng.integers(len(_MINOR_PROGRESSIONS)))]
    tonic = int(rng.integers(33, 41))  # A1..E2: the bass sits under ~120 Hz
    grid = _grid(bars, n_chords=len(progression))
    y = (drums or _drums)(grid, n=n, rng=rng)
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

