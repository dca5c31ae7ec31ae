"""The demo music: reproducible, well-formed, and audibly a banger, not one, or a hard case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from haverford.core import synth
from haverford.core.synth import (
    SR,
    acoustic,
    make_ambient,
    make_banger,
    make_breakbeat,
    make_intro_outro,
    make_library,
    make_live_drums,
    make_not_banger,
    make_synth_ballad,
)

SEGMENT = int(5 * SR)
MAKERS = [make_banger, make_not_banger, make_breakbeat, make_live_drums, make_ambient, make_synth_ballad,
          make_intro_outro]


@pytest.fixture(scope="module")
def bangers() -> list[synth.SynthTrack]:
    return [make_banger(seed, duration_s=60.0) for seed in range(3)]


@pytest.fixture(scope="module")
def not_bangers() -> list[synth.SynthTrack]:
    return [make_not_banger(seed, duration_s=60.0) for seed in range(4)]


def low_share(y: np.ndarray, *, below_hz: float = 150.0) -> float:
    """Fraction of the power of ``y`` below ``below_hz``."""
    power = np.abs(np.fft.rfft(y)) ** 2
    return float(power[np.fft.rfftfreq(len(y), 1 / SR) < below_hz].sum() / power.sum())


@pytest.mark.parametrize("make", MAKERS)
def test_same_seed_gives_identical_audio_and_truth(make):
    first, second = make(7, duration_s=12.0), make(7, duration_s=12.0)
    assert np.array_equal(first.y, second.y)
    assert (first.title, first.bpm, first.segments) == (second.title, second.bpm, second.segments)


@pytest.mark.parametrize("make", MAKERS)
def test_different_seeds_give_different_audio(make):
    assert not np.array_equal(make(1, duration_s=10.0).y, make(2, duration_s=10.0).y)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("duration_s", [5.0, 12.4, 37.3])
def test_length_and_one_truth_per_full_segment(make, duration_s):
    track = make(3, duration_s=duration_s)
    assert track.y.shape == (round(duration_s * SR),)
    assert [s.index for s in track.segments] == list(range(math.floor(duration_s / 5)))
    assert [s.start_s for s in track.segments] == [5.0 * i for i in range(len(track.segments))]


@pytest.fixture(scope="module")
def hard_cases() -> dict[str, list[synth.SynthTrack]]:
    makers = [make_breakbeat, make_live_drums, make_ambient, make_synth_ballad, make_intro_outro]
    return {m.__name__: [m(seed, duration_s=60.0) for seed in range(2)] for m in makers}


def test_audio_is_finite_float32_at_the_same_peak(bangers, not_bangers, hard_cases):
    for track in bangers + not_bangers + sum(hard_cases.values(), []):
        assert track.sr == SR and track.y.dtype == np.float32
        assert np.isfinite(track.y).all()
        assert np.abs(track.y).max() == pytest.approx(0.89, abs=1e-6)
        rms = [np.sqrt(np.mean(track.y[i * SEGMENT:(i + 1) * SEGMENT] ** 2)) for i in range(12)]
        assert min(rms) > 1e-4, f"{track.title}: a segment is (nearly) silent"


def test_bangers_drop_on_bar_lines_and_truth_counts_them(bangers):
    for track in bangers:
        bar_s = 240.0 / track.bpm
        assert track.drop_times_s, f"{track.title} has no drop"
        assert all(abs(t / bar_s - round(t / bar_s)) < 1e-9 for t in track.drop_times_s)
        assert sum(s.drops for s in track.segments) == len(track.drop_times_s)
        for seg in track.segments:
            assert 120 <= seg.bpm <= 140 and seg.bpm == track.bpm
            assert (seg.acoustic, seg.verdict, track.label) == (False, "banger", "banger")
            if seg.drops:
                assert 5 <= seg.drop_dopeness <= 10
            else:
                assert seg.drop_dopeness is None


@pytest.mark.parametrize("duration_s", [5.0, 7.5, 11.0])
def test_even_a_short_banger_has_a_drop_in_a_full_segment(duration_s):
    for seed in range(4):
        track = make_banger(seed, duration_s=duration_s)
        assert sum(s.drops for s in track.segments) >= 1


def test_not_bangers_are_acoustic_without_drops(not_bangers):
    for track in not_bangers:
        assert track.label == "not_a_banger" and track.drop_times_s == ()
        assert track.bpm is None or 50 <= track.bpm <= 90
        for seg in track.segments:
            assert (seg.drops, seg.drop_dopeness, seg.acoustic) == (0, None, True)
            assert (seg.verdict, seg.bpm) == ("not_a_banger", track.bpm)


def test_some_not_bangers_have_free_tempo():
    tempos = [make_not_banger(seed, duration_s=5.0).bpm for seed in range(12)]
    assert None in tempos and any(t is not None for t in tempos)


def test_a_beat_tracker_hears_the_banger_tempo_in_a_drop(bangers):
    import librosa
    for track in bangers:
        start = track.drop_times_s[0]
        drop = track.y[int(start * SR):int((start + 4 * 240.0 / track.bpm) * SR)]
        tempo = float(np.atleast_1d(librosa.beat.beat_track(y=drop, sr=SR)[0])[0])
        ratios = [tempo / (track.bpm * k) for k in (0.5, 1.0, 2.0)]
        assert any(abs(r - 1) < 0.05 for r in ratios), f"{track.title}: heard {tempo:.1f}"


def test_drops_carry_far_more_bass_than_acoustic_music(bangers, not_bangers):
    in_drops = [low_share(t.y[int(d * SR):int((d + 3) * SR)])
                for t in bangers for d in t.drop_times_s]
    acoustic = [low_share(t.y[i * SEGMENT:(i + 1) * SEGMENT])
                for t in not_bangers for i in range(len(t.segments))]
    assert min(in_drops) > 0.6
    assert np.median(acoustic) < 0.2
    assert min(in_drops) > max(acoustic)


@pytest.mark.parametrize("midi", [52, 57, 64, 76])
def test_plucked_string_and_piano_are_in_tune(midi):
    freq = 440.0 * 2 ** ((midi - 69) / 12)
    rng = np.random.default_rng(0)
    for tone in (acoustic._pluck(freq, rng=rng), acoustic._piano(freq, rng=rng)):
        spectrum = np.abs(np.fft.rfft(tone[:SR]))  # 1 s: bins 1 Hz apart
        # The pitch heard is the lowest strong partial (a pluck's loudest may be a harmonic).
        peaks, _ = signal.find_peaks(spectrum, height=0.1 * spectrum.max())
        assert peaks[0] == pytest.approx(freq, rel=0.01)


def test_library_alternates_labels_half_each_within_the_durations():
    tracks = list(make_library(4, seed=3, min_s=5.0, max_s=8.0))
    assert [t.label for t in tracks] == ["banger", "not_a_banger"] * 2
    assert all(5 * SR <= len(t.y) <= 8 * SR for t in tracks)
    assert [t.title[:len("Demo banger 01")] for t in tracks[::2]] == ["Demo banger 01",
                                                                       "Demo banger 02"]
    assert all(t.title.isascii() and "/" not in t.title for t in tracks)


def test_library_is_reproducible_from_its_seed():
    first, second = (list(make_library(2, seed=5, min_s=5.0, max_s=9.0)) for _ in range(2))
    assert all(np.array_equal(a.y, b.y) and a.title == b.title for a, b in zip(first, second, strict=False))
    other = next(make_library(1, seed=6, min_s=5.0, max_s=9.0))
    assert not np.array_equal(first[0].y, other.y)


def test_bad_arguments_are_refused_with_the_value():
    with pytest.raises(ValueError, match="3.0"):
        make_banger(0, duration_s=3.0)
    with pytest.raises(ValueError, match="nan"):
        make_not_banger(0, duration_s=float("nan"))
    with pytest.raises(ValueError, match="min_s=40"):
        make_library(2, min_s=40.0, max_s=30.0)
    with pytest.raises(ValueError, match="-1"):
        make_library(-1)


# --- the hard cases ----------------------------------------------------------------------------

def percussive_share(y: np.ndarray) -> float:
    """Fraction of the spectrogram's power in HPSS's percussive part (librosa's median filters)."""
    import librosa

    harmonic, percussive = librosa.decompose.hpss(np.abs(librosa.stft(y)))
    return float((percussive ** 2).sum() / ((harmonic ** 2).sum() + (percussive ** 2).sum()))


def segments_of(track: synth.SynthTrack, style: str | None = None) -> list[np.ndarray]:
    return [track.y[s.index * SEGMENT:(s.index + 1) * SEGMENT] for s in track.segments
            if style is None or s.style == style]


# maker: (track label, style, acoustic, segment verdict, bpm range or None for free tempo)
HARD_TRUTH = {make_breakbeat: ("banger", "breakbeat", False, "banger", (130, 150)),
              make_live_drums: ("not_a_banger", "live_drums", True, "not_a_banger", (118, 132)),
              make_ambient: ("not_a_banger", "ambient", False, "not_a_banger", None),
              make_synth_ballad: ("not_a_banger", "synth_ballad", False, "not_a_banger", (60, 80))}


@pytest.mark.parametrize("make", list(HARD_TRUTH), ids=lambda m: m.__name__)
def test_hard_cases_carry_their_truth(make, hard_cases):
    label, style, is_acoustic, verdict, bpm = HARD_TRUTH[make]
    for track in hard_cases[make.__name__]:
        assert (track.label, track.style) == (label, style)
        assert (bpm is None and track.bpm is None) or bpm[0] <= track.bpm <= bpm[1]
        for seg in track.segments:
            assert (seg.style, seg.hard, seg.acoustic, seg.verdict, seg.bpm) == (style, True, is_acoustic,
                                                                                 verdict, track.bpm)
        assert sum(s.drops for s in track.segments) == len(track.drop_times_s)
        assert (len(track.drop_times_s) > 0) == (label == "banger")


@pytest.mark.parametrize("make", [make_breakbeat, make_live_drums], ids=lambda m: m.__name__)
def test_a_beat_tracker_hears_dance_tempo_in_breakbeats_and_live_drums(make, hard_cases):
    import librosa
    for track in hard_cases[make.__name__]:
        middle = track.y[4 * SEGMENT:8 * SEGMENT]
        tempo = float(np.atleast_1d(librosa.beat.beat_track(y=middle, sr=SR)[0])[0])
        assert any(abs(tempo / (track.bpm * k) - 1) < 0.05 for k in (0.5, 1.0, 2.0)), f"{track.title}: {tempo:.1f}"


def test_ambient_has_the_bass_of_a_drop_but_no_percussion(bangers, hard_cases):
    drops = [t.y[int(d * SR):int((d + 3) * SR)] for t in bangers for d in t.drop_times_s]
    ambient = segments_of(hard_cases["make_ambient"][0])  # one track: HPSS takes 0.3 s a segment
    assert min(low_share(y) for y in ambient) > 0.5  # the timbre of dance music...
    assert max(percussive_share(y) for y in ambient) < 0.05  # ...without a beat
    assert min(percussive_share(y) for y in drops) > 0.3


def test_live_drums_beat_at_dance_tempo_without_a_dance_kick(bangers, hard_cases):
    live = segments_of(hard_cases["make_live_drums"][0])
    in_drops = [low_share(t.y[int(d * SR):int((d + 3) * SR)]) for t in bangers for d in t.drop_times_s]
    assert min(percussive_share(y) for y in live) > 0.1
    assert max(low_share(y) for y in live) < 0.3 < 0.6 < min(in_drops)


def test_synth_ballad_is_slow_and_electronic(hard_cases):
    for track in hard_cases["make_synth_ballad"]:
        assert all(low_share(y) > 0.5 for y in segments_of(track))  # a synth bass under every bar
    assert all(percussive_share(y) < 0.1 for y in segments_of(hard_cases["make_synth_ballad"][0]))  # soft beat


def test_intro_and_outro_are_acoustic_around_a_banger(hard_cases):
    for track in hard_cases["make_intro_outro"]:
        styles = [s.style for s in track.segments]
        assert styles == ["acoustic_intro"] * 2 + ["four_on_the_floor"] * 9 + ["acoustic_outro"]
        assert track.label == "banger" and track.style == "intro_outro"
        for seg in track.segments:
            edge = seg.style != "four_on_the_floor"
            assert (seg.verdict, seg.acoustic, seg.hard) == (("not_a_banger", True, True) if edge
                                                             else ("banger", False, False))
        assert max(low_share(y) for y in segments_of(track, "acoustic_intro")) < 0.2
        assert all(10.0 <= d < 55.0 for d in track.drop_times_s)  # drops fall in the middle
        assert sum(s.drops for s in track.segments) == len(track.drop_times_s) > 0


def test_intro_outro_needs_three_segments_else_it_is_a_plain_banger():
    assert [s.style for s in make_intro_outro(0, duration_s=14.9).segments] == ["four_on_the_floor"] * 2
    assert [s.style for s in make_intro_outro(0, duration_s=15.0).segments] == [
        "acoustic_intro", "four_on_the_floor", "acoustic_outro"]


def test_a_library_of_twelve_holds_every_style_about_half_of_them_hard():
    tracks = list(make_library(12, seed=1, min_s=15.0, max_s=16.0))
    assert sorted({t.style for t in tracks}) == sorted(synth.STYLES)
    assert sorted({t.style for t in tracks[:10]}) != sorted(synth.STYLES)
    assert [t.label for t in tracks] == ["banger", "not_a_banger"] * 6
    hard = [s.hard for t in tracks for s in t.segments]
    assert 0.3 < np.mean(hard) < 0.8
