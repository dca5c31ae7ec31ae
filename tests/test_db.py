"""Schema migrations, answers with history, the consensus verdict and the questionnaire."""

import sqlite3

import pytest

import haverford.db as dbm
from haverford.db import answers, questions, tracks


def add_track(database, name="t", n_segments=2):
    track_id = tracks.insert_track(database, dict(path=f"/music/{name}.wav", content_hash=name, title=name,
                                                  duration_s=5.0 * n_segments, orig_sr=44100, orig_channels=2,
                                                  n_segments=n_segments), segment_s=5.0)
    return tracks.segment_ids(database, track_id)


def test_first_migration_creates_the_schema_and_haverfords_test(memdb):
    assert memdb.execute("PRAGMA user_version").fetchone()[0] == dbm.SCHEMA_VERSION
    assert {"tracks", "segments", "questions", "answers", "models", "training_runs",
            "predictions"} <= set(memdb.table_names())
    keys = [(q["key"], q["kind"]) for q in questions.list_questions(memdb)]
    assert keys == [("bpm", "number"), ("drops", "count"), ("drop_dopeness", "rating"),
                    ("acoustic", "yes_no"), ("verdict", "choice")]
    dopeness = questions.get_question(memdb, "drop_dopeness")
    assert dopeness["ask_when"] == {"key": "drops", "op": ">", "value": 0}
    assert dopeness["options"] == {"min": 1, "max": 10}


def test_file_database_uses_wal_and_a_busy_timeout(tmp_path):
    database = dbm.connect(tmp_path / "h.db")
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_migrating_an_existing_database_keeps_its_data(tmp_path):
    path = tmp_path / "h.db"
    first = dbm.connect(path)
    seg_ids = add_track(first)
    answers.save_answers(first, seg_ids, "alice", {questions.verdict_question_id(first): "banger"})
    first.conn.close()
    again = dbm.connect(path)
    assert dbm.migrate(again) == 0
    assert again.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 2
    assert again.execute("SELECT COUNT(*) FROM questions").fetchone()[0] == 5


def test_migrating_decides_again_the_segments_a_correction_left_tied(tmp_path):
    """Before the correction rule, a 'label was wrong' relabel against the import's label was a
    tie (no verdict); the migration gives such segments the corrected verdict, and leaves others."""
    path = tmp_path / "h.db"
    first = dbm.connect(path)
    corrected, other = add_track(first)
    verdict = questions.verdict_question_id(first)
    answers.save_answers(first, [corrected, other], "import", {verdict: "not_a_banger"})
    answers.save_answers(first, [corrected], "bob", {verdict: "banger"}, note="label was wrong")
    answers.save_answers(first, [other], "bob", {verdict: "banger"}, note="model error")
    first.execute("UPDATE segment_verdicts SET verdict = NULL WHERE segment_id = ?", [corrected])  # as the old rule left it
    first.execute(f"PRAGMA user_version = {dbm.SCHEMA_VERSION - 1}")
    first.conn.close()
    again = dbm.connect(path)
    got = {r["segment_id"]: r["verdict"] for r in again.query("SELECT segment_id, verdict FROM segment_verdicts")}
    assert got == {corrected: "banger", other: None}


def test_a_database_from_a_newer_haverford_is_refused(tmp_path):
    path = tmp_path / "h.db"
    dbm.connect(path).execute(f"PRAGMA user_version = {dbm.SCHEMA_VERSION + 1}")
    with pytest.raises(dbm.DatabaseError, match="newer than this Haverford"):
        dbm.connect(path)


def test_latest_answer_counts_and_history_is_kept(memdb):
    seg = add_track(memdb)[0]
    verdict = questions.verdict_question_id(memdb)
    answers.save_answers(memdb, [seg], "alice", {verdict: "banger"})
    answers.save_answers(memdb, [seg], "alice", {verdict: "not_a_banger"})
    current = answers.current_answers(memdb, seg)
    assert [(a["labeller"], a["value"]) for a in current] == [("alice", "not_a_banger")]
    assert [a["value"] for a in answers.history(memdb, seg)] == ["banger", "not_a_banger"]


def test_consensus_is_the_majority_and_a_tie_has_no_verdict(memdb):
    seg_a, seg_b = add_track(memdb)
    verdict = questions.verdict_question_id(memdb)
    for who, value in [("alice", "banger"), ("bob", "banger"), ("carol", "not_a_banger")]:
        answers.save_answers(memdb, [seg_a], who, {verdict: value})
    for who, value in [("alice", "banger"), ("bob", "not_a_banger")]:
        answers.save_answers(memdb, [seg_b], who, {verdict: value})
    rows = {r["segment_id"]: r for r in memdb.query("SELECT * FROM segment_verdicts")}
    assert (rows[seg_a]["verdict"], rows[seg_a]["banger_votes"], rows[seg_a]["not_votes"]) == ("banger", 2, 1)
    assert rows[seg_b]["verdict"] is None and rows[seg_b]["n_labellers"] == 2


def test_values_keep_their_type(memdb):
    seg = add_track(memdb)[0]
    bpm = questions.get_question(memdb, "bpm")["id"]
    answers.save_answers(memdb, [seg], "alice", {bpm: 128})
    answers.save_answers(memdb, [seg], "bob", {bpm: "128"})
    values = {a["labeller"]: a["value"] for a in answers.current_answers(memdb, seg)}
    assert values == {"alice": 128, "bob": "128"}


def test_rewording_and_retiring_a_question_keeps_its_answers(memdb):
    seg = add_track(memdb)[0]
    bpm = questions.get_question(memdb, "bpm")
    answers.save_answers(memdb, [seg], "alice", {bpm["id"]: 120})
    questions.update_question(memdb, bpm["id"], text="Tempo (BPM)?")
    questions.update_question(memdb, bpm["id"], active=False)
    assert "bpm" not in [q["key"] for q in questions.list_questions(memdb)]
    assert [a["value"] for a in answers.current_answers(memdb, seg)] == [120]
    assert [r["text"] for r in questions.revisions(memdb, bpm["id"])] == ["How many beats per minute?",
                                                                           "Tempo (BPM)?"]


def test_reordering_questions(memdb):
    acoustic = questions.get_question(memdb, "acoustic")["id"]
    questions.move_question(memdb, acoustic, offset=-2)
    assert [q["key"] for q in questions.list_questions(memdb)][:2] == ["bpm", "acoustic"]


def test_sql_in_names_is_data_not_code(memdb):
    seg = add_track(memdb, name="x'); DROP TABLE answers;--")[0]
    evil = "'); DROP TABLE answers;--"
    qid = questions.add_question(memdb, key="evil", text=evil, kind="text")
    answers.save_answers(memdb, [seg], evil, {qid: "<script>alert(1)</script>"})
    assert answers.current_answers(memdb, seg)[0]["labeller"] == evil
    assert "answers" in memdb.table_names()


def test_a_failed_save_writes_nothing(memdb):
    seg = add_track(memdb)[0]
    with pytest.raises(sqlite3.IntegrityError):
        answers.save_answers(memdb, [seg, 99999], "alice", {questions.verdict_question_id(memdb): "banger"})
    assert memdb.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0


def test_ambiguous_is_a_verdict_that_counts_as_labelled_but_not_as_a_class(memdb):
    seg_a, seg_b = add_track(memdb)
    verdict = questions.verdict_question_id(memdb)
    assert "ambiguous" in questions.get_question(memdb, "verdict")["options"]["choices"]
    answers.save_answers(memdb, [seg_a], "alice", {verdict: "banger"})
    answers.save_answers(memdb, [seg_a], "bob", {verdict: "ambiguous"})
    for who, value in [("alice", "banger"), ("bob", "banger"), ("carol", "ambiguous")]:
        answers.save_answers(memdb, [seg_b], who, {verdict: value})
    rows = {r["segment_id"]: (r["verdict"], r["ambiguous_votes"], r["n_labellers"])
            for r in memdb.query("SELECT * FROM segment_verdicts")}
    assert rows == {seg_a: ("ambiguous", 1, 2), seg_b: ("banger", 1, 3)}


def test_one_connection_per_thread_and_file_checked_once(tmp_path):
    """``Home.connect`` gives a thread the same connection each time, another thread its own; a
    closed one or a replaced file is opened afresh."""
    import threading

    from haverford.core.home import Home

    home = Home(tmp_path / "h")
    first = home.connect()
    assert home.connect() is first
    other = []
    thread = threading.Thread(target=lambda: other.append(home.connect()))
    thread.start()
    thread.join()
    assert other[0] is not first
    first.close()
    reopened = home.connect()
    assert reopened is not first and reopened.execute("SELECT COUNT(*) FROM questions").fetchone()[0] > 0
    (tmp_path / "h" / "haverford.db").rename(tmp_path / "old.db")  # a restore puts a new file in place
    dbm.connect(tmp_path / "h" / "haverford.db").close()
    assert home.connect() is not reopened
