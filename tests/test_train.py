"""The training job: the stored split, labels, streaming, a tiny run, predictions, the CLI."""

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _train_home import copy_home, write_library

from haverford.core import benchmarks
from haverford.core.cli import main
from haverford.core.dataset import SegmentBatches, balanced_weights
from haverford.core.evaluate import freshness
from haverford.core.home import Home
from haverford.core.jobs import run_in_foreground
from haverford.core.presets import TrainConfig
from haverford.core.split import assign_split, labelled_subsets, plan_sides
from haverford.core.vocabulary import SIDES
from haverford.db import answers as answers_db
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import tracks as tracks_db


@pytest.fixture
def home(train_template, tmp_path):
    return copy_home(train_template, tmp_path)


@pytest.fixture(scope="session")
def trained(train_template, tmp_path_factory):
    """A copy of the train_template with one tiny model trained through the CLI."""
    h = copy_home(train_template, tmp_path_factory.mktemp("trained"))
    out = run_in_foreground(h, TrainConfig(preset="tiny"), created_by="test")
    return h, out


def fake_tracks(n_per_class, *, start=0):
    return [{"track_id": i, "content_hash": f"h{i}", "verdict": v}
            for v in ("banger", "not_a_banger") for i in range(start + (v == "banger") * 10_000,
                                                                  start + (v == "banger") * 10_000 + n_per_class)]


def test_split_is_stratified_with_70_10_20_shares():
    sides = plan_sides(fake_tracks(50), {})
    for verdict in ("banger", "not_a_banger"):
        counts = Counter(side for t, side in sides.items() if (t >= 10_000) == (verdict == "banger"))
        assert counts == {"train": 35, "validation": 5, "test": 10}


def test_split_is_deterministic_and_depends_on_the_seed():
    tracks = fake_tracks(20)
    assert plan_sides(tracks, {}) == plan_sides(list(reversed(tracks)), {})
    assert plan_sides(tracks, {}, seed=1) != plan_sides(tracks, {})


def test_assigned_tracks_never_move_as_tracks_are_added():
    first = plan_sides(fake_tracks(20), {})
    more = plan_sides(fake_tracks(40), first)
    assert set(more).isdisjoint(first)
    whole = {**first, **more}
    counts = Counter(whole.values())
    assert counts["test"] == 16 and counts["validation"] == 8  # shares kept on the grown library


def test_small_classes_keep_a_training_track():
    sides = plan_sides(fake_tracks(1), {})
    assert set(sides.values()) == {"train"}


def test_split_is_by_track_and_stored(home):
    db = home.connect()
    sides = assign_split(db)
    assert sides == models_db.split_sides(db) and len(sides) == 16
    subsets = labelled_subsets(db, sides)
    tracks = [set(subsets[s].track_ids.tolist()) for s in SIDES]
    assert tracks[0].isdisjoint(tracks[1]) and tracks[0].isdisjoint(tracks[2]) and tracks[1].isdisjoint(tracks[2])
    assert sum(len(subsets[s]) for s in SIDES) == 48
    assert assign_split(db) == sides


def test_ties_are_left_out_and_counted(home):
    db = home.connect()
    segment = tracks_db.segment_ids(db, 1)[0]
    answers_db.save_answers(db, [segment], "alice", {questions_db.verdict_question_id(db): "not_a_banger"})
    labelled = {r["segment_id"] for r in models_db.labelled_segments(db)}
    before = models_db.excluded_label_count(db)
    track_verdict = models_db.labelled_tracks(db)[0]["verdict"]
    assert track_verdict == "banger" or segment not in labelled
    if track_verdict == "banger":  # import said banger, alice not: a tie
        assert segment not in labelled and before == 1


def test_batches_stream_from_the_store(home):
    db = home.connect()
    subsets = labelled_subsets(db, assign_split(db))
    train = subsets["train"]
    batches = SegmentBatches(home, train, feature="log_mel", batch_size=4, seed=0,
                             weights=balanced_weights(train.labels))
    x, y, w = batches[0]
    assert x.shape == (4, 128, 216) and x.dtype == np.float32 and x.min() >= -80.5 and x.max() <= 0.5
    assert len(batches) == -(-len(train) // 4)
    seen = np.concatenate([batches.positions(i) for i in range(len(batches))])
    assert sorted(seen.tolist()) == list(range(len(train)))  # each segment once per epoch
    batches.on_epoch_end()
    assert not np.array_equal(batches.positions(0), seen[:4])  # reshuffled, seeded


def test_step_based_batches_cycle_through_permutations(home):
    db = home.connect()
    train = labelled_subsets(db, assign_split(db))["train"]
    batches = SegmentBatches(home, train, feature="log_mel", batch_size=50, seed=0, steps_per_epoch=3)
    assert len(batches) == 3 and len(batches.positions(2)) == 50


def test_balanced_weights_equalise_the_classes():
    w = balanced_weights(np.array([1, 1, 1, 0]))
    assert np.isclose(w[:3].sum(), w[3:].sum())


def test_tiny_run_beats_the_majority_baseline_on_held_out_tracks(trained):
    home, out = trained
    assert out["split"] == "by track"
    assert out["test_accuracy"] > out["majority_baseline"]
    row = models_db.get_model(home.connect(), out["model_id"])
    assert row["active"] == 1 and row["preset"] == "tiny" and row["feature"] == "log_mel"
    assert set(row["params"]["split"]) == set(SIDES) and row["labels_hash"]
    assert row["metrics"]["split"] == "by track" and "val_loss" in row["curves"]
    assert (home.path / row["path"]).exists() and row["path"].endswith(".keras")


def test_every_segment_is_scored(trained):
    home, out = trained
    db = home.connect()
    scores = models_db.predictions(db, out["model_id"])
    assert len(scores) == models_db.segment_count(db) == 48
    assert all(0.0 <= p <= 1.0 for p in scores.values())


def test_cli_train_json(home, capsys):
    assert main(["train", "--home", str(home.path), "--preset", "tiny", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("model_id", "preset", "feature", "train_segments", "test_segments", "test_accuracy",
                "majority_baseline", "seconds"):
        assert key in out
    assert out["preset"] == "tiny" and out["train_segments"] + out["test_segments"] <= 48
    assert out["loso_benchmark"] == benchmarks.winner_summary()  # which preset won on real music


def test_cli_train_refuses_an_empty_library(tmp_path, capsys):
    assert main(["train", "--home", str(tmp_path / "empty"), "--json"]) == 1
    assert "no Haverford library" in capsys.readouterr().err
    Home(tmp_path / "h").connect()  # an empty library
    assert main(["train", "--home", str(tmp_path / "h"), "--preset", "tiny"]) == 1
    assert "not enough labelled music" in capsys.readouterr().err


def test_cli_train_rejects_unknown_feature(home, capsys):
    assert main(["train", "--home", str(home.path), "--feature", "mfcc"]) == 1
    assert "unknown feature 'mfcc'" in capsys.readouterr().err


def test_cli_predict_json(trained, tmp_path, capsys):
    home, out = trained
    audio = write_library(tmp_path / "new", per_class=1, seed=99)
    files = [str(audio / "banger" / "banger-00.wav"), str(audio / "not_a_banger" / "not_a_banger-00.wav")]
    assert main(["predict", *files, "--home", str(home.path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model_id"] == out["model_id"]
    assert [t["path"] for t in result["tracks"]] == files
    first = result["tracks"][0]
    assert [s["index"] for s in first["segments"]] == [0, 1, 2]
    assert [s["start_s"] for s in first["segments"]] == [0.0, 5.0, 10.0]
    assert np.isclose(first["p_banger"], np.mean([s["p_banger"] for s in first["segments"]]))
    assert [t["verdict"] for t in result["tracks"]] == ["banger", "not_a_banger"]


def test_cli_predict_errors(trained, tmp_path, capsys):
    home, _ = trained
    assert main(["predict", str(tmp_path / "nope.wav"), "--home", str(home.path)]) == 1
    assert "no such file" in capsys.readouterr().err
    wav = write_library(tmp_path / "a", per_class=1) / "banger" / "banger-00.wav"
    assert main(["predict", str(wav), "--model", "999", "--home", str(home.path)]) == 1
    assert "no model with id 999" in capsys.readouterr().err


def test_a_damaged_model_file_is_a_one_line_error_that_says_what_to_do(trained, tmp_path, capsys):
    home = copy_home(trained[0], tmp_path)
    model_file = next(home.path.glob("models/**/*.keras"))
    model_file.write_bytes(model_file.read_bytes()[:1000])  # a copy cut short
    wav = write_library(tmp_path / "a", per_class=1) / "banger" / "banger-00.wav"
    assert main(["predict", str(wav), "--home", str(home.path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"haverford: error: model file damaged: {model_file}")
    assert "retrain with 'haverford train' or pick another model version" in err[0]


def test_train_and_evaluate_report_the_same_figures_and_say_when_labels_moved(home, capsys):
    """One metrics path: the Retrain summary and ``evaluate`` agree on one model; relabelling
    after training changes the figures and both documents say how many verdicts moved."""
    assert main(["train", "--home", str(home.path), "--preset", "tiny", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert main(["evaluate", "--home", str(home.path), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["metrics"]["accuracy"] == trained["test_accuracy"]
    assert evaluated["majority_baseline"] == trained["majority_baseline"]
    assert evaluated["track_metrics"]["accuracy"] == trained["track_accuracy"]
    assert trained["labels"]["changed_since_training"] == 0 and not trained["labels"]["stale"]

    db = home.connect()
    test_tracks = models_db.get_model(db, trained["model_id"])["params"]["split"]["test"]
    flipped = [s for t in test_tracks for s in tracks_db.segment_ids(db, t)]
    verdict = questions_db.verdict_question_id(db)
    for s in flipped:  # every test segment relabelled by a second person who outvotes nobody...
        old = answers_db.current_answers(db, s)[0]["value"]
        new = "banger" if old == "not_a_banger" else "not_a_banger"
        answers_db.save_answers(db, [s], "second", {verdict: new})
        answers_db.save_answers(db, [s], "third", {verdict: new})  # ...with a third: the verdict flips
    assert main(["evaluate", "--home", str(home.path), "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["labels"]["changed_since_training"] == len(flipped) and after["labels"]["stale"]
    assert "Retrain" in after["labels"]["text"]
    assert after["metrics"]["accuracy"] == pytest.approx(1 - trained["test_accuracy"])
    assert main(["misclassified", "--home", str(home.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"]["changed_since_training"] == len(flipped)


def test_9_predict_scores_the_good_files_and_reports_the_bad_one(trained, tmp_path, capsys):
    home, out = trained
    good = write_library(tmp_path / "new", per_class=1, seed=98) / "banger" / "banger-00.wav"
    missing = tmp_path / "missing.wav"
    assert main(["predict", str(good), str(missing), "--home", str(home.path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [t["path"] for t in result["tracks"]] == [str(good)]
    assert result["errors"] == [{"path": str(missing), "error": "no such file or folder"}]


def test_9_predict_takes_a_folder_with_any_names_and_leaves_silence_out(trained, tmp_path, capsys):
    home, _ = trained
    folder = write_library(tmp_path / "new", per_class=1, seed=97)
    odd = folder / "banger" / os.fsdecode(b"caf\xe9.wav")
    y, sr = sf.read(folder / "banger" / "banger-00.wav", dtype="float32")
    (folder / "banger" / "banger-00.wav").rename(odd)
    sf.write(folder / "with-silence.wav", np.concatenate([y[: 5 * sr], np.zeros(5 * sr, np.float32)]), sr)
    (folder / "notes.txt").write_text("not audio")
    assert main(["predict", str(folder), "--home", str(home.path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    by_name = {Path(t["path"]).name: t for t in result["tracks"]}
    assert set(by_name) == {"caf\ufffd.wav", "not_a_banger-00.wav", "with-silence.wav"}
    quiet = by_name["with-silence.wav"]
    assert [s["silent"] for s in quiet["segments"]] == [False, True] and quiet["segments"][1]["p_banger"] is None
    assert quiet["p_banger"] == quiet["segments"][0]["p_banger"]
    assert [s["path"].rsplit("/", 1)[-1] for s in result["skipped"]] == ["notes.txt"]


def test_9_predict_with_nothing_to_score_exits_1_with_json(trained, tmp_path, capsys):
    home, _ = trained
    (tmp_path / "bad.wav").write_text("not audio")
    assert main(["predict", str(tmp_path / "bad.wav"), "--home", str(home.path), "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["tracks"] == [] and "not a readable audio file" in captured.err


def test_freshness_counts_from_when_the_training_read_its_labels(trained):
    """A verdict changed while a Retrain runs is one the model never learnt: 'since training'
    starts when the training read the labels, before the model is saved."""
    home, out = trained
    db = home.connect()
    model = models_db.get_model(db, out["model_id"])
    read_at = model["params"]["labels_read_at"]
    assert read_at < model["created_at"]
    assert freshness(db, model).trained_at == read_at
