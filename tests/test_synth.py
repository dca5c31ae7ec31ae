"""The demo music: reproducible, well-formed, and audibly a banger or not."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy import signal

from haverford.core import synth
from haverford.core.synth import acoustic
from haverford.core.synth import SR, make_banger, make_library, make_not_banger

SEGMENT = int(5 * SR)


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


@pytest.mark.parametrize("make", [make_banger, make_not_banger])
def test_same_seed_gives_identical_audio_and_truth(make):
    first, second = make(7, duration_s=12.0), make(7, duration_s=12.0)
    assert np.array_equal(first.y, second.y)
    assert (first.title, first.bpm, first.segments) == (second.title, second.bpm, second.segments)


@pytest.mark.parametrize("make", [make_banger, make_not_banger])
def test_different_seeds_give_different_audio(make):
    assert not np.array_equal(make(1, duration_s=10.0).y, make(2, duration_s=10.0).y)


@pytest.mark.parametrize("make", [make_banger, make_not_banger])
@pytest.mark.parametrize("duration_s", [5.0, 12.4, 37.3])
def test_length_and_one_truth_per_full_segment(make, duration_s):
    track = make(3, duration_s=duration_s)
    assert track.y.shape == (round(duration_s * SR),)
    assert [s.index for s in track.segments] == list(range(math.floor(duration_s / 5)))
    assert [s.start_s for s in track.segments] == [5.0 * i for i in range(len(track.segments))]


def test_audio_is_finite_float32_at_the_same_peak(bangers, not_bangers):
    for track in bangers + not_bangers:
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
    assert all(np.array_equal(a.y, b.y) and a.title == b.title for a, b in zip(first, second))
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


def test_a_minute_of_music_takes_well_under_half_a_second():
    for make in (make_banger, make_not_banger):
        make(0, duration_s=5.0)  # warm caches of scipy's filter design
        best = min(_seconds(make, seed) for seed in range(3))
        assert best < 0.5, f"{make.__name__}: {best:.2f} s for 60 s of audio"


def _seconds(make, seed: int) -> float:
    start = time.process_time()  # CPU time: other processes on the machine do not count
    make(seed, duration_s=60.0)
    return time.process_time() - start
