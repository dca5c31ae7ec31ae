"""The rhythm summary beside the embedding: it hears a beat where there is one."""

import numpy as np
import pytest
from conftest import clicks

from haverford.core import features, rhythm
from haverford.core.config import SEGMENT_SAMPLES, SR
from haverford.core.errors import HaverfordError

BEAT = 3  # index of the beat strength (60-200 BPM) in each band group's 13 values


def pad(seconds: float = 5.0) -> np.ndarray:
    """A sustained pad: a detuned A minor chord that swells in over 2 s, with a slow tremolo."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f * t) + np.sin(2 * np.pi * f * 1.003 * t) for f in (220.0, 261.6, 329.6))
    envelope = np.minimum(1.0, t / 2.0) * (1 + 0.1 * np.sin(2 * np.pi * 0.3 * t))
    return (0.05 * y * envelope).astype(np.float32)


def test_a_click_track_has_a_beat_at_its_tempo_and_a_pad_has_none():
    y = np.stack([clicks(128.0, seconds=5.0)[:SEGMENT_SAMPLES], pad()[:SEGMENT_SAMPLES]])
    values = features.compute("rhythm", y)
    assert values.shape == (2, 39, 1) and features.get_feature("rhythm").is_embedding
    click, sustained = values[:, :, 0]
    assert click[BEAT] > 0.8 and click[BEAT] > sustained[BEAT] + 0.3  # all bands
    assert click[rhythm.PER_BAND + BEAT] > 0.8  # the kick's bands
    tempo = click[4:13]  # the 9 tempo bands of all bands; 128 BPM lies in 115-130
    assert tempo[rhythm.TEMPO_EDGES.index(115)] == pytest.approx(tempo.max())
    assert click[2] == pytest.approx(128 / 60, abs=0.3) and sustained[2] < 1.0  # onsets per second


def test_the_summary_is_computed_from_the_log_mel_it_shares():
    y = clicks(100.0, seconds=5.0)[:SEGMENT_SAMPLES][np.newaxis]
    both = features.compute_many(["rhythm", "log_mel"], y)
    np.testing.assert_allclose(both["rhythm"][:, :, 0], rhythm.rhythm_summary(both["log_mel"]), rtol=1e-6)


def test_embeddings_join_side_by_side_and_nothing_else_does():
    joined = features.get_feature("musicnn+rhythm")
    assert joined.shape == (1506 + 39, 1) and features.parts(joined.name) == ("musicnn", "rhythm")
    with pytest.raises(HaverfordError, match="only distinct embeddings"):
        features.get_feature("log_mel+rhythm")
    with pytest.raises(HaverfordError, match="compute each of them: musicnn, rhythm"):
        features.stored_feature("musicnn+rhythm")  # `haverford features` computes the parts one by one
