"""The seed's features, computed exactly as the 2018 notebook did."""

import librosa
import numpy as np
import pytest
from conftest import clicks, tone

from haverford.core import features
from haverford.core.config import SEGMENT_SAMPLES
from haverford.core.errors import HaverfordError


@pytest.fixture(scope="module")
def segments():
    rng = np.random.default_rng(0)
    noise = 0.05 * rng.standard_normal(SEGMENT_SAMPLES).astype(np.float32)
    return np.stack([tone(440, seconds=5.0), clicks(128, seconds=5.0), noise])


def seed_log_stft(y):
    """The notebook's computation, written out with librosa directly."""
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=512, window="hann", center=True)) ** 2
    return librosa.power_to_db(S, ref=np.max, top_db=80)


# librosa windows and transforms in float64 and rounds to complex64; ours stays in float32.
# That moves bins near the -80 dB floor by under 0.002 dB, a thirtieth of the float16 step
# (0.0625 dB at -80) in which the store keeps them.
SEED_ATOL_DB = 5e-3


def test_log_stft_matches_seed_exactly(segments):
    out = features.log_stft(segments)
    assert out.shape == (3, 1025, 216)
    for clip, y in zip(out, segments, strict=False):
        np.testing.assert_allclose(clip, seed_log_stft(y), atol=SEED_ATOL_DB)


def test_stft_matches_librosa_stft(segments):
    ours = features.stft(segments)
    ref = librosa.stft(segments, n_fft=2048, hop_length=512, window="hann", center=True)
    assert ours.shape == ref.shape == (3, 1025, 216) and ours.dtype == np.complex64
    np.testing.assert_allclose(ours, ref, atol=2e-6 * np.abs(ref).max())


def test_stft_of_any_length_frames_like_librosa():
    y = np.random.default_rng(1).standard_normal(3000).astype(np.float32)
    ref = librosa.stft(y, n_fft=2048, hop_length=512, center=True)
    np.testing.assert_allclose(features.stft(y)[0], ref, atol=2e-6 * np.abs(ref).max())


def test_shipped_mel_table_is_librosas_filter_bank():
    ref = librosa.filters.mel(sr=22050, n_fft=2048, n_mels=128)
    np.testing.assert_array_equal(features.mel_basis(), ref.astype(np.float32),
                                  err_msg="regenerate with: python -c 'from haverford.core.features import write_mel_table; "
                                          "write_mel_table()'")


def test_db_scaling_matches_power_to_db_per_clip(segments):
    S = features.power(features.stft(segments))
    out = features.to_db(S)
    for clip, ref in zip(out, S, strict=False):
        np.testing.assert_array_equal(clip, librosa.power_to_db(ref, ref=np.max, top_db=80))


def test_a_silent_clip_sits_at_the_floor_not_at_the_top(segments):
    S = features.power(features.stft(segments))
    S[2] = 0.0  # librosa's power_to_db gives 0 dB here: the loudest possible image
    out = features.to_db(S)
    assert np.all(out[2] == -80.0)
    assert out[0].max() == 0.0 and out[1].max() == 0.0


def test_log_stft_is_scaled_per_clip_to_its_own_max(segments):
    out = features.log_stft(segments * np.array([[1.0], [0.01], [3.0]], dtype=np.float32))
    assert np.allclose(out.max(axis=(1, 2)), 0.0)
    assert out.min() >= -80.0


def test_log_stft_of_a_tone_peaks_at_its_frequency(segments):
    out = features.log_stft(segments[:1])[0]
    peak_bin = out[:, 100].argmax()
    assert abs(librosa.fft_frequencies(sr=22050, n_fft=2048)[peak_bin] - 440) < 11


def test_log_mel_matches_librosa_melspectrogram(segments):
    out = features.log_mel(segments)
    assert out.shape == (3, 128, 216)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=segments[1], sr=22050, n_fft=2048,
                                                             hop_length=512, n_mels=128),
                              ref=np.max, top_db=80)
    np.testing.assert_allclose(out[1], ref, atol=1e-3)


def test_percussive_mel_keeps_clicks_and_drops_a_steady_tone(segments):
    out = features.percussive_mel(segments[:2])
    assert out.shape == (2, 128, 216)
    assert out.min() >= -80.0 and np.isclose(out.max(), 0.0)
    full = features.log_mel(segments[:2])
    # a steady tone is harmonic: little of it survives in the percussive part
    assert (out[0] > -40).mean() < (full[0] > -40).mean()


def test_percussive_mel_is_librosas_hpss(segments):
    """Our row-at-a-time median filters (3x faster) give what librosa.decompose.hpss gives."""
    silence = np.zeros((1, SEGMENT_SAMPLES), dtype=np.float32)
    y = np.concatenate([segments, silence])
    power = [np.abs(librosa.decompose.hpss(D)[1]) ** 2 for D in features.stft(y)]
    ref = features.to_db(np.stack([features.mel_power(P.T.astype(np.float32)).T for P in power]))
    np.testing.assert_allclose(features.percussive_mel(y), ref, atol=1e-4)
    # the filters themselves are librosa's, to the last bit, on the magnitudes
    S = np.abs(features.stft(segments[1:2])[0])
    harmonic, percussive = librosa.decompose.hpss(S)
    np.testing.assert_allclose(features.percussive_power(np.ascontiguousarray(S.T)), (percussive ** 2).T, rtol=1e-6)


def test_compute_many_shares_the_stft_and_agrees(segments):
    many = features.compute_many(["log_stft", "log_mel"], segments)
    np.testing.assert_array_equal(many["log_mel"], features.log_mel(segments))
    np.testing.assert_array_equal(many["log_stft"], features.log_stft(segments))


def test_unknown_feature_names_the_known_ones():
    with pytest.raises(HaverfordError, match="unknown feature 'mfcc'.*log_mel"):
        features.compute("mfcc", np.zeros((1, SEGMENT_SAMPLES), dtype=np.float32))
