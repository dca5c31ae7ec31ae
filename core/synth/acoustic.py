"""Not-bangers: slow plucked-string (Karplus-Strong) and piano-like pieces, free or rubato tempo."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import signal

from haverford.core.synth._base import (
    _ARP_PATTERNS,
    _FREE_TEMPO_P,
    _GUITAR,
    _MAJOR_PROGRESSIONS,
    _MINOR_PROGRESSIONS,
    _NOT_BANGER_BPM,
    _PIANO,
    SR,
    _filtered,
    _midi_hz,
    _pad_envelope,
    _pad_tone,
    _place,
    _voice,
)


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
    for instrument, midi in sorted(set(zip(notes.instrument.tolist(), notes.midi.tolist(), strict=False))):
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
    for f, amp, tau_k in zip(partials.tolist(), amps.tolist(), tau.tolist(), strict=False):
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
    for start, chord, m in zip(starts, midis, spans, strict=False):
        key = tuple(chord.tolist())
        if key not in tones:  # one long tone per distinct chord, cut to length per use
            tones[key] = _pad_tone(chord, n=int(spans.max()), rng=rng)
        env = _pad_envelope(int(m), attack_s=0.8, release_s=release_s)
        _place(y, tones[key][:m] * env, [start], 0.12)
    return y

