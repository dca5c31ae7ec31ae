"""Tuning the ConvNet with Optuna: the search space, validation on held-out tracks only, a stored and
resumable study, the best trial saved as a preset that Retrain uses, and the command line."""

import contextlib
import io
import json

import numpy as np
import optuna
import pytest
from _train_home import copy_home

from haverford.core import tune
from haverford.core.cli import main
from haverford.core.errors import HaverfordError
from haverford.core.jobs import run_in_foreground
from haverford.core.presets import PRESETS, TrainConfig, get_preset, preset_names
from haverford.core.split import assign_split, labelled_subsets
from haverford.core.vocabulary import PRESET_NAMES, TEST, TRAIN, VALIDATION
from haverford.db import models as models_db
from haverford.db import runs as runs_db


def tune_json(home, capsys, *args) -> dict:
    assert main(["tune", "--home", str(home.path), "--preset", "tiny", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def tuned(train_template, tmp_path_factory):
    """A copy of the train template after a two-trial tuning run on ``tiny`` (through the CLI)."""
    home = copy_home(train_template, tmp_path_factory.mktemp("tune"))
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["tune", "--home", str(home.path), "--preset", "tiny", "--trials", "2", "--json"]) == 0
    return home, json.loads(buffer.getvalue())


def test_the_search_space_rebuilds_a_trials_preset():
    base = PRESETS["tiny"]
    params = {"learning_rate": 3e-3, "filters_1": 16, "filters_2": 64, "dense": 32, "dropout": 0.1, "augment": 0.5}
    preset = tune.suggest_preset(optuna.trial.FixedTrial(params), base)
    assert preset.conv == ((16, 3), (64, 3)) and preset.dense == 32 and preset.learning_rate == 3e-3
    assert preset.dropout == 0.1 and preset.augment == 0.5 and preset.pool_input == base.pool_input


def test_a_head_on_an_embedding_searches_its_penalty_not_filters_or_augmentation():
    base = PRESETS["transfer"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    preset = tune.suggest_preset(trial, base)
    assert set(trial.params) == {"learning_rate", "dropout", "dense", "l2"}
    assert preset.conv == () and preset.augment == 0.0 and preset.pretrained_tags
    assert tune.L2_RANGE[0] <= preset.l2 <= tune.L2_RANGE[1] and preset.dense in tune.DENSE_CHOICES_HEAD


def test_trials_never_see_the_test_tracks(train_template, tmp_path):
    home = copy_home(train_template, tmp_path)
    subsets = tune.tuning_subsets(home, seed=0)
    sides = labelled_subsets(home.connect(), assign_split(home.connect()))
    assert len(subsets[TEST]) == 0 and len(subsets[VALIDATION]) > 0
    assert not set(subsets[TRAIN].track_ids) & set(sides[TEST].track_ids)
    assert not set(subsets[VALIDATION].track_ids) & set(sides[TEST].track_ids)
    assert np.array_equal(subsets[VALIDATION].segment_ids, sides[VALIDATION].segment_ids)


@pytest.mark.slow
def test_a_two_trial_run_finishes_and_is_stored(tuned):
    home, out = tuned
    assert out["trials"] == 2 and out["trials_this_run"] == 2 and out["complete"] + out["pruned"] == 2
    assert out["best_value"] is not None and out["best_preset"]["conv"][0][1] == 3
    assert (home.path / "tuning.db").exists()
    study = optuna.load_study(study_name="tune-tiny", storage=f"sqlite:///{home.path / 'tuning.db'}")
    assert len(study.trials) == 2 and study.best_value == out["best_value"]
    run = runs_db.get_run(home.connect(), out["run_id"])
    assert run["kind"] == "tune" and run["status"] == "succeeded"
    assert not models_db.list_models(home.connect())  # tuning trains no model of the library


@pytest.mark.slow
def test_a_second_run_resumes_the_study_and_its_best_preset_retrains(tuned, capsys):
    home, first = tuned
    out = tune_json(home, capsys, "--trials", "1", "--save-as", "tiny-tuned")
    assert out["trials"] == 3 and out["trials_this_run"] == 1 and out["study"] == first["study"]
    params = [t.params for t in optuna.load_study(study_name=out["study"], storage=tune.storage(home)).trials]
    assert params[2] not in params[:2]  # the resumed run proposes new settings, not the first run's again
    saved = get_preset("tiny-tuned", db=home.connect())
    assert saved.learning_rate == out["best_params"]["learning_rate"] and saved.dense == out["best_params"]["dense"]
    assert saved.description.startswith("tuned from tiny: Optuna study tune-tiny trial")
    assert "tiny-tuned" in preset_names(home.connect()) and "tiny-tuned" not in PRESET_NAMES
    trained = run_in_foreground(home, TrainConfig(preset="tiny-tuned", other_models=False), created_by="test")
    model = models_db.get_model(home.connect(), trained["model_id"])
    assert model["preset"] == "tiny-tuned" and model["params"]["preset"]["augment"] == saved.augment
    assert trained["test_accuracy"] is not None


@pytest.mark.slow
def test_saving_refuses_taken_and_bad_names(tuned):
    home, _ = tuned
    with pytest.raises(HaverfordError, match="'tiny' exists already"):
        tune.save_best(home, "tiny", "tiny", created_by="test")
    with pytest.raises(HaverfordError, match="must be 1-40 characters"):
        tune.save_best(home, "tiny", "Bad Name!", created_by="test")


def test_cli_errors_are_one_line(train_template, capsys):
    assert main(["tune", "--home", str(train_template.path), "--preset", "nope", "--trials", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown preset 'nope'" in err and "tiny" in err
    for minutes in ("0", "-5", "nan", "inf"):  # nan and inf would never stop
        assert main(["tune", "--home", str(train_template.path), "--minutes", minutes]) == 1
        assert "--minutes must be a number of minutes more than 0" in capsys.readouterr().err
    tunes = "SELECT COUNT(*) FROM training_runs WHERE kind = 'tune'"
    before = train_template.connect().execute(tunes).fetchone()[0]
    for name, why in (("it's", "must be 1-40 characters"), ("", "must be 1-40 characters"), ("fast", "exists already")):
        assert main(["tune", "--home", str(train_template.path), "--trials", "1", "--save-as", name]) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and why in err
    assert train_template.connect().execute(tunes).fetchone()[0] == before  # refused before any tuning


def test_saving_before_any_study_says_what_to_do(train_template):
    with pytest.raises(HaverfordError, match="no tuning study yet.*haverford tune"):
        tune.save_best(train_template, "tiny", "x", created_by="test")
