"""The cross-check: track-grouped folds, out-of-fold scores for every labelled segment, no leaks."""

import json
import os
import time

import numpy as np
import pytest
from _train_home import copy_home

from haverford.core import crosscheck as cc
from haverford.core.errors import HaverfordError
from haverford.core.features import parts
from haverford.core.jobs import RunGoingError, create_run
from haverford.core.presets import get_preset
from haverford.db import crosscheck as crosscheck_db
from haverford.db import models as models_db
from haverford.db import runs as runs_db

MELS = "log_mel+percussive_mel"
DEFAULT = cc.CrossCheckConfig(folds=3, feature=MELS)  # k-nearest neighbours on the pooled mel summaries
TINY_CONVNET = cc.CrossCheckConfig(folds=2, model="convnet", preset="tiny", epochs=1)


@pytest.fixture(scope="module")
def checked(small_train_template, tmp_path_factory):
    """A copy of the small_train_template with one default cross-check run executed in the foreground."""
    home = copy_home(small_train_template, tmp_path_factory.mktemp("checked"))
    run_id = cc.create_crosscheck(home, DEFAULT, created_by="test")
    return home, run_id, cc.execute_crosscheck(home, run_id)


def test_folds_keep_tracks_whole_and_are_stratified():
    tracks = np.repeat(np.arange(12), 4)
    labels = (tracks % 2).astype(int)
    folds = cc.plan_folds(labels, tracks, k=3, seed=0)
    for t in range(12):
        assert len(set(folds[tracks == t])) == 1
    for f in range(3):
        assert set(labels[folds == f]) == {0, 1}
    assert np.array_equal(folds, cc.plan_folds(labels, tracks, k=3, seed=0))


def test_too_few_tracks_is_a_clear_error():
    with pytest.raises(HaverfordError, match="cannot cross-check 5 folds on 4 labelled tracks"):
        cc.plan_folds(np.array([0, 1, 0, 1]), np.array([1, 2, 3, 4]), k=5)
    with pytest.raises(HaverfordError, match="at least 2 folds, got 1"):
        cc.plan_folds(np.array([0, 1]), np.array([1, 2]), k=1)
    with pytest.raises(HaverfordError, match="both verdicts present, or use fewer folds$"):
        cc.plan_folds(np.array([0, 1, 0, 1]), np.array([1, 2, 3, 4]), k=5)
    # fewer folds cannot help a library with no labels, or with one verdict only
    for labels, tracks in ((np.array([], dtype=int), np.array([], dtype=int)), (np.zeros(4, int), np.arange(4))):
        with pytest.raises(HaverfordError, match="with both verdicts present$"):
            cc.plan_folds(labels, tracks, k=3)


def test_self_confidence_is_the_probability_of_the_given_label():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    assert np.allclose(cc.self_confidence(np.array([0, 0, 1]), probs), [0.9, 0.2, 0.3])


def test_issues_flag_confidently_contradicted_labels():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 50)
    p = np.where(labels == 1, rng.uniform(0.7, 1.0, 100), rng.uniform(0.0, 0.3, 100))
    p[[3, 60]] = [0.97, 0.02]  # two labels the model contradicts with confidence
    issues, method = cc.find_issues(labels, np.column_stack([1 - p, p]))
    assert set(np.flatnonzero(issues)) == {3, 60}, method


def test_out_of_fold_scores_exist_for_every_labelled_segment(checked):
    home, run_id, out = checked
    db = home.connect()
    labelled = {r["segment_id"] for r in models_db.labelled_segments(db)}
    scores = crosscheck_db.crosscheck_scores(db, run_id)
    assert {s["segment_id"] for s in scores} == labelled and out["scored_segments"] == len(labelled) == 24
    assert all(0.0 <= s["p_banger"] <= 1.0 for s in scores)
    assert runs_db.get_run(db, run_id)["status"] == "succeeded"
    assert out["model"] == "k-nearest neighbours on log_mel+percussive_mel"
    assert runs_db.run_metrics(db, run_id) == []  # no network trained, so no epochs


def test_click_tracks_and_tones_are_told_apart_out_of_fold(small_train_template):
    from haverford.core.train import SilentReporter

    config = cc.CrossCheckConfig(folds=3, model="logistic_regression", feature=MELS)
    rows = cc.run_crosscheck(small_train_template, config, reporter=SilentReporter())["rows"]
    assert len(rows) == 24 and all((r["p_banger"] > 0.5) == bool(r["label"]) for r in rows)


def test_classic_fold_models_pool_the_features_of_the_active_models_retrain(small_train_template, tmp_path):
    from haverford.core.vocabulary import DEFAULT_PRESET

    home = copy_home(small_train_template, tmp_path)
    db = home.connect()
    default = cc.classic_features(db, cc.CrossCheckConfig())
    assert default == parts(get_preset(DEFAULT_PRESET).feature) == ("musicnn", "rhythm")  # no model yet
    assert cc.classic_features(db, cc.CrossCheckConfig(feature="musicnn")) == ("musicnn",)
    model_id = models_db.insert_model(db, {"path": "m.keras", "preset": "tiny", "feature": "log_mel", "params": {},
                                           "created_at": "2026-12-07T20:00:00+00:00"})
    models_db.activate(db, model_id)
    assert cc.classic_features(db, cc.CrossCheckConfig()) == ("log_mel", "percussive_mel")


def test_an_old_run_config_is_a_convnet_and_an_unknown_model_is_refused():
    old = {"folds": 3, "preset": "fast", "epochs": 6, "seed": 0}  # stored before the classic models
    assert cc.CrossCheckConfig.from_json(old) == cc.CrossCheckConfig(model="convnet", preset="fast", epochs=6)
    assert cc.describe(json.dumps(old)) == "ConvNet fast, 6 epochs per fold, 3 folds"
    assert cc.describe(cc.CrossCheckConfig(folds=4).to_json()) == "k-nearest neighbours, 4 folds"
    with pytest.raises(HaverfordError, match="unknown cross-check model 'svm'; choose one of: knn, "):
        cc.CrossCheckConfig(model="svm")


def test_no_segment_is_scored_by_a_model_that_saw_its_track(checked):
    home, run_id, _ = checked
    db = home.connect()
    roles = {}
    for r in crosscheck_db.crosscheck_folds(db, run_id):
        roles.setdefault(r["fold"], {}).setdefault(r["role"], set()).add(r["track_id"])
    all_tracks = {r["track_id"] for r in models_db.labelled_tracks(db)}
    for _fold, sides in roles.items():
        assert sides["train"].isdisjoint(sides["held_out"]) and sides["train"] | sides["held_out"] == all_tracks
    for s in crosscheck_db.crosscheck_scores(db, run_id):
        assert s["track_id"] in roles[s["fold"]]["held_out"]
        assert s["track_id"] not in roles[s["fold"]]["train"]


def test_ranking_is_lowest_self_confidence_first(checked):
    home, run_id, _ = checked
    rows, totals = crosscheck_db.label_issues(home.connect(), run_id, issues_only=False, limit=100)
    assert totals["total"] == 24
    confidence = [r["self_confidence"] for r in rows]
    assert confidence == sorted(confidence)
    assert crosscheck_db.latest_crosscheck(home.connect())["id"] == run_id


def test_a_cross_check_is_refused_while_a_run_is_going(small_train_template, tmp_path):
    home = copy_home(small_train_template, tmp_path)
    going = create_run(home, {"preset": "tiny"}, created_by="other")
    with pytest.raises(RunGoingError, match=f"already going \\(run {going}\\)"):
        cc.create_crosscheck(home, DEFAULT, created_by="me")


def test_background_cross_check_runs_in_its_own_process(small_train_template, tmp_path):
    home = copy_home(small_train_template, tmp_path)
    run_id = cc.start_crosscheck(home, DEFAULT, created_by="tester")
    db = home.connect()
    deadline = time.monotonic() + 240
    while runs_db.get_run(db, run_id)["status"] in runs_db.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.2)
    run = runs_db.get_run(db, run_id)
    assert run["status"] == "succeeded", run["error"]
    assert run["kind"] == "crosscheck" and run["pid"] and run["pid"] != os.getpid()
    assert len(crosscheck_db.crosscheck_scores(db, run_id)) == 24


class Recorder:
    def __init__(self):
        self.stages, self.epochs = [], []

    def stage(self, name, done, total):
        self.stages.append(name)

    def epoch(self, epoch, metrics):
        self.epochs.append((epoch, metrics["fold"]))


@pytest.mark.slow
def test_a_convnet_per_fold_scores_every_segment_out_of_fold(small_train_template):
    reporter = Recorder()
    out = cc.run_crosscheck(small_train_template, TINY_CONVNET, reporter=reporter)
    assert len(out["rows"]) == 24 and all(0.0 <= r["p_banger"] <= 1.0 for r in out["rows"])
    assert out["model"] == "ConvNet tiny, 1 epoch per fold"
    assert reporter.epochs == [(1, 1), (2, 2)]  # one epoch per fold, numbered across the folds
    assert any(name.startswith("fold 2/2: ") for name in reporter.stages)


def test_too_many_folds_are_refused_before_a_run_is_recorded(small_train_template, tmp_path):
    home = copy_home(small_train_template, tmp_path)
    for start in (cc.create_crosscheck, cc.start_crosscheck):
        with pytest.raises(HaverfordError, match="cannot cross-check 10 folds on 8 labelled tracks"):
            start(home, cc.CrossCheckConfig(folds=10), created_by="me")
    assert runs_db.list_runs(home.connect()) == []
