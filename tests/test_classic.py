"""The other models (logistic regression, linear SVM, kNN): pooling, fitting beside the ConvNet on the
same split, the baselines table, skops files, and activating one for predict and Misclassified."""

import json

import numpy as np
import pytest
import skops.io as sio
from _train_home import copy_home
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from haverford.core import classic
from haverford.core.cli import main
from haverford.core.dataset import augment_batch
from haverford.core.errors import HaverfordError
from haverford.core.evaluate import evaluate_model, misclassified
from haverford.core.jobs import run_in_foreground
from haverford.core.metrics import metrics
from haverford.core.predict import predict_files
from haverford.core.presets import PRESETS, TrainConfig
from haverford.core.split import Subset
from haverford.core.versions import activate
from haverford.db import models as models_db

NAMES = ["logistic regression", "linear SVM", "k-nearest neighbours"]


@pytest.fixture(scope="module")
def trained(train_template, tmp_path_factory):
    """A copy of the train template after one tiny Retrain (a ConvNet and the three other models)."""
    home = copy_home(train_template, tmp_path_factory.mktemp("classic"))
    out = run_in_foreground(home, TrainConfig(preset="tiny"), created_by="test")
    return home, out


def others(home, out) -> list[dict]:
    return [m for m in models_db.run_models(home.connect(), out["run_id"]) if m["kind"] == models_db.CLASSIC]


def test_pooled_summary_is_per_band_mean_then_std():
    S = np.stack([np.tile(np.array([[-10.0], [-20.0]]), (1, 4)), np.array([[0, -2, 0, -2], [-5, -5, -5, -5.0]])])
    pooled = classic.pooled_summary(S)
    assert pooled.shape == (2, 4)
    assert np.allclose(pooled, [[-10, -20, 0, 0], [-1, -5, 1, 0]])


def test_pooled_summary_refuses_a_single_spectrogram():
    with pytest.raises(HaverfordError, match=r"\(n, n_bins, n_frames\).*\(2, 4\)"):
        classic.pooled_summary(np.zeros((2, 4)))


def test_an_embedding_is_pooled_already_and_passes_through():
    E = np.random.default_rng(0).normal(size=(3, 1506, 1)).astype(np.float32)
    assert np.array_equal(classic.pooled_summary(E), E[:, :, 0])
    S = np.zeros((3, 128, 216), dtype=np.float32)
    assert classic.pooled_batch({"musicnn": E, "log_mel": S}, ("musicnn", "log_mel")).shape == (3, 1506 + 256)
    assert classic.pooled_width("musicnn") == 1506 and classic.pooled_width("log_mel") == 256


def test_beside_the_transfer_preset_they_pool_the_embedding():
    assert classic.features_for(PRESETS["transfer"].feature) == ("musicnn",)
    assert classic.features_for(PRESETS["fast"].feature) == classic.FEATURES == ("log_mel", "percussive_mel")


def test_augmentation_is_off_at_zero_and_seeded_otherwise():
    x = np.random.default_rng(0).normal(-40, 10, size=(3, 16, 40)).astype(np.float32)
    assert augment_batch(x, strength=0.0, rng=np.random.default_rng(1)) is x
    a = augment_batch(x, strength=1.0, rng=np.random.default_rng(1))
    b = augment_batch(x, strength=1.0, rng=np.random.default_rng(1))
    assert a.shape == x.shape and np.array_equal(a, b) and not np.array_equal(a, x)
    assert all(p.augment == 0.0 for p in PRESETS.values())  # the built-in presets train as before


def test_svm_calibration_needs_two_tracks_of_each_verdict():
    subset = Subset(np.arange(6), np.array([1, 1, 1, 0, 0, 0]), np.array([1, 1, 2, 3, 3, 3]))
    with pytest.raises(HaverfordError, match="2 training tracks of each verdict.*1 not_a_banger"):
        classic.fit_pipeline("linear_svm", np.random.default_rng(0).normal(size=(6, 4)), subset)


def test_a_retrain_fits_the_three_models_and_scores_the_library(trained):
    home, out = trained
    rows = others(home, out)
    assert [m["name"] for m in rows] == NAMES
    assert [m["name"] for m in out["other_models"]] == NAMES
    total = models_db.segment_count(home.connect())
    for m in rows:
        assert m["path"].endswith(".skops") and not m["active"]
        assert models_db.prediction_count(home.connect(), m["id"]) == total
        assert m["metrics"]["test_accuracy"] is not None
    # click tracks against tones: every model tells them apart on the held-out tracks
    assert all(r["accuracy"] >= 0.75 and r["fit_seconds"] > 0 for r in out["other_models"])


def test_their_test_segments_are_exactly_the_convnets(trained):
    home, out = trained
    convnet = evaluate_model(home, out["model_id"])
    for m in others(home, out):
        ev = evaluate_model(home, m["id"])
        assert np.array_equal(ev.segment_ids, convnet.segment_ids)
        assert m["params"]["split"] == models_db.get_model(home.connect(), out["model_id"])["params"]["split"]


def test_baselines_use_the_same_metrics_as_each_models_own_evaluation(trained):
    home, out = trained
    rows = {r["name"]: r for r in evaluate_model(home, out["model_id"]).baselines}
    for m in others(home, out):
        own = evaluate_model(home, m["id"])
        row = rows[m["name"]]
        assert row["accuracy"] == own.metrics.accuracy and row["roc_auc"] == own.metrics.roc_auc
        assert row["track_accuracy"] == own.track_metrics.accuracy
        assert row["balanced_accuracy"] == metrics(own.labels, own.pred_probs).balanced_accuracy
    assert list(rows)[-1] == "ConvNet" and rows["ConvNet"]["fit_seconds"] > 0


def test_evaluate_json_lists_every_model_beside_the_convnet(trained, capsys):
    home, _ = trained
    assert main(["evaluate", "--home", str(home.path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = [b["name"] for b in out["baselines"]]
    assert set(NAMES) <= set(names) and names[-1] == "ConvNet"
    for b in out["baselines"]:
        if b["name"] in NAMES + ["ConvNet"]:
            assert {"accuracy", "balanced_accuracy", "roc_auc", "track_accuracy", "fit_seconds"} <= set(b)
            assert b["roc_auc"] is not None and b["fit_seconds"] is not None


def test_activating_one_changes_what_predict_and_misclassified_use(trained, train_template):
    home, out = trained
    knn = next(m for m in others(home, out) if m["preset"] == "knn")
    audio = sorted((train_template.path.parent / "audio").rglob("*.wav"))[:2]
    before = predict_files(home, audio)
    activate(home.connect(), knn["id"])
    try:
        after = predict_files(home, audio)
        assert before["model_id"] == out["model_id"] and after["model_id"] == knn["id"]
        assert [t["p_banger"] for t in after["tracks"]] != [t["p_banger"] for t in before["tracks"]]
        # kNN's p(banger) is a share of 15 neighbours
        assert all(round(s["p_banger"] * 15, 4) % 1 == 0 for t in after["tracks"] for s in t["segments"])
        assert misclassified(home)["model"]["id"] == knn["id"]
        assert evaluate_model(home).model_id == knn["id"]
    finally:
        activate(home.connect(), out["model_id"])


def test_model_files_are_skops_and_untrusted_types_are_refused(trained, tmp_path):
    home, out = trained
    row = others(home, out)[0]
    assert (home.path / row["path"]).read_bytes()[:2] == b"PK"  # a zip of JSON and arrays, not a pickle
    assert classic.load_pipeline(home, row).predict_proba(np.zeros((1, 512))).shape == (1, 2)
    sio.dump(Pipeline([("f", FunctionTransformer(json.loads))]), home.path / "models" / "evil.skops")
    with pytest.raises(HaverfordError, match=r"does not trust \(json.loads\)"):
        classic.load_pipeline(home, {**row, "path": "models/evil.skops"})


def test_retrain_without_other_models(train_template, tmp_path):
    home = copy_home(train_template, tmp_path)
    out = run_in_foreground(home, TrainConfig(preset="tiny", epochs=2, other_models=False), created_by="test")
    assert out["other_models"] == [] and len(models_db.list_models(home.connect())) == 1
