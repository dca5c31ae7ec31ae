"""The demo library: generated offline, labelled with planted errors whose truth is kept in the
home, deterministic, with two simulated labellers who disagree on the hard cases."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from haverford.core import synth
from haverford.core.cli import main
from haverford.core.demo import (
    LABELLERS,
    TRUTH_FILE,
    Noise,
    build_demo,
    plan_import_labels,
    simulate,
    truth_path,
    wrong_labels,
)
from haverford.core.home import Home
from haverford.core.vocabulary import DEFAULT_PRESET

ROOT = Path(__file__).resolve().parents[1]


def answer_tuples(home):
    return list(home.connect().execute(
        """SELECT t.content_hash, s.idx, q.key, a.labeller, a.value FROM answers a
           JOIN segments s ON s.id = a.segment_id JOIN tracks t ON t.id = s.track_id
           JOIN questions q ON q.id = a.question_id ORDER BY t.content_hash, s.idx, a.labeller, q.key"""))


def truth_by_segment(home) -> dict[tuple[str, int], dict]:
    """(content hash, segment index) → the truth file's entry for that segment."""
    doc = json.loads(truth_path(home).read_text())
    return {(t["content_hash"], s["index"]): s for t in doc["tracks"] for s in t["segments"]}


def verdicts(home, labeller: str) -> dict[tuple[str, int], str]:
    return {(h, i): v for h, i, k, who, v in answer_tuples(home) if k == "verdict" and who == labeller}


@pytest.fixture(scope="module")
def built_demo(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("demo") / "home")
    out = build_demo(home, n_tracks=4, seed=0)
    return home, out


@pytest.fixture(scope="module")
def bigger_home(tmp_path_factory):
    """16 tracks: every style, two tracks wholly mislabelled."""
    home = Home(tmp_path_factory.mktemp("demo16") / "home")
    build_demo(home, n_tracks=16, seed=0, noise=Noise(track_share=0.125, segment_share=0.08))
    return home


def test_counts_and_one_import_label_per_segment(built_demo):
    home, out = built_demo
    assert (out["tracks_added"], out["errors"]) == (4, [])
    rows = list(home.connect().query("SELECT duration_s, n_segments FROM tracks"))
    assert len(rows) == 4 and all(30 <= r["duration_s"] <= 60 and r["n_segments"] == int(r["duration_s"] // 5)
                                  for r in rows)
    imported = verdicts(home, "import")
    assert len(imported) == out["segments"] == out["labels_imported"]
    assert set(imported.values()) == {"banger", "not_a_banger"}


def test_the_truth_file_holds_every_segment_and_the_import_label_given(built_demo):
    home, out = built_demo
    truth = truth_by_segment(home)
    assert out["truth_file"] == str(home.path / TRUTH_FILE)
    assert len(truth) == out["segments"]
    assert {k: s["imported"] for k, s in truth.items()} == verdicts(home, "import")
    for seg in truth.values():  # a planted cause exactly where the import label is not the truth
        assert (seg["planted"] is None) == (seg["imported"] == seg["truth"])


def test_a_known_share_of_segments_and_whole_tracks_are_imported_wrong():
    tracks = list(synth.make_library(20, seed=2, min_s=10.0, max_s=12.0))
    plans = plan_import_labels(tracks, seed=2, noise=Noise(track_share=0.1, segment_share=0.1))
    causes = [cause for plan in plans for _, cause in plan]
    whole = [i for i, plan in enumerate(plans) if all(c == "track_flip" for _, c in plan)]
    assert len(whole) == 2 and all(tracks[i].style in ("four_on_the_floor", "acoustic") for i in whole)
    others = sum(len(t.segments) for i, t in enumerate(tracks) if i not in whole)
    assert causes.count("segment_flip") == round(0.1 * others)
    for i in whole:
        assert {label for label, _ in plans[i]} == {"not_a_banger" if tracks[i].label == "banger" else "banger"}


def test_an_acoustic_intro_is_imported_with_its_tracks_label():
    track = synth.make_intro_outro(5, duration_s=45.0)
    plan = plan_import_labels([track], seed=0, noise=Noise(track_share=0.0, segment_share=0.0))[0]
    assert [label for label, _ in plan] == ["banger"] * len(track.segments)
    assert [cause for _, cause in plan] == ["track_label"] * 2 + [None] * 6 + ["track_label"]


@pytest.mark.parametrize("who", LABELLERS, ids=lambda w: w.name)
def test_simulated_labellers_answer_hard_cases_against_the_truth_far_more_often(who):
    rng = np.random.default_rng(0)
    for style, hard in [("four_on_the_floor", False), ("acoustic", False), ("breakbeat", True),
                        ("live_drums", True), ("ambient", True), ("synth_ballad", True), ("acoustic_intro", True)]:
        verdict = "banger" if style in ("four_on_the_floor", "breakbeat") else "not_a_banger"
        truth = synth.SegmentTruth(0, 0.0, 125.0, 0, None, False, verdict, style, hard)
        against = np.mean([simulate(truth, who, rng)["verdict"] != verdict for _ in range(2000)])
        assert (0.1 < against < 0.5) if hard else (against < 0.04), (style, against)


def test_in_the_library_labellers_go_against_the_truth_mostly_on_hard_segments(bigger_home):
    truth = truth_by_segment(bigger_home)
    wrong = {True: [], False: []}  # hard → did a simulated labeller answer against the truth?
    for who in ("alice", "bob"):
        for key, verdict in verdicts(bigger_home, who).items():
            wrong[truth[key]["hard"]].append(verdict != truth[key]["truth"])
    assert min(len(wrong[True]), len(wrong[False])) > 40
    assert np.mean(wrong[True]) > 2 * np.mean(wrong[False])


def test_wrong_labels_are_the_consensus_verdicts_that_differ_from_the_truth(bigger_home):
    truth = truth_by_segment(bigger_home)
    db = bigger_home.connect()
    consensus = {(h, i): v for h, i, v in db.execute(
        """SELECT t.content_hash, s.idx, v.verdict FROM segment_verdicts v JOIN segments s ON s.id = v.segment_id
           JOIN tracks t ON t.id = s.track_id WHERE v.verdict IN ('banger', 'not_a_banger')""")}
    expected = {k for k, v in consensus.items() if v != truth[k]["truth"]}
    wrong = wrong_labels(bigger_home)
    keys = {(h, i) for h, i in db.execute(
        "SELECT t.content_hash, s.idx FROM segments s JOIN tracks t ON t.id = s.track_id WHERE s.id IN "
        f"({','.join('?' * len(wrong))})", list(wrong))}
    assert keys == expected and len(wrong) >= 10
    causes = {w["planted"] for w in wrong.values()}
    assert {"track_flip", "segment_flip", "track_label"} <= causes


def test_no_page_reads_the_truth():
    pages = [p for p in (ROOT / "dashboard").rglob("*.py")]
    assert pages and not [p for p in pages if "truth" in p.read_text().lower()]


def test_the_demo_is_deterministic(tmp_path, built_demo):
    other = Home(tmp_path / "again")
    build_demo(other, n_tracks=4, seed=0)
    assert answer_tuples(other) == answer_tuples(built_demo[0])
    assert truth_path(other).read_text() == truth_path(built_demo[0]).read_text()


def test_building_again_adds_nothing(built_demo):
    home, _ = built_demo
    before, truth = answer_tuples(home), truth_path(home).read_text()
    out = build_demo(home, n_tracks=4, seed=0)
    assert (out["tracks_added"], out["answers_added"], out["labels_imported"]) == (0, 0, 0)
    assert answer_tuples(home) == before and truth_path(home).read_text() == truth


def test_demo_command_without_serving_or_training(capsys, tmp_path):
    code = main(["demo", "--no-serve", "--no-train", "--tracks", "2", "--home", str(tmp_path / "h"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["tracks"] == 2 and doc["segments"] > 10 and "model" not in doc


@pytest.mark.slow
def test_a_library_too_small_to_train_is_built_and_says_why(capsys, tmp_path):
    code = main(["demo", "--no-serve", "--tracks", "2", "--home", str(tmp_path / "h"), "--json"])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["model"] is None
    assert "no first model: not enough labelled music to train" in captured.err


# --- the default demo with its first model (slow: ~30 s to build and train, ~30 s to cross-check) ---

@pytest.fixture(scope="module")
def default_demo(tmp_path_factory):
    """``haverford demo --no-serve`` at the default size and seed: library, truth and first model."""
    home = tmp_path_factory.mktemp("demo-default") / "home"
    proc = subprocess.run([sys.executable, "-m", "haverford.core.cli", "demo", "--no-serve", "--json",
                           "--home", str(home)], capture_output=True, text=True, check=True)
    return Home(home), json.loads(proc.stdout), proc.stderr


@pytest.mark.slow
def test_the_demo_opens_with_a_model_right_on_most_but_not_all_test_segments(default_demo):
    _, out, err = default_demo
    model = out["model"]
    assert "training the first model" in err and "epoch 1: " in err  # progress on stderr
    assert (model["model_id"], model["preset"], model["split"]) == (1, DEFAULT_PRESET, "by track")
    assert model["majority_baseline"] < model["test_accuracy"] < 1.0
    assert model["test_accuracy"] > 0.7


@pytest.mark.slow
def test_misclassified_has_test_segments_on_first_open(default_demo, capsys):
    home, _, _ = default_demo
    assert main(["misclassified", "--split", "test", "--json", "--home", str(home.path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total"] == len(doc["segments"]) > 0
    assert all(s["side"] == "test" and (s["p_banger"] >= 0.5) != (s["verdict"] == "banger") for s in doc["segments"])


@pytest.mark.slow
def test_the_cross_check_ranks_the_planted_label_errors_first(default_demo):
    from haverford.core.crosscheck import CrossCheckConfig, run_crosscheck
    from haverford.core.train import SilentReporter

    home, out, _ = default_demo
    wrong = wrong_labels(home)
    assert len(wrong) == out["wrong_labels"] >= 15
    rows = run_crosscheck(home, CrossCheckConfig(), reporter=SilentReporter())["rows"]
    ranked = [r["segment_id"] for r in sorted(rows, key=lambda r: (r["self_confidence"], r["segment_id"]))]
    found = len(set(ranked[:len(wrong)]) & set(wrong))
    assert found >= 0.8 * len(wrong), f"{found} of {len(wrong)} planted wrong labels in the top {len(wrong)}"


def test_the_demo_refuses_a_home_that_holds_the_users_own_music(capsys, tmp_path):
    from conftest import tone, write_audio

    home = tmp_path / "mine"
    assert main(["ingest", str(write_audio(tmp_path / "my song.wav", tone(seconds=11.0))), "--home", str(home)]) == 0
    capsys.readouterr()
    assert main(["demo", "--no-serve", "--no-train", "--tracks", "2", "--home", str(home)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"haverford: error: {home} holds your own library (1 track imported or uploaded): the demo would mix "
                   f"generated tracks with planted wrong labels into it; give the demo a home of its own, "
                   f"e.g. --home haverford-demo"]
    assert Home(home).connect().execute("SELECT title FROM tracks").fetchall() == [("my song",)]
    assert not truth_path(Home(home)).exists()


def test_a_demo_keeps_the_seed_it_was_built_with(capsys, tmp_path):
    home = str(tmp_path / "h")
    assert main(["demo", "--no-serve", "--no-train", "--tracks", "2", "--seed", "1", "--home", home]) == 0
    assert main(["demo", "--no-serve", "--no-train", "--tracks", "2", "--seed", "0", "--home", home]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"haverford: error: the demo in {home} was built with --seed 1: leave --seed out to use it again, "
        f"or build seed 0 in another home (--home DIR)")
    assert main(["demo", "--no-serve", "--no-train", "--tracks", "3", "--home", home, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tracks"] == 3
    assert json.loads(truth_path(Home(home)).read_text())["seed"] == 1


def test_a_home_that_cannot_be_made_or_a_busy_port_is_one_line_before_any_work(capsys, tmp_path):
    import socket

    (tmp_path / "a file").write_text("")
    assert main(["demo", "--no-serve", "--home", str(tmp_path / "a file" / "home")]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"haverford: error: cannot make the home folder {tmp_path / 'a file' / 'home'}: Not a directory; "
        f"give --home a folder you can write to"]
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--tracks", "2", "--port", str(port), "--home", str(tmp_path / "d")]) == 1
    assert "is not available" in capsys.readouterr().err and not (tmp_path / "d").exists()
