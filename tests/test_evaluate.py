"""Evaluation: metrics against scikit-learn, the misclassified list, reviews, relabelling, baselines, flips, CLI."""

import json

import numpy as np
import pytest
from _eval_data import build, label
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from haverford.core.cli import main
from haverford.core.errors import HaverfordError
from haverford.core.evaluate import evaluate_model
from haverford.core.metrics import as_pred_probs, curves, metrics, track_results
from haverford.db import answers as answers_db
from haverford.db import evaluation as eval_db
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import reviews as reviews_db

LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
P = np.array([0.9, 0.7, 0.4, 0.55, 0.2, 0.6, 0.1, 0.3, 0.45, 0.8])


@pytest.fixture
def lib(home):
    db = home.connect()
    return home, db, build(db)


def ids(lib, title, *idx):
    return [lib[2]["segments"][title][i] for i in idx]


# --- metrics ------------------------------------------------------------------------------------

@pytest.mark.parametrize("threshold", [0.5, 0.35, 0.75])
def test_metrics_match_scikit_learn(threshold):
    m = metrics(LABELS, as_pred_probs(P), threshold=threshold)
    pred = (threshold <= P).astype(int)
    assert m.n == 10 and m.threshold == threshold
    assert m.accuracy == pytest.approx(skm.accuracy_score(LABELS, pred))
    assert m.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(LABELS, pred))
    assert m.precision == pytest.approx(skm.precision_score(LABELS, pred))
    assert m.recall == pytest.approx(skm.recall_score(LABELS, pred))
    assert m.f1 == pytest.approx(skm.f1_score(LABELS, pred))
    assert m.roc_auc == pytest.approx(skm.roc_auc_score(LABELS, P))
    assert m.confusion == skm.confusion_matrix(LABELS, pred).tolist()


def test_metrics_at_05_by_hand():
    m = metrics(LABELS, as_pred_probs(P))
    assert m.confusion == [[4, 1], [1, 4]] and m.accuracy == 0.8


def test_metrics_on_one_class_and_empty_input():
    one = metrics(np.ones(3, int), as_pred_probs([0.9, 0.2, 0.7]))
    assert one.roc_auc is None and one.accuracy == pytest.approx(2 / 3)
    empty = metrics(np.zeros(0, int), np.zeros((0, 2)))
    assert empty.n == 0 and empty.accuracy is None and empty.confusion == [[0, 0], [0, 0]]


def test_bad_input_is_one_clear_error():
    with pytest.raises(HaverfordError, match=r"pred_probs \(N, 2\); got \(3,\) and \(3, 3\)"):
        metrics(np.array([0, 1, 0]), np.ones((3, 3)))
    with pytest.raises(HaverfordError, match="threshold must be between 0 and 1, got 1.5"):
        metrics(LABELS, as_pred_probs(P), threshold=1.5)


def test_curves_match_scikit_learn():
    c = curves(LABELS, as_pred_probs(P), n_bins=5)
    fpr, tpr, _ = skm.roc_curve(LABELS, P)
    prob_true, prob_pred = calibration_curve(LABELS, P, n_bins=5)
    assert np.allclose(c["roc"]["fpr"], fpr) and np.allclose(c["roc"]["tpr"], tpr)
    assert np.allclose(c["calibration"]["prob_true"], prob_true)
    assert np.allclose(c["calibration"]["prob_pred"], prob_pred)
    assert sum(c["histogram"]["banger"]) == 5 and sum(c["histogram"]["not_a_banger"]) == 5


def test_track_verdict_is_the_mean_segment_score():
    rows, y, probs = track_results(np.array([1, 1, 0, 0]), as_pred_probs([0.9, 0.2, 0.6, 0.7]),
                                   np.array([7, 7, 9, 9]))
    assert [r["track_id"] for r in rows] == [7, 9]
    assert rows[0]["mean_p_banger"] == pytest.approx(0.55) and rows[0]["correct"]
    assert rows[1]["predicted"] == "banger" and not rows[1]["correct"]
    assert y.tolist() == [1, 0] and probs.shape == (2, 2)


# --- the misclassified list ---------------------------------------------------------------------

def test_misclassified_most_confidently_wrong_first(lib):
    home, db, made = lib
    rows, totals = eval_db.misclassified(db, made["model_id"])
    expected = ids(lib, "n-test", 1) + ids(lib, "b-test", 1) + ids(lib, "n-train", 1) + ids(lib, "b-test", 2)
    assert [r["segment_id"] for r in rows] == expected
    assert totals == {"total": 4, "reviewed": 0}
    assert [round(r["p_label"], 2) for r in rows] == [0.01, 0.05, 0.35, 0.4]
    assert rows[0]["title"] == "n-test" and rows[0]["side"] == "test" and rows[0]["confidence"] == pytest.approx(0.99)


def test_misclassified_filters(lib):
    home, db, made = lib
    m = made["model_id"]
    assert eval_db.misclassified(db, m, side="test")[1]["total"] == 3
    assert eval_db.misclassified(db, m, side="train")[1]["total"] == 1
    assert eval_db.misclassified(db, m, track_id=made["tracks"]["b-test"])[1]["total"] == 2
    assert eval_db.misclassified(db, m, min_confidence=0.9)[1]["total"] == 2
    label(db, ids(lib, "b-test", 2), "banger", who="alice")
    rows, _ = eval_db.misclassified(db, m, labeller="alice")
    assert [r["segment_id"] for r in rows] == ids(lib, "b-test", 2)
    page, totals = eval_db.misclassified(db, m, limit=2, offset=2)
    assert len(page) == 2 and totals["total"] == 4
    assert eval_db.misclassified(db, m, threshold=0.98)[1]["total"] == 7  # 6 bangers below 0.98, 1 not above
    with pytest.raises(ValueError, match="unknown split side 'bogus'"):
        eval_db.misclassified(db, m, side="bogus")


def test_score_histogram_counts_every_filtered_labelled_segment(lib):
    home, db, made = lib
    rows = eval_db.score_histogram(db, made["model_id"], bins=10)
    assert sum(r["n"] for r in rows) == 14
    assert {"bin": 9, "verdict": "not_a_banger", "n": 1} in rows  # 0.99


def test_review_progress_is_kept(lib):
    home, db, made = lib
    first = ids(lib, "n-test", 1)[0]
    reviews_db.mark_reviewed(db, first, reviewer="tom", model_id=made["model_id"], action="no change")
    rows, totals = eval_db.misclassified(db, made["model_id"])
    assert totals == {"total": 4, "reviewed": 1} and rows[0]["reviewed"] and not rows[1]["reviewed"]
    assert reviews_db.get_review(db, first, model_id=made["model_id"])["reviewer"] == "tom"
    reviews_db.unmark_reviewed(db, first, model_id=made["model_id"])
    assert eval_db.misclassified(db, made["model_id"])[1]["reviewed"] == 0


def test_relabel_keeps_history_and_changes_the_consensus(lib):
    home, db, made = lib
    seg = ids(lib, "n-test", 1)[0]
    label(db, [seg], "banger", who="bob", note="ambiguous")  # a relabel for another reason: one more vote
    assert db["segment_verdicts"].get(seg)["verdict"] is None  # import vs bob: a tie
    label(db, [seg], "banger", who="bob", note="label was wrong")  # a correction: the votes before it are set aside
    assert db["segment_verdicts"].get(seg)["verdict"] == "banger"
    assert (db["segment_verdicts"].get(seg)["banger_votes"], db["segment_verdicts"].get(seg)["not_votes"]) == (1, 0)
    label(db, [seg], "not_a_banger", who="dave")  # votes after a correction count as always: now a tie
    assert db["segment_verdicts"].get(seg)["verdict"] is None
    label(db, [seg], "banger", who="carol", note="label was wrong")
    assert db["segment_verdicts"].get(seg)["verdict"] == "banger"
    history = answers_db.history(db, seg)
    assert [(h["labeller"], h["value"], h["note"]) for h in history] == [
        ("import", "not_a_banger", None), ("bob", "banger", "ambiguous"), ("bob", "banger", "label was wrong"),
        ("dave", "not_a_banger", None), ("carol", "banger", "label was wrong")]
    rows, totals = eval_db.misclassified(db, made["model_id"])
    assert seg not in [r["segment_id"] for r in rows] and totals["total"] == 3


# --- evaluation and baselines -------------------------------------------------------------------

def answer(db, seg: int, who: str, **values) -> None:
    qid = {q["key"]: q["id"] for q in questions_db.list_questions(db)}
    answers_db.save_answers(db, [seg], who, {qid[k]: v for k, v in values.items()})


def test_evaluation_of_a_known_example(lib):
    home, db, made = lib
    ev = evaluate_model(home)
    assert ev.model_id == made["model_id"]
    assert ev.split.text == "split by track: 2 test tracks held out (6 segments)"
    assert ev.metrics.accuracy == pytest.approx(0.5) and ev.metrics.confusion == [[2, 1], [2, 1]]
    assert [(t["label"], t["predicted"]) for t in ev.tracks] == [("banger", "not_a_banger"),
                                                                 ("not_a_banger", "banger")]  # mean 0.547
    assert ev.track_metrics.accuracy == 0.0
    assert ev.at(0.04).metrics.confusion == [[0, 3], [0, 3]]


def test_baselines_on_the_same_test_tracks(lib):
    home, db, made = lib
    b1, n1, b2 = ids(lib, "b-test", 0)[0], ids(lib, "n-test", 0)[0], ids(lib, "b-test", 1)[0]
    answer(db, b1, "alice", bpm=128, drops=2, drop_dopeness=8, acoustic=0, verdict="banger")
    answer(db, n1, "alice", bpm=70, drops=0, acoustic=1, verdict="not_a_banger")
    answer(db, b2, "alice", bpm=128)  # incomplete: left out of the algorithm's row
    rows = {r["name"]: r for r in evaluate_model(home).baselines}
    majority = rows["majority class"]
    assert majority["accuracy"] == 0.5 and "always 'not_a_banger'" in majority["note"] and "8 training" in majority["note"]
    algorithm = rows["Haverford's algorithm"]
    assert algorithm["segments"] == 2 and algorithm["accuracy"] == 1.0 and "2 of 6" in algorithm["note"]
    assert rows["ConvNet, same segments"]["segments"] == 2 and rows["ConvNet, same segments"]["accuracy"] == 1.0
    assert rows["labeller alice"]["segments"] == 2 and rows["labeller alice"]["accuracy"] == 1.0
    assert rows["labeller import"]["segments"] == 2  # only where someone else answered too
    assert rows["ConvNet"]["accuracy"] == 0.5 and list(rows)[-1] == "ConvNet"


def test_each_labeller_is_compared_with_the_others_not_with_themself(lib):
    home, db, made = lib
    b1, n1 = ids(lib, "b-test", 0)[0], ids(lib, "n-test", 0)[0]
    answer(db, b1, "alice", verdict="banger")
    answer(db, n1, "alice", verdict="not_a_banger")
    answer(db, b1, "bob", verdict="not_a_banger")  # import and alice say banger: bob is wrong here
    rows = {r["name"]: r for r in evaluate_model(home).baselines}
    assert (rows["labeller bob"]["segments"], rows["labeller bob"]["accuracy"]) == (1, 0.0)
    # on b1 alice's others tie (import banger, bob not): left out; on n1 import agrees with her
    assert (rows["labeller alice"]["segments"], rows["labeller alice"]["accuracy"]) == (1, 1.0)
    assert "other labellers' majority" in rows["labeller bob"]["note"]


def test_labellers_are_compared_where_the_consensus_is_a_tie(lib):
    """With two voices a disagreement is a tie: the segment has no label for the model's figures,
    but each voice is still compared with the other there (else a labeller only ever scores 1.0)."""
    home, db, made = lib
    b1 = ids(lib, "b-test", 0)[0]
    answer(db, b1, "alice", verdict="not_a_banger")  # the import label says banger
    ev = evaluate_model(home)
    assert b1 not in ev.segment_ids.tolist()
    rows = {r["name"]: r for r in ev.baselines}
    assert (rows["labeller alice"]["segments"], rows["labeller alice"]["accuracy"]) == (1, 0.0)
    assert (rows["labeller import"]["segments"], rows["labeller import"]["accuracy"]) == (1, 0.0)


def test_no_model_is_one_clear_error(home):
    with pytest.raises(HaverfordError, match="no active model; train one with 'haverford train'"):
        evaluate_model(home)


def test_flips_list_label_edits_in_between(lib):
    home, db, made = lib
    old = models_db.get_model(db, made["model_id"])
    seg = ids(lib, "n-test", 1)[0]
    label(db, [seg], "banger", who="bob", note="label was wrong")
    new_id = models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "params": old["params"]})
    flipped = {seg: 0.3, ids(lib, "b-test", 0)[0]: 0.2}
    models_db.save_predictions(db, new_id, list(models_db.predictions(db, old["id"])),
                               list(models_db.predictions(db, old["id"]).values()))
    models_db.save_predictions(db, new_id, list(flipped), list(flipped.values()))
    window = {"since": old["created_at"], "until": models_db.get_model(db, new_id)["created_at"]}
    rows = eval_db.flips(db, old["id"], new_id, **window)
    assert [r["segment_id"] for r in rows] == [seg, ids(lib, "b-test", 0)[0]]
    assert rows[0]["label_edits"] == 1 and rows[1]["label_edits"] == 0
    edits = reviews_db.label_edits(db, **window)
    assert [(e["segment_id"], e["labeller"], e["note"]) for e in edits] == [(seg, "bob", "label was wrong")]


# --- command line -------------------------------------------------------------------------------

def test_cli_evaluate_json_is_the_pages_numbers(lib, capsys):
    home, db, made = lib
    assert main(["evaluate", "--json", "--home", str(home.path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads(json.dumps(evaluate_model(home).to_json()))
    assert out["split"]["text"].startswith("split by track: 2 test tracks") and out["metrics"]["accuracy"] == 0.5


def test_cli_misclassified_json(lib, capsys):
    home, db, made = lib
    assert main(["misclassified", "--limit", "2", "--json", "--home", str(home.path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 4 and [s["segment_id"] for s in out["segments"]] == ids(lib, "n-test", 1) + ids(lib, "b-test", 1)
    assert main(["misclassified", "--split", "test", "--home", str(home.path)]) == 0
    assert "3 labelled segments misclassified (test tracks" in capsys.readouterr().out


def test_cli_without_a_model_says_what_to_do(home, capsys):
    home.connect()
    for command in ("evaluate", "misclassified"):
        assert main([command, "--home", str(home.path)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "no active model; train one with 'haverford train'" in err
    assert main(["misclassified", "--limit", "0", "--home", str(home.path)]) == 1
