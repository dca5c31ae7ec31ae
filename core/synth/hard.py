"""The hard cases of the demo: music that a kick detector or a timbre detector gets wrong.

- ``make_breakbeat`` (banger): the banger arrangement over a syncopated break, no kick on every beat;
- ``make_live_drums`` (not a banger: acoustic instruments): an acoustic kit, plucked bass and
  piano at dance tempo, 118-132 BPM;
- ``make_ambient`` (not a banger): electronic pads and a sub-bass drone, no beat at all;
- ``make_synth_ballad`` (not a banger): synth pads, bass and lead over a soft half-time drum
  machine at 60-80 BPM;
- ``make_intro_outro`` (a banger track): an acoustic intro and outro around a four-on-the-floor
  middle; its intro and outro segments are, by Haverford's rule, not bangers.

Each returns a ``SynthTrack`` whose segments say ``style`` and ``hard`` so that simulated
labellers can disagree where people would.
"""

from __future__ import annotations

import numpy as np

from haverford.core.synth._base import (
    _BANGER_BPM,
    _DOPENESS,
    _GUITAR,
    _MAJOR_PROGRESSIONS,
    _MINOR_PROGRESSIONS,
    _PIANO,
    _SEGMENT_N,
    SR,
    _filtered,
    _midi_hz,
    _pad_envelope,
    _pad_tone,
    _place,
    _voice,
)
from haverford.core.synth.acoustic import _concat_notes, _four_note_voicing, _Notes, _plan_piece, _render_notes
from haverford.core.synth.banger import (
    _banger_bars,
    _crash,
    _drop_times,
    _Grid,
    _hat,
    _hats,
    _kick,
    _render_banger,
    _snare,
    _snare_roll,
)
from haverford.core.synth.track import (
    BANGER,
    NOT_A_BANGER,
    SynthTrack,
    master,
    n_samples,
    renumber,
    segment_truth,
    title,
)

_BREAKBEAT_BPM = (130.0, 150.0)
_LIVE_BPM = (118.0, 132.0)
_BALLAD_BPM = (60.0, 80.0)
# 16th-note positions of the kick in a break bar: never all four beats.
_BREAK_KICKS = ((0, 10), (0, 6, 10), (0, 3, 10, 11), (0, 7, 10))
_BREAK_GHOSTS = (7, 9, 15)


# ---------------------------------------------------------------------------------------------
# Public makers


def make_breakbeat(seed: int, *, duration_s: float) -> SynthTrack:
    """A banger over a syncopated break (130-150 BPM): build-ups and drops, no four-on-the-floor.

    Same contract as ``make_banger``; segments are ``style="breakbeat"``, ``hard=True``.
    """
    n = n_samples(duration_s)
    rng = np.random.default_rng(seed)
    bpm = round(float(rng.uniform(*_BREAKBEAT_BPM)), 1)
    bars = _banger_bars(bpm, n=n, rng=rng)
    y = master(_render_banger(bars, n=n, rng=rng, drums=_break_drums), rng=rng)
    drops = _dopeness(_drop_times(bars), rng=rng)
    segments = segment_truth(n // _SEGMENT_N, bpm=bpm, drops=drops, acoustic=False, verdict=BANGER,
                             style="breakbeat", hard=True)
    return SynthTrack(title(BANGER, f"seed {seed}", bpm), BANGER, y, SR, bpm, segments,
                      tuple(t for t, _ in drops), style="breakbeat")


def make_live_drums(seed: int, *, duration_s: float) -> SynthTrack:
    """A band at dance tempo (118-132 BPM): acoustic kit, plucked bass, piano; not a banger.

    Segments are ``acoustic=True``, ``style="live_drums"``, ``hard=True``, no drops.
    """
    n = n_samples(duration_s)
    rng = np.random.default_rng(seed)
    bpm = round(float(rng.uniform(*_LIVE_BPM)), 1)
    y = _live_kit(bpm, n=n, rng=rng) + _band(bpm, n=n, rng=rng)
    segments = segment_truth(n // _SEGMENT_N, bpm=bpm, drops=[], acoustic=True, verdict=NOT_A_BANGER,
                             style="live_drums", hard=True)
    return SynthTrack(title(NOT_A_BANGER, f"seed {seed}", bpm), NOT_A_BANGER, master(y, rng=rng), SR,
                      bpm, segments, style="live_drums")


def make_ambient(seed: int, *, duration_s: float) -> SynthTrack:
    """Electronic ambient: detuned saw pads, a sub-bass drone, noise swells; no beat, no kick.

    Segments are ``acoustic=False``, ``bpm=None``, ``style="ambient"``, ``hard=True``.
    """
    n = n_samples(duration_s)
    rng = np.random.default_rng(seed)
    y = _ambient(n=n, rng=rng)
    segments = segment_truth(n // _SEGMENT_N, bpm=None, drops=[], acoustic=False, verdict=NOT_A_BANGER,
                             style="ambient", hard=True)
    return SynthTrack(title(NOT_A_BANGER, f"seed {seed}", None), NOT_A_BANGER, master(y, rng=rng), SR,
                      None, segments, style="ambient")


def make_synth_ballad(seed: int, *, duration_s: float) -> SynthTrack:
    """A slow synth ballad (60-80 BPM): pads, synth bass and lead, half-time drum machine.

    Segments are ``acoustic=False``, no drops, ``style="synth_ballad"``, ``hard=True``.
    """
    n = n_samples(duration_s)
    rng = np.random.default_rng(seed)
    bpm = round(float(rng.uniform(*_BALLAD_BPM)), 1)
    y = _ballad(bpm, n=n, rng=rng)
    segments = segment_truth(n // _SEGMENT_N, bpm=bpm, drops=[], acoustic=False, verdict=NOT_A_BANGER,
                             style="synth_ballad", hard=True)
    return SynthTrack(title(NOT_A_BANGER, f"seed {seed}", bpm), NOT_A_BANGER, master(y, rng=rng), SR,
                      bpm, segments, style="synth_ballad")


def make_intro_outro(seed: int, *, duration_s: float) -> SynthTrack:
    """A banger whose first one or two segments and last segment are an acoustic piece.

    The track's label is ``banger``; its intro and outro segments are ``acoustic=True``,
    ``verdict="not_a_banger"`` (Haverford's rule), ``hard=True``. Under 15 s (three segments)
    there is no room for them and the track is a plain four-on-the-floor banger.
    """
    n = n_samples(duration_s)
    rng = np.random.default_rng(seed)
    n_intro, n_outro = _intro_outro_segments(n // _SEGMENT_N)
    n_body = n // _SEGMENT_N - n_intro - n_outro
    body_samples = n - n_intro * _SEGMENT_N if not n_outro else n_body * _SEGMENT_N
    bpm = round(float(rng.uniform(*_BANGER_BPM)), 1)
    bars = _banger_bars(bpm, n=body_samples, rng=rng)
    body = _render_banger(bars, n=body_samples, rng=rng)
    intro, intro_bpm = _acoustic_part(n_intro * _SEGMENT_N, rng=rng)
    outro, outro_bpm = _acoustic_part(n - n_intro * _SEGMENT_N - body_samples, rng=rng)
    y = np.concatenate([_level(intro, 0.6), _level(body, 1.0), _level(outro, 0.6)])
    drops = _dopeness(_drop_times(bars), rng=rng)
    segments = renumber([
        segment_truth(n_intro, bpm=intro_bpm, drops=[], acoustic=True, verdict=NOT_A_BANGER,
                      style="acoustic_intro", hard=True),
        segment_truth(n_body, bpm=bpm, drops=drops, acoustic=False, verdict=BANGER, style="four_on_the_floor"),
        segment_truth(n_outro, bpm=outro_bpm, drops=[], acoustic=True, verdict=NOT_A_BANGER,
                      style="acoustic_outro", hard=True)])
    drop_times = tuple(t + n_intro * 5.0 for t, _ in drops)
    return SynthTrack(title(BANGER, f"seed {seed}", bpm), BANGER, master(y, rng=rng), SR, bpm, segments,
                      drop_times, style="intro_outro")


def _dopeness(times: list[float], *, rng: np.random.Generator) -> list[tuple[float, int]]:
    dopeness = rng.integers(_DOPENESS[0], _DOPENESS[1] + 1, size=len(times)).tolist()
    return list(zip(times, dopeness, strict=False))


# ---------------------------------------------------------------------------------------------
# Breakbeat


def _break_drums(grid: _Grid, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """A syncopated break in drops (kick, snare on 2 and 4, ghost notes), rolls in build-ups."""
    y = np.zeros(n)
    drop = grid.kind == "drop"
    kicks = _BREAK_KICKS[int(rng.integers(len(_BREAK_KICKS)))]
    _place(y, _kick(rng, dur_s=0.25), grid.t[drop & np.isin(grid.pos, kicks)], 0.9)
    snare = _snare(rng)
    _place(y, snare, grid.t[drop & np.isin(grid.pos, (4, 12))], 0.5)
    ghosts = drop & np.isin(grid.pos, _BREAK_GHOSTS) & (rng.random(len(grid.t)) < 0.6)
    _place(y, snare, grid.t[ghosts], 0.12)
    roll = _snare_roll(grid)
    _place(y, snare, grid.t[roll], 0.08 + 0.4 * grid.progress[roll] ** 2)
    _place(y, _crash(rng), grid.t[drop & (grid.progress == 0)], 0.3)
    _hats(y, grid, rng=rng)
    return y


# ---------------------------------------------------------------------------------------------
# Live drums: an acoustic kit and a band


def _live_kit(bpm: float, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """Kick, snare on 2 and 4 and hats on 8ths, played by a person: timing and force vary."""
    eighth_s = 30.0 / bpm
    steps = np.arange(int(n / SR / eighth_s) + 1)
    pos = steps % 8  # 8th notes in a 4/4 bar
    t = steps * eighth_s + rng.normal(0, 0.008, len(steps))  # a drummer is ~8 ms off the grid
    force = rng.uniform(0.75, 1.0, len(steps))
    disco = rng.random() < 0.5  # the kick on every beat, or rock's 1, 3 and the "and" of 3
    kick_at = (0, 2, 4, 6) if disco else (0, 4, 5)
    y = np.zeros(n)
    _place(y, _acoustic_kick(rng), t[np.isin(pos, kick_at)], 0.8 * force[np.isin(pos, kick_at)])
    _place(y, _acoustic_snare(rng), t[np.isin(pos, (2, 6))], 0.55 * force[np.isin(pos, (2, 6))])
    _place(y, _acoustic_hat(rng), t, 0.12 * force * np.where(pos % 2 == 1, 1.0, 0.7))
    return y


def _acoustic_kick(rng: np.random.Generator, *, dur_s: float = 0.3) -> np.ndarray:
    """A drum-kit kick: a short 95 -> 55 Hz body and a loud felt beater; far less sub than an 808."""
    t = np.arange(int(dur_s * SR)) / SR
    freq = 55.0 + 40.0 * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.07)
    beater = _filtered(rng.standard_normal(len(t)), 3000.0, btype="lowpass") * np.exp(-t / 0.008)
    return body + 0.7 * beater


def _acoustic_snare(rng: np.random.Generator, *, dur_s: float = 0.35) -> np.ndarray:
    """A snare drum: rattling wires (band noise, long tail) over a two-mode shell."""
    t = np.arange(int(dur_s * SR)) / SR
    wires = _filtered(rng.standard_normal(len(t)), (1500.0, 9000.0), btype="bandpass") * np.exp(-t / 0.12)
    shell = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.05) + 0.5 * np.sin(2 * np.pi * 330.0 * t) * np.exp(-t / 0.03)
    return wires + 0.6 * shell


def _acoustic_hat(rng: np.random.Generator, *, dur_s: float = 0.12) -> np.ndarray:
    """A closed hi-hat: inharmonic metal partials (3-9 kHz) and hiss, decaying in ~30 ms."""
    t = np.arange(int(dur_s * SR)) / SR
    partials = rng.uniform(3000.0, 9000.0, 8)
    metal = np.sin(2 * np.pi * np.outer(partials, t) + rng.uniform(0, 2 * np.pi, (8, 1))).mean(axis=0)
    hiss = _filtered(rng.standard_normal(len(t)), 6000.0, btype="highpass")
    return (metal + 0.6 * hiss) * np.exp(-t / 0.03)


def _band(bpm: float, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """Plucked bass on the roots in 8ths and piano chords on beats 1 and 3, one chord a bar."""
    progression = _MAJOR_PROGRESSIONS[int(rng.integers(len(_MAJOR_PROGRESSIONS)))]
    tonic = int(rng.integers(50, 58))
    bar_s = 240.0 / bpm
    n_bars = int(n / SR / bar_s) + 1
    voicings = np.array([_four_note_voicing(progression[b % len(progression)], tonic=tonic)
                         for b in range(n_bars)])
    eighths = np.arange(n_bars * 8)
    bass = _Notes(eighths * bar_s / 8 + rng.normal(0, 0.006, len(eighths)), voicings[eighths // 8, 0] - 24,
                  rng.uniform(0.6, 0.9, len(eighths)), np.full(len(eighths), _GUITAR))
    halves = np.arange(n_bars * 2)
    onsets = (halves[:, None] * bar_s / 2 + np.arange(4)[None, :] * 0.01).ravel()
    chords = _Notes(onsets, voicings[halves // 2].ravel(), rng.uniform(0.25, 0.4, onsets.size),
                    np.full(onsets.size, _PIANO))
    return _render_notes(_concat_notes(bass, chords), n=n, rng=rng)


# ---------------------------------------------------------------------------------------------
# Synthesisers: held chords, ambient, ballad


def _saw_tone(midis: np.ndarray, *, n: int, rng: np.random.Generator, cutoff_hz: float = 1500.0) -> np.ndarray:
    """Detuned sawtooth chord [shape=(n,)], three oscillators a note, low-passed (a synth pad)."""
    t = np.arange(n, dtype=np.float32) / SR
    freqs = np.outer(_midi_hz(midis), 2.0 ** (np.array([-10.0, 0.0, 10.0]) / 1200)).ravel()
    tone = np.zeros(n, dtype=np.float32)
    for f, phase in zip(freqs.tolist(), rng.random(len(freqs)).tolist(), strict=False):
        tone += 2.0 * ((t * f + phase) % 1.0) - 1.0
    return _filtered(tone / len(freqs), cutoff_hz, btype="lowpass")


def _held_chords(starts: np.ndarray, voicings: np.ndarray, *, n: int, rng: np.random.Generator, tone,
                 attack_s: float, release_s: float, gain: float) -> np.ndarray:
    """Each chord of ``voicings [shape=(n_chords, k)]`` held from its start to the next one's."""
    ends = np.append(starts[1:], n / SR)
    spans = np.round((ends - starts + release_s) * SR).astype(np.int64)
    y = np.zeros(n)
    tones: dict[tuple, np.ndarray] = {}
    for start, chord, m in zip(starts, voicings, spans, strict=False):
        key = tuple(np.atleast_1d(chord).tolist())
        if key not in tones:  # one long tone per distinct chord, cut to length per use
            tones[key] = tone(np.atleast_1d(chord), n=int(spans.max()), rng=rng)
        _place(y, tones[key][:m] * _pad_envelope(int(m), attack_s=attack_s, release_s=release_s), [start], gain)
    return y


def _chords(rng: np.random.Generator, *, n_chords: int, low: int) -> np.ndarray:
    """Voicings [shape=(n_chords, 3)] of a random progression in ``[low, low + 12)``, tonic random."""
    progressions = _MINOR_PROGRESSIONS if rng.random() < 0.5 else _MAJOR_PROGRESSIONS
    progression = progressions[int(rng.integers(len(progressions)))]
    tonic = int(rng.integers(low, low + 12))
    return np.array([_voice(progression[i % len(progression)], tonic=tonic, low=low) for i in range(n_chords)])


def _ambient(*, n: int, rng: np.random.Generator) -> np.ndarray:
    """Saw pads changing every 4-8 s, a sub drone on the first chord's root, noise swells."""
    chord_s = float(rng.uniform(4.0, 8.0))
    starts = np.arange(0.0, n / SR, chord_s)
    voicings = _chords(rng, n_chords=len(starts), low=55)
    y = _held_chords(starts, voicings, n=n, rng=rng, tone=_saw_tone, attack_s=1.5, release_s=1.5, gain=0.5)
    t = np.arange(n) / SR
    drone = np.sin(2 * np.pi * _midi_hz(voicings[0, 0] - 24) * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.07 * t))
    swell = _filtered(rng.standard_normal(n), (2000.0, 6000.0), btype="bandpass")
    swell *= 0.5 + 0.5 * np.sin(2 * np.pi * t / float(rng.uniform(6.0, 12.0)))
    return y + 0.3 * drone + 0.05 * swell


def _ballad(bpm: float, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """Pads and sub bass a chord a bar, a lead melody in quarters, kick on 1 and clap on 3."""
    bar_s = 240.0 / bpm
    starts = np.arange(0.0, n / SR, bar_s)
    voicings = _chords(rng, n_chords=len(starts), low=57)
    y = _held_chords(starts, voicings, n=n, rng=rng, tone=_saw_tone, attack_s=0.4, release_s=0.6, gain=0.35)
    y += _held_chords(starts, voicings[:, :1] - 24, n=n, rng=rng, tone=_pad_tone, attack_s=0.05,
                      release_s=0.3, gain=0.45)
    y += _lead(voicings, bar_s=bar_s, n=n, rng=rng)
    return y + _drum_machine(bar_s, n=n, rng=rng)


def _lead(voicings: np.ndarray, *, bar_s: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """A lead melody [shape=(n,)]: quarter notes on chord tones an octave up, some rests."""
    quarter = np.arange(len(voicings) * 4)
    pick = rng.integers(0, voicings.shape[1], len(quarter))
    midi = voicings[quarter // 4, pick] + 12
    play = rng.random(len(quarter)) < 0.7
    y = np.zeros(n)
    for m in np.unique(midi[play]).tolist():
        note = _saw_tone(np.array([m]), n=int(bar_s / 4 * SR), rng=rng, cutoff_hz=2500.0)
        note *= _pad_envelope(len(note), attack_s=0.02, release_s=0.1)
        _place(y, note, quarter[play & (midi == m)] * bar_s / 4, 0.2)
    return y


def _drum_machine(bar_s: float, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """A soft half-time beat: kick on beat 1, clap on beat 3, quiet hats on 8ths."""
    bars = np.arange(0.0, n / SR, bar_s)
    eighths = np.arange(0.0, n / SR, bar_s / 8)
    y = np.zeros(n)
    _place(y, _kick(rng), bars, 0.5)
    _place(y, _snare(rng), bars + bar_s / 2, 0.2)
    _place(y, _hat(rng), eighths, 0.05)
    return y


# ---------------------------------------------------------------------------------------------
# Intro and outro


def _intro_outro_segments(n_segments: int) -> tuple[int, int]:
    """Segments of acoustic intro and outro: (2, 1) from 8 segments, (1, 1) from 3, else none."""
    if n_segments >= 8:
        return 2, 1
    return (1, 1) if n_segments >= 3 else (0, 0)


def _acoustic_part(n: int, *, rng: np.random.Generator) -> tuple[np.ndarray, float | None]:
    """An acoustic piece ``[shape=(n,)]`` (empty when ``n`` is 0) and its tempo (None: free)."""
    if n == 0:
        return np.zeros(0), None
    piece = _plan_piece(rng, duration_s=n / SR)
    return _render_notes(piece.notes, n=n, rng=rng), piece.bpm


def _level(y: np.ndarray, peak: float) -> np.ndarray:
    """``y`` scaled to ``peak`` with 10 ms fades at both ends, so parts join without a click."""
    if not len(y):
        return y
    ramp = np.minimum(1.0, np.minimum(np.arange(len(y)), np.arange(len(y))[::-1]) / (0.01 * SR))
    return y * ramp * (peak / (np.abs(y).max() or 1.0))
