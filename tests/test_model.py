"""The ConvNet presets: shapes, parameter counts, purity of build_model."""

import keras
import numpy as np
import pytest

from haverford.core.errors import HaverfordError
from haverford.core.model import CLASSES, build_model, compile_model
from haverford.core.presets import PRESETS, TrainConfig, get_preset


def test_seed_preset_is_the_notebooks_network_with_57m_weights():
    model = build_model((1025, 216, 1), preset="seed")
    assert model.output_shape == (None, 2)
    assert 56_000_000 < model.count_params() < 58_000_000
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [d.units for d in dense] == [256, 2]
    assert dense[0].kernel.shape == (257 * 54 * 16, 256)  # two SAME 2x2 pools of (1025, 216)
    seed = get_preset("seed")
    assert (seed.learning_rate, seed.batch_size, seed.steps, seed.feature) == (1e-4, 50, 1000, "log_stft")


@pytest.mark.parametrize("name", ["fast", "tiny"])
def test_small_presets_on_log_mel(name):
    model = build_model((128, 216), preset=name)
    assert model.output_shape == (None, 2)
    assert model.count_params() < 100_000
    x = np.full((3, 128, 216), -40.0, dtype=np.float32)
    assert model.predict_on_batch(x).shape == (3, 2)


def test_fast_preset_early_stops_with_a_real_patience():
    fast = get_preset("fast")
    assert fast.feature == "log_mel"
    assert fast.patience and fast.patience < fast.epochs
    assert fast.batch_norm and fast.global_pool


def test_build_model_is_pure_and_uncompiled():
    a = build_model((128, 216), preset="tiny")
    b = build_model((128, 216), preset="tiny")
    assert a is not b and a.count_params() == b.count_params()
    assert not a.compiled
    compile_model(a, preset=get_preset("tiny"))
    assert a.compiled and not b.compiled


def test_normalisation_is_inside_the_model():
    model = build_model((128, 216), preset="tiny", norm=(-30.0, 10.0))
    layer = model.get_layer("normalise")
    x = np.full((1, 128, 216, 1), -30.0, dtype=np.float32)
    assert np.allclose(layer(x), 0.0)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(HaverfordError, match="unknown preset 'huge'.*seed, fast, tiny, transfer"):
        get_preset("huge")
    assert CLASSES[1] == "banger" and set(PRESETS) == {"seed", "fast", "tiny", "transfer", "transfer-rhythm"}


def test_transfer_preset_is_logistic_regression_on_musicnns_frozen_tag_probabilities():
    from haverford.core.pretrained import musicnn

    model = build_model((1506, 1), preset="transfer", norm=(1.0, 2.0))
    assert not any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert model.output_shape == (None, 2) and trainable == 2 * 50 + 50 * 2 + 2  # batch norm's scale/shift, then 50 → 2
    x = np.random.default_rng(0).normal(size=(4, 1506, 1)).astype(np.float32)
    tags = musicnn.load_backend().predict_on_batch(x[:, :, 0])
    backend = next(layer for layer in model.layers if layer.name == "musicnn_msd_tags")
    assert not backend.trainable and np.allclose(backend.predict_on_batch(x[:, :, 0]), tags)
    assert model.predict_on_batch(x).shape == (4, 2)


@pytest.mark.parametrize("preset, feature", [("fast", "musicnn"), ("transfer", "log_mel")])
def test_an_embedding_needs_the_head_and_a_spectrogram_needs_conv_blocks(preset, feature):
    with pytest.raises(HaverfordError, match="cannot train on"):
        TrainConfig(preset=preset, feature=feature).resolved()


def test_a_preset_reading_joined_features_refuses_another_feature():
    with pytest.raises(HaverfordError, match="reads 'musicnn\\+rhythm'"):
        TrainConfig(preset="transfer-rhythm", feature="musicnn").resolved()
    assert TrainConfig(preset="transfer-rhythm", feature="musicnn+rhythm").resolved().feature == "musicnn+rhythm"


def test_transfer_rhythm_puts_the_rhythm_summary_beside_the_50_tags():
    from haverford.core.pretrained import musicnn

    model = build_model((1506 + 39, 1), preset="transfer-rhythm")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 2 * 89 + 89 * 2 + 2  # batch norm on 50 tags + 39 rhythm values, then 89 → 2
    x = np.random.default_rng(0).normal(size=(3, 1545, 1)).astype(np.float32)
    inside = keras.Model(model.input, model.get_layer("member_input").output).predict_on_batch(x)
    np.testing.assert_allclose(inside[:, :50], musicnn.load_backend().predict_on_batch(x[:, :1506, 0]), atol=1e-6)
    np.testing.assert_array_equal(inside[:, 50:], x[:, 1506:, 0])


def test_an_ensembles_pred_probs_are_the_mean_of_its_members_and_survive_saving(tmp_path):
    from haverford.core.inference import predict_p_banger
    from haverford.core.model import with_logistic_member

    rng = np.random.default_rng(1)
    head = build_model((12, 1), preset=get_preset("transfer").replace(pretrained_tags=False), norm=(0.0, 1.0))
    head.get_layer("logits").set_weights([rng.normal(size=(12, 2)).astype(np.float32), np.zeros(2, np.float32)])
    coef, intercept = rng.normal(size=12), 0.3
    ensemble = with_logistic_member(head, (coef, intercept), name="ensemble")
    x = rng.normal(size=(6, 12, 1)).astype(np.float32)
    p_head = predict_p_banger(head, [x])
    p_logistic = 1 / (1 + np.exp(-(x[:, :, 0] @ coef + intercept)))  # norm (0, 1); batch norm is the identity untrained
    np.testing.assert_allclose(predict_p_banger(ensemble, [x]), (p_head + p_logistic) / 2, atol=1e-5)
    ensemble.save(tmp_path / "e.keras")
    np.testing.assert_allclose(predict_p_banger(keras.models.load_model(tmp_path / "e.keras"), [x]),
                               predict_p_banger(ensemble, [x]), atol=1e-6)


def test_an_ensemble_needs_a_head_on_an_embedding():
    with pytest.raises(HaverfordError, match="ensemble"):
        TrainConfig(preset="fast", overrides={"ensemble_c": 0.01}).resolved()
