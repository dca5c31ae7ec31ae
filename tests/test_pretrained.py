"""The pretrained front end: the Keras port of musicnn (MSD) and the ``musicnn`` stored feature."""

from importlib import resources

import numpy as np
import pytest

from haverford.core import features
from haverford.core.config import CACHE_ENV, SEGMENT_SAMPLES, SR
from haverford.core.pretrained import convert_musicnn, musicnn

PACKAGE = resources.files("haverford.core.pretrained")


def test_keras_port_reproduces_the_original_tf1_graph_on_the_stored_reference_input():
    """convert_musicnn ran the wheel's own graph on this seeded input; the port must agree.

    Tolerance 1e-4 (absolute and relative) on pooled values of up to ~40: float32 throughout,
    only the kernels' summation order differs (oneDNN here, TF 1.12's at conversion).
    """
    with PACKAGE.joinpath(musicnn.REFERENCE_FILE).open("rb") as f:
        reference = dict(np.load(f))
    assert int(reference["seed"]) == convert_musicnn.REFERENCE_SEED
    x = convert_musicnn.reference_input()
    got = musicnn.load_musicnn(x.shape[1]).predict_on_batch(x)
    assert got.shape == reference["pooled"].shape == (3, musicnn.POOLED)
    assert np.abs(reference["pooled"]).max() > 1.0  # a reference of zeros would prove nothing
    np.testing.assert_allclose(got, reference["pooled"], atol=convert_musicnn.TOLERANCE, rtol=convert_musicnn.TOLERANCE)
    tags = musicnn.load_backend().predict_on_batch(reference["pooled"])
    assert tags.shape == reference["tags"].shape == (3, len(musicnn.MSD_TAGS))
    assert reference["tags"].std() > 0.01  # tag probabilities that differ: the back end was really run
    np.testing.assert_allclose(tags, reference["tags"], atol=convert_musicnn.TOLERANCE, rtol=convert_musicnn.TOLERANCE)


def test_the_xnnpack_port_the_feature_runs_reproduces_the_original_graph_too(capfd):
    """``embed`` runs ``XnnpackPort`` (half the CPU of the Keras port on this project's machines):
    it is held to the same reference as the Keras port, for every batch size it meets (a batch of
    3, then of 1: the interpreter is resized), and its conversion prints nothing."""
    with PACKAGE.joinpath(musicnn.REFERENCE_FILE).open("rb") as f:
        reference = dict(np.load(f))
    x = convert_musicnn.reference_input()
    assert isinstance(musicnn.xnnpack_port(x.shape[1]), musicnn.XnnpackPort)  # what embed runs here
    capfd.readouterr()
    port = musicnn.XnnpackPort(x.shape[1])  # a new interpreter (on the cached conversion, if any)
    np.testing.assert_allclose(port(x), reference["pooled"], atol=convert_musicnn.TOLERANCE,
                               rtol=convert_musicnn.TOLERANCE)
    np.testing.assert_allclose(port(x[1:2]), reference["pooled"][1:2], atol=convert_musicnn.TOLERANCE,
                               rtol=convert_musicnn.TOLERANCE)
    out, err = capfd.readouterr()
    assert out == "" and "XNNPACK" not in err and "deprecated" not in err


def test_the_conversion_is_kept_between_processes_checked_and_redone_when_damaged(tmp_path, monkeypatch):
    """The converted port is cached under the cache folder: read back instead of converting again,
    converted again when the file is damaged, and still returned when the cache cannot be written."""
    calls = []

    def convert(frames):
        calls.append(frames)
        return bytes(range(256)) * 40 + str(frames).encode()

    monkeypatch.setattr(musicnn, "_convert", convert)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    blob = musicnn.converted_port(94)
    assert calls == [94]
    [kept] = (tmp_path / "cache").glob("musicnn-94-*.tflite")
    assert musicnn.converted_port(94) == blob and calls == [94]  # read back, not converted
    assert musicnn.converted_port(187) != blob and calls == [94, 187]  # another patch length: its own file
    stale = kept.with_name("musicnn-94-0123456789abcdef01234567.tflite")  # from an older version
    stale.write_bytes(b"old")
    damaged = bytearray(kept.read_bytes())
    damaged[1000] ^= 0xFF
    kept.write_bytes(bytes(damaged))
    assert musicnn.converted_port(94) == blob and calls == [94, 187, 94]  # checked, converted again...
    assert musicnn.converted_port(94) == blob and calls == [94, 187, 94]  # ...and kept whole again
    assert not stale.exists() and len(list((tmp_path / "cache").glob("musicnn-*.tflite"))) == 2  # the old one went
    kept.write_bytes(kept.read_bytes()[:500])  # cut short
    assert musicnn.converted_port(94) == blob and len(calls) == 4
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocked))
    assert musicnn.converted_port(94) == blob and len(calls) == 5  # no cache: converted each time
    assert not list(tmp_path.glob("**/*.partial"))


def test_weights_ship_under_10_mb_with_the_isc_licence_and_no_pickle():
    weights = PACKAGE.joinpath(musicnn.WEIGHTS_FILE)
    size = sum(PACKAGE.joinpath(n).stat().st_size for n in (musicnn.WEIGHTS_FILE, musicnn.REFERENCE_FILE))
    assert size <= 10 * 2 ** 20
    with weights.open("rb") as f:
        arrays = np.load(f, allow_pickle=False)  # plain arrays only
        assert "conv2d/kernel" in arrays and arrays["conv2d/kernel"].shape == (7, 38, 1, 204)
    licence = PACKAGE.joinpath("musicnn-LICENSE.md").read_text()
    assert "Universitat Pompeu Fabra" in licence and "Permission to use, copy, modify" in licence


def _segments(k=3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(SEGMENT_SAMPLES) / SR
    kick = (np.sin(2 * np.pi * 55 * t) * np.exp(-((t * 2) % 1) * 20)).astype(np.float32)  # 120 BPM thump
    pad = np.sin(2 * np.pi * 440 * t).astype(np.float32) * 0.3
    noise = rng.normal(0, 0.1, SEGMENT_SAMPLES).astype(np.float32)
    return np.stack([kick, pad, noise][:k])


def test_the_feature_is_one_pooled_vector_per_segment_max_before_mean():
    y = _segments()
    values = features.compute_many(["musicnn"], y)["musicnn"]
    assert values.shape == (3, *features.get_feature("musicnn").shape) == (3, 1506, 1)
    pooled = values[:, :, 0]
    assert np.isfinite(pooled).all()
    assert (pooled[:, 0::2] >= pooled[:, 1::2] - 1e-5).all()  # each channel's max over time ≥ its mean
    assert not np.allclose(pooled[0], pooled[1], atol=0.1)  # a kick and a sine do not look alike


def test_network_input_is_musicnns_log_mel_of_the_middle_of_the_segment():
    import librosa

    y = _segments(1)
    x = musicnn.network_input(y, sr=SR)
    assert x.shape == (1, musicnn.EMBED_FRAMES, musicnn.N_MELS)
    y16 = librosa.resample(y[0], orig_sr=SR, target_sr=musicnn.SR)  # soxr_hq, librosa.load's default
    S = librosa.feature.melspectrogram(y=y16, sr=musicnn.SR, n_fft=512, hop_length=256, n_mels=96).T
    start = (313 - musicnn.EMBED_FRAMES) // 2
    expected = np.log10(10000 * S.astype(np.float16).astype(np.float32) + 1)[start:start + musicnn.EMBED_FRAMES]
    np.testing.assert_allclose(x[0], expected, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("n_frames, expected", [(313, slice(109, 203)), (94, slice(0, 94)), (60, slice(0, 60))])
def test_patch_is_the_middle_94_frames(n_frames, expected):
    assert musicnn.patch_frames(n_frames) == expected


@pytest.mark.slow
def test_a_retrain_with_transfer_rhythm_computes_its_features_once_and_the_ensemble_scores_files(
        small_train_template, tmp_path):
    import keras
    from _train_home import copy_home

    from haverford.core.jobs import run_in_foreground
    from haverford.core.predict import load_scorer, predict_file
    from haverford.core.presets import TrainConfig
    from haverford.db import models as models_db
    from haverford.db import tracks as tracks_db

    home = copy_home(small_train_template, tmp_path)
    for name in ("musicnn", "rhythm"):
        assert tracks_db.tracks_missing_feature(home.connect(), name)  # not made at import
    out = run_in_foreground(home, TrainConfig(preset="transfer-rhythm"), created_by="test")  # with its ensemble
    db = home.connect()
    assert not tracks_db.tracks_missing_feature(db, "musicnn") and not tracks_db.tracks_missing_feature(db, "rhythm")
    assert (out["preset"], out["feature"]) == ("transfer-rhythm", "musicnn+rhythm") and 0.0 <= out["test_accuracy"] <= 1.0
    others = [m for m in models_db.run_models(db, out["run_id"]) if m["kind"] == models_db.CLASSIC]
    assert len(others) == 3 and all(m["params"]["features"] == ["musicnn", "rhythm"] for m in others)
    row = models_db.get_model(db, out["model_id"])
    assert "logistic_member" in [layer.name for layer in keras.models.load_model(home.path / row["path"]).layers]
    assert len(models_db.predictions(db, out["model_id"])) == models_db.segment_count(db)  # the library is scored
    track = tracks_db.get_track(db, 1)
    scored = predict_file(load_scorer(home, row), track["path"])  # a file outside the library reads both features
    assert len(scored["segments"]) == track["n_segments"] and 0.0 <= scored["p_banger"] <= 1.0
