"""Training-batch augmentation (issue 13): shapes, what changes, seeding, and the presets' switches."""

import numpy as np
import pytest

from haverford.core.dataset import augment_batch, shift_in_time, spec_masks
from haverford.core.errors import HaverfordError
from haverford.core.presets import PRESETS, TrainConfig


@pytest.fixture
def batch():
    return np.random.default_rng(0).uniform(-80, 0, size=(4, 128, 216)).astype(np.float32)


def test_shift_rolls_each_segment_in_time(batch):
    shifted = shift_in_time(batch, rng=np.random.default_rng(1))
    assert shifted.shape == batch.shape
    for before, after in zip(batch, shifted):
        k = int(np.flatnonzero((before[:, :1] == after).all(axis=0))[0])  # where frame 0 went
        np.testing.assert_array_equal(np.roll(before, k, axis=-1), after)


def test_masks_fill_one_band_and_one_stretch_with_the_mean(batch):
    masked = spec_masks(batch.copy(), rng=np.random.default_rng(2))
    for before, after in zip(batch, masked):
        changed = before != after
        bands, frames = changed.all(axis=1), changed.all(axis=0)  # whole rows / whole columns
        assert bands.sum() <= 16 and frames.sum() <= 27
        np.testing.assert_array_equal(changed, bands[:, None] | frames[None, :])  # nothing else moved
        assert np.allclose(after[changed], before.mean())


def test_augment_batch_is_seeded_and_leaves_the_input_alone(batch):
    original = batch.copy()
    a = augment_batch(batch, ("shift", "masks"), rng=np.random.default_rng(3))
    b = augment_batch(batch, ("shift", "masks"), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(batch, original)
    assert not np.array_equal(a, batch)


def test_seed_preset_has_no_augmentation_and_unknown_names_are_refused():
    assert PRESETS["seed"].augment == ()
    assert TrainConfig(preset="fast", overrides={"augment": ["shift"]}).resolved().augment == ("shift",)
    with pytest.raises(HaverfordError, match="unknown augmentation 'mixup'; choose from: shift, masks"):
        TrainConfig(preset="fast", overrides={"augment": ["mixup"]}).resolved()
