"""Presets, hyperparameters as data, and what a Retrain asks for (``TrainConfig``).

``seed`` is the 2018 notebook's network, exactly (TensorFlow's deep-MNIST shape on ``log_stft``);
``fast`` is the default, sized by measurement for a 2-core CPU on ``log_mel``
(bench/README.md, "Training"); ``tiny`` keeps the tests fast. No TensorFlow here: the pages,
the command line and the job queue read presets without loading it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

from haverford.core import features as features_mod
from haverford.core.errors import HaverfordError
from haverford.core.vocabulary import DEFAULT_PRESET, PRESET_NAMES

AUGMENTATIONS = ("shift", "masks")  # core.dataset.augment_batch

__all__ = ["AUGMENTATIONS", "DEFAULT_PRESET", "PRESETS", "Preset", "TrainConfig", "get_preset"]


@dataclass(frozen=True)
class Preset:
    """A network and how to train it.

    ``steps`` fixes the number of optimiser steps (the seed's 1000) and disables early
    stopping; otherwise training runs up to ``epochs`` epochs and stops after ``patience``
    epochs without a better validation loss, restoring the best weights.
    """

    name: str
    feature: str
    conv: tuple[tuple[int, int], ...]  # (filters, kernel) per conv block
    dense: int
    dropout: float
    batch_norm: bool
    global_pool: bool
    learning_rate: float
    batch_size: int
    epochs: int = 30
    patience: int | None = 4
    steps: int | None = None
    steps_per_epoch: int | None = None  # for step-based presets: how often curves are recorded
    pool_input: tuple[int, int] | None = None
    bn_momentum: float = 0.9  # Keras' 0.99 lags far behind on a few hundred steps; fast uses 0.5
    augment: tuple[str, ...] = ()  # training-batch augmentations (core.dataset.AUGMENTATIONS); none for seed
    description: str = ""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "Preset":
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("seed", "log_stft", conv=((32, 5), (16, 5)), dense=256, dropout=0.5, batch_norm=False,
           global_pool=False, learning_rate=1e-4, batch_size=50, steps=1000, steps_per_epoch=100,
           patience=None, description="the 2018 notebook's ConvNet: ~57 M weights, 1000 steps of 50"),
    Preset("fast", "log_mel", conv=((16, 3), (32, 3), (32, 3)), dense=32, dropout=0.5,
           batch_norm=True, global_pool=True, learning_rate=3e-3, batch_size=32, epochs=25,
           patience=4, pool_input=(2, 2), bn_momentum=0.5,
           description="default: small conv-pool blocks with batch norm and global pooling"),
    Preset("tiny", "log_mel", conv=((8, 3), (8, 3)), dense=8, dropout=0.2, batch_norm=True,
           global_pool=True, learning_rate=1e-2, batch_size=16, epochs=12, patience=3,
           pool_input=(4, 4), description="for tests: trains in seconds"),
)}
assert tuple(PRESETS) == PRESET_NAMES, "vocabulary.PRESET_NAMES lists the presets, in this order"


def get_preset(name: str) -> Preset:
    """Look up a preset by name; the error lists the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise HaverfordError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None



def _as_field(name: str, value):
    """A preset field from JSON: lists become the tuples the dataclass holds."""
    if name == "conv":
        return tuple(map(tuple, value))
    return tuple(value) if name == "augment" else value


@dataclass(frozen=True)
class TrainConfig:
    """What a Retrain asks for; ``feature``/``epochs``/``max_steps`` override the preset's."""

    preset: str = DEFAULT_PRESET
    feature: str | None = None
    seed: int = 0
    epochs: int | None = None
    max_steps: int | None = None
    overrides: dict | None = None  # preset fields to change, for experiments (bench/train_bench.py)

    def resolved(self) -> Preset:
        """The preset with this config's overrides applied, validated."""
        preset = get_preset(self.preset)
        if self.overrides:
            preset = preset.replace(**{k: _as_field(k, v) for k, v in self.overrides.items()})
        unknown = sorted(set(preset.augment) - set(AUGMENTATIONS))
        if unknown:
            raise HaverfordError(f"unknown augmentation {unknown[0]!r}; choose from: {', '.join(AUGMENTATIONS)}")
        if self.feature:
            features_mod.get_feature(self.feature)
            preset = preset.replace(feature=self.feature)
        if self.epochs:
            preset = preset.replace(epochs=int(self.epochs))
        if self.max_steps and preset.steps:
            preset = preset.replace(steps=min(preset.steps, int(self.max_steps)),
                                    steps_per_epoch=min(preset.steps_per_epoch or 100, int(self.max_steps)))
        return preset

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
