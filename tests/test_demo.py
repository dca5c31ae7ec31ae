"""The demo library: generated offline, labelled, deterministic, with two simulated labellers."""

import json

import pytest

from haverford.core.cli import main
from haverford.core.demo import build_demo
from haverford.core.home import Home


def answer_tuples(home):
    return list(home.connect().execute(
        """SELECT t.content_hash, s.idx, q.key, a.labeller, a.value FROM answers a
           JOIN segments s ON s.id = a.segment_id JOIN tracks t ON t.id = s.track_id
           JOIN questions q ON q.id = a.question_id ORDER BY t.content_hash, s.idx, a.labeller, q.key"""))


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("demo") / "home")
    out = build_demo(home, n_tracks=4, seed=0)
    return home, out


def test_counts_and_labels(demo_home):
    home, out = demo_home
    assert (out["tracks_added"], out["errors"]) == (4, [])
    rows = list(home.connect().query(
        """SELECT t.id, t.duration_s, t.n_segments, MIN(v.verdict) lo, MAX(v.verdict) hi FROM tracks t
           JOIN segments s ON s.track_id = t.id JOIN segment_verdicts v ON v.segment_id = s.id
           WHERE v.banger_votes + v.not_votes > 0 GROUP BY t.id"""))
    assert all(30 <= r["duration_s"] <= 60 and r["n_segments"] == int(r["duration_s"] // 5) for r in rows)
    import_labels = list(home.connect().execute(
        """SELECT a.value, COUNT(DISTINCT s.track_id) FROM answers a JOIN segments s ON s.id = a.segment_id
           WHERE a.labeller = 'import' GROUP BY a.value ORDER BY a.value"""))
    assert import_labels == [("banger", 2), ("not_a_banger", 2)]


def test_two_simulated_labellers_answer_the_whole_test_with_overlap(demo_home):
    home, _ = demo_home
    database = home.connect()
    per_labeller = dict(database.execute(
        "SELECT labeller, COUNT(DISTINCT segment_id) FROM answers WHERE labeller != 'import' GROUP BY labeller"))
    assert set(per_labeller) == {"alice", "bob"} and min(per_labeller.values()) > 5
    keys = {r[0] for r in database.execute(
        "SELECT DISTINCT q.key FROM answers a JOIN questions q ON q.id = a.question_id WHERE a.labeller = 'alice'")}
    assert keys == {"bpm", "drops", "drop_dopeness", "acoustic", "verdict"}
    both = database.execute("""SELECT COUNT(*) FROM (SELECT segment_id FROM answers
                               WHERE labeller IN ('alice', 'bob') GROUP BY segment_id
                               HAVING COUNT(DISTINCT labeller) = 2)""").fetchone()[0]
    assert both > 0


def test_simulated_answers_follow_the_truth_mostly(demo_home):
    home, _ = demo_home
    agree, total = home.connect().execute(
        """SELECT SUM(a.value = i.value), COUNT(*) FROM answers a
           JOIN answers i ON i.segment_id = a.segment_id AND i.question_id = a.question_id AND i.labeller = 'import'
           WHERE a.labeller IN ('alice', 'bob')""").fetchone()
    assert 0.75 < agree / total < 1.0  # realistic noise: mostly right, never perfect


def test_the_demo_is_deterministic(tmp_path, demo_home):
    other = Home(tmp_path / "again")
    build_demo(other, n_tracks=4, seed=0)
    assert answer_tuples(other) == answer_tuples(demo_home[0])


def test_building_again_adds_nothing(demo_home):
    home, _ = demo_home
    before = answer_tuples(home)
    out = build_demo(home, n_tracks=4, seed=0)
    assert (out["tracks_added"], out["answers_added"]) == (0, 0)
    assert answer_tuples(home) == before


def test_demo_command_without_serving(capsys, tmp_path):
    code = main(["demo", "--no-serve", "--tracks", "2", "--home", str(tmp_path / "h"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["tracks"] == 2 and doc["segments"] > 10
