"""Presets, hyperparameters as data, and what a Retrain asks for (``TrainConfig``).

``seed`` is the 2018 notebook's network, exactly (TensorFlow's deep-MNIST shape on ``log_stft``);
``transfer`` is a head on the pretrained musicnn embedding (``core.pretrained``), no convolutions
of its own (``conv=()``); ``transfer-rhythm``, the default, is the same head with a rhythm summary
(``core.rhythm``) beside musicnn's tags: it won the leave-one-source-out benchmark on real music
(bench/README.md, "Rhythm beside the embedding") and retrains in under a minute; ``fast`` is the
best ConvNet of our own, sized by measurement for a 2-core CPU on ``log_mel`` (bench/README.md,
"Training"); ``tiny`` keeps the tests fast. ``ensemble_c`` averages a head with a logistic regression on the
head's own input (``core.train.add_logistic_member``); ``transfer-rhythm`` uses it, because the
regression, fitted without early stopping, keeps a small library with a noisy validation side
from ending on the head's first epoch (bench/README.md, "Rhythm beside the embedding"). Tuned presets (``core.tune``) are
stored by name in SQLite (``custom_presets``) and found by ``get_preset`` when given the
database; ``PRESET_NAMES`` stays the built-in list. No TensorFlow here: the pages, the command
line and the job queue read presets without loading it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass

from haverford.core import features as features_mod
from haverford.core.errors import HaverfordError
from haverford.core.vocabulary import DEFAULT_PRESET, PRESET_NAMES

__all__ = ["DEFAULT_PRESET", "PRESETS", "Preset", "TrainConfig", "get_preset", "preset_names", "save_preset"]
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


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
    augment: float = 0.0  # training augmentation strength, 0 = off (core.dataset.augment_batch)
    l2: float = 0.0  # L2 penalty on the output layer's kernel (Keras' l2: added to the mean loss)
    pretrained_tags: bool = False  # an embedding head first runs musicnn's frozen back end (its 50 tag probabilities)
    ensemble_c: float = 0.0  # > 0: average the head with a logistic regression (this C) on its input (core.model)
    description: str = ""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Preset:
        """A preset from ``to_json``'s dict (lists back to tuples; unknown keys ignored)."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["conv"] = tuple(tuple(block) for block in fields.get("conv", ()))
        if fields.get("pool_input") is not None:
            fields["pool_input"] = tuple(fields["pool_input"])
        return cls(**fields)

    def replace(self, **changes) -> Preset:
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
    Preset("transfer", "musicnn", conv=(), dense=0, dropout=0.0, batch_norm=True, global_pool=False,
           learning_rate=1e-2, batch_size=32, epochs=40, patience=6, pretrained_tags=True,
           description="logistic regression on the 50 tag probabilities of the pretrained musicnn (MSD), "
                       "whose embedding is a stored feature"),
    Preset("transfer-rhythm", "musicnn+rhythm", conv=(), dense=0, dropout=0.0, batch_norm=True, global_pool=False,
           learning_rate=1e-2, batch_size=32, epochs=40, patience=6, pretrained_tags=True, ensemble_c=0.1,
           description="transfer with a rhythm summary (onset strength and tempo autocorrelation, core.rhythm) "
                       "beside the 50 tags, so that dance timbre without a beat is not a banger; averaged with a "
                       "logistic regression (C=0.1, as core.classic's) on the same 89 values"),
)}
assert tuple(PRESETS) == PRESET_NAMES, "vocabulary.PRESET_NAMES lists the presets, in this order"


def get_preset(name: str, *, db=None) -> Preset:
    """Look up a preset by name: a built-in one, else (given the database) a saved tuned one.

    Raises ``HaverfordError`` listing the known names when there is none.
    """
    if name in PRESETS:
        return PRESETS[name]
    from haverford.db import presets as presets_db  # only for saved presets: no sqlite-utils on import

    stored = presets_db.get_preset(db, name) if db is not None else None
    if stored is None:
        known = preset_names(db) if db is not None else PRESET_NAMES
        raise HaverfordError(f"unknown preset {name!r}; choose one of: {', '.join(known)}")
    return Preset.from_json(stored)


def preset_names(db) -> tuple[str, ...]:
    """The built-in presets, then the saved tuned ones (what Retrain offers)."""
    from haverford.db import presets as presets_db

    return (*PRESET_NAMES, *(r["name"] for r in presets_db.list_presets(db)))


def save_preset(db, name: str, preset: Preset, *, source: str | None, created_by: str | None) -> Preset:
    """Store ``preset`` under ``name`` (renamed to it); the name must be new and plain.

    Raises ``HaverfordError`` for a name that is taken or not 1-40 of ``a-z 0-9 _ -``.
    """
    check_preset_name(db, name)
    from haverford.db import presets as presets_db

    preset = preset.replace(name=name)
    if name in PRESETS or not presets_db.save_preset(db, name, preset.to_json(), source=source,
                                                     created_by=created_by):
        raise HaverfordError(f"a preset named {name!r} exists already; choose another name")
    return preset


def check_preset_name(db, name: str) -> None:
    """Refuse a name ``save_preset`` would refuse (not 1-40 of ``a-z 0-9 _ -``, or taken), before
    a long job whose result it names starts. Raises ``HaverfordError``."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise HaverfordError(f"preset name {name!r} must be 1-40 characters of a-z, 0-9, '_' and '-', "
                             f"starting with a letter or digit; choose another")
    from haverford.db import presets as presets_db

    if name in PRESETS or (db is not None and presets_db.get_preset(db, name) is not None):
        raise HaverfordError(f"a preset named {name!r} exists already; choose another name")


def _as_field(name: str, value):
    """A preset field from JSON: lists become the tuples the dataclass holds."""
    if name == "conv":
        return tuple(map(tuple, value))
    return value


@dataclass(frozen=True)
class TrainConfig:
    """What a Retrain asks for; ``feature``/``epochs``/``max_steps`` override the preset's."""

    preset: str = DEFAULT_PRESET
    feature: str | None = None
    seed: int = 0
    epochs: int | None = None
    max_steps: int | None = None
    overrides: dict | None = None  # preset fields to change, for experiments (bench/train_bench.py)
    other_models: bool = True  # also fit core.classic's models on the same split (a few seconds)

    def resolved(self, *, db=None) -> Preset:
        """The preset with this config's overrides applied, validated (``db`` finds saved presets)."""
        preset = get_preset(self.preset, db=db)
        if self.overrides:
            preset = preset.replace(**{k: _as_field(k, v) for k, v in self.overrides.items()})
        if not 0.0 <= float(preset.augment) <= 1.0:
            raise HaverfordError(f"augmentation strength must be between 0 and 1, got {preset.augment}")
        if self.feature:
            features_mod.get_feature(self.feature)
            if "+" in preset.feature and self.feature != preset.feature:
                raise HaverfordError(f"preset {preset.name!r} reads {preset.feature!r} (its parts side by side): "
                                     f"leave out --feature, or pick a preset made for {self.feature!r}")
            preset = preset.replace(feature=self.feature)
        if features_mod.get_feature(preset.feature).is_embedding != (not preset.conv):
            raise HaverfordError(f"preset {preset.name!r} cannot train on {preset.feature!r}: an embedding "
                                 f"(musicnn) needs a preset without conv blocks (transfer), a spectrogram one with them")
        if preset.pretrained_tags and features_mod.parts(preset.feature)[0] != "musicnn":
            raise HaverfordError(f"preset {preset.name!r} reads musicnn's tags: its feature must be musicnn, "
                                 f"or start with it (musicnn+rhythm), not {preset.feature!r}")
        if preset.ensemble_c and preset.conv:
            raise HaverfordError(f"preset {preset.name!r}: an ensemble with a logistic regression (ensemble_c) "
                                 f"needs a head on an embedding (no conv blocks)")
        if preset.ensemble_c < 0:
            raise HaverfordError(f"ensemble_c must be 0 (no ensemble) or a positive C, got {preset.ensemble_c}")
        if self.epochs:
            preset = preset.replace(epochs=int(self.epochs))
        if self.max_steps and preset.steps:
            preset = preset.replace(steps=min(preset.steps, int(self.max_steps)),
                                    steps_per_epoch=min(preset.steps_per_epoch or 100, int(self.max_steps)))
        return preset

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
