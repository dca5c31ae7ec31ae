"""Loading any readable file to mono 22,050 Hz, cutting 5 s segments, and refusing bad audio."""

import librosa
import numpy as np
import pytest
import soundfile as sf
from conftest import tone, write_audio

from haverford.core import audio
from haverford.core.config import SEGMENT_SAMPLES, SR
from haverford.core.errors import AudioError


def dominant_frequency(y: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(y))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[spectrum.argmax()])


@pytest.mark.parametrize("sr", [44100, 48000, 8000, 22050])
def test_resamples_to_22050_keeping_pitch_and_duration(tmp_path, sr):
    path = write_audio(tmp_path / f"tone{sr}.wav", tone(440, seconds=6.0, sr=sr), sr)
    y = audio.load(path)
    assert y.dtype == np.float32
    assert abs(len(y) - 6.0 * SR) <= 2
    assert abs(dominant_frequency(y) - 440) < 1.0


def test_stereo_is_downmixed_like_librosa(tmp_path):
    left, right = tone(440, seconds=6.0), tone(660, seconds=6.0)
    path = write_audio(tmp_path / "stereo.wav", np.stack([left, right], axis=1), subtype="FLOAT")
    y = audio.load(path)
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize("ext", ["flac", "ogg", "mp3"])
def test_compressed_formats_load(tmp_path, ext):
    path = write_audio(tmp_path / f"tone.{ext}", tone(440, seconds=6.0, sr=44100), 44100)
    y = audio.load(path)
    assert abs(len(y) / SR - 6.0) < 0.1
    assert abs(dominant_frequency(y) - 440) < 2.0


def test_segments_drop_the_trailing_remainder_and_keep_boundaries(tmp_path):
    y = np.random.default_rng(1).uniform(-0.5, 0.5, int(12.3 * SR)).astype(np.float32)
    path = write_audio(tmp_path / "noise.wav", y, subtype="FLOAT")
    batches = list(audio.iter_segments(path, batch=1))
    assert [b.shape for b in batches] == [(1, SEGMENT_SAMPLES)] * 2
    np.testing.assert_array_equal(batches[1][0], y[SEGMENT_SAMPLES:2 * SEGMENT_SAMPLES])


def test_exactly_ten_seconds_gives_two_segments():
    assert audio.segment(np.zeros(2 * SEGMENT_SAMPLES, dtype=np.float32)).shape == (2, SEGMENT_SAMPLES)
    assert audio.segment(np.zeros(2 * SEGMENT_SAMPLES - 1, dtype=np.float32)).shape == (1, SEGMENT_SAMPLES)


def test_streaming_resample_matches_one_shot_librosa(tmp_path):
    import librosa

    path = write_audio(tmp_path / "long.wav", tone(440, seconds=45.0, sr=44100), 44100)
    streamed = audio.load(path)
    whole, _ = librosa.load(path, sr=SR)
    n = min(len(streamed), len(whole))
    assert abs(len(streamed) - len(whole)) <= 2
    assert np.abs(streamed[1000:n - 1000] - whole[1000:n - 1000]).max() < 1e-3


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="empty file"):
        audio.probe(path)


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not samples")
    with pytest.raises(AudioError, match="not a readable audio file"):
        audio.probe(path)


def test_truncated_flac_keeps_what_decodes_and_says_so(tmp_path):
    path = write_audio(tmp_path / "t.flac", tone(seconds=20.0))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    decoding = audio.Decoding()
    assert sum(len(b) for b in audio.iter_segments(path, decoding=decoding)) == 1
    assert 5.0 < decoding.duration_s < 7.0 and "stopped after" in decoding.truncated


def test_shorter_than_one_segment(tmp_path):
    path = write_audio(tmp_path / "one-second.wav", tone(seconds=1.0))
    with pytest.raises(AudioError, match=r"too short: 1.00 s, a segment needs 5 s"):
        list(audio.iter_segments(path))


def test_silent_audio(tmp_path):
    from haverford.core import analyse

    path = write_audio(tmp_path / "silence.wav", np.zeros(SR * 7, dtype=np.float32))
    assert audio.silent_segments(next(audio.iter_segments(path))).tolist() == [True]
    with pytest.raises(AudioError, match="silent: every sample is zero"):
        list(analyse.featurise(path, ("log_mel",), info=audio.probe(path), decoding=audio.Decoding()))


def test_segment_levels_in_dbfs():
    y = np.stack([tone(seconds=5.0, amplitude=1.0), tone(seconds=5.0, amplitude=1e-3) + 0.5,
                  np.zeros(SR * 5, np.float32)])
    levels = audio.segment_levels(y)
    assert levels[0] == pytest.approx(-3.01, abs=0.01) and levels[1] == pytest.approx(-63.01, abs=0.01)
    assert levels[2] == -np.inf and audio.silent_segments(y).tolist() == [False, True, True]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples(tmp_path, bad):
    y = tone(seconds=7.0)
    y[SR * 3] = bad
    path = write_audio(tmp_path / "nan.wav", y, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite"):
        list(audio.iter_segments(path))


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="not a file"):
        audio.probe(tmp_path / "nope.wav")


def test_probe_reports_original_rate_and_channels(tmp_path):
    path = write_audio(tmp_path / "s.wav", tone(seconds=6.0, sr=48000, channels=2), 48000)
    info = audio.probe(path)
    assert (info.sr, info.channels) == (48000, 2)
    assert info.duration_s == pytest.approx(6.0)
    assert sf.info(path).frames == info.frames


def test_downmix_averages_channels_like_librosa():
    rng = np.random.default_rng(3)
    for channels in (1, 2, 6):
        block = rng.uniform(-1, 1, (1000, channels)).astype(np.float32)
        expected = librosa.to_mono(block.T)
        np.testing.assert_allclose(audio.to_mono(block), expected, rtol=0, atol=2e-7)
    stereo = rng.uniform(-1, 1, (1000, 2)).astype(np.float32)
    np.testing.assert_array_equal(audio.to_mono(stereo), librosa.to_mono(stereo.T))
