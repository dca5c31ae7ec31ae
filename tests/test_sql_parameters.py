"""User-written text reaches SQLite only as parameters, never inside a statement's text.

Every statement that Haverford's db layer sends is recorded while a hostile labeller name,
question and file name go through ingest, labelling, the library queries and export; none
of the recorded SQL texts may contain them.
"""

import sqlite3

import pytest
from conftest import tone, write_audio

import haverford.db.connection as connection
from haverford.core.export import export_answers
from haverford.core.ingest import ingest
from haverford.core.vocabulary import QUEUE_MODES
from haverford.db import answers, library, questions, queues

MARK = "zq'); DROP TABLE answers;-- <script>alert(1)</script>"


class RecordingConnection(sqlite3.Connection):
    """A connection that remembers the text of every statement it is asked to run."""

    statements: list[str] = []

    def execute(self, sql, *args):
        RecordingConnection.statements.append(sql)
        return super().execute(sql, *args)

    def executemany(self, sql, *args):
        RecordingConnection.statements.append(sql)
        return super().executemany(sql, *args)

    def executescript(self, sql):
        RecordingConnection.statements.append(sql)
        return super().executescript(sql)


@pytest.fixture
def recorded(monkeypatch):
    real = sqlite3.connect
    monkeypatch.setattr(connection.sqlite3, "connect",
                        lambda *a, factory=None, **k: real(*a, factory=RecordingConnection, **k))
    RecordingConnection.statements = []
    return RecordingConnection.statements


def test_hostile_text_never_enters_sql_text(recorded, home, tmp_path):
    path = write_audio(tmp_path / "banger" / f"{MARK.replace('/', '_')}.wav", tone(seconds=11.0))
    assert ingest(home, [path], labeller=MARK, workers=1).tracks_added == 1
    database = home.connect()
    qid = questions.add_question(database, key="mark_key", text=MARK, kind="text", help=MARK)
    questions.update_question(database, qid, text=MARK + "?")
    segment = database.execute("SELECT id FROM segments LIMIT 1").fetchone()[0]
    answers.save_answers(database, [segment], MARK, {qid: MARK, questions.verdict_question_id(database): "banger"},
                         note=MARK)
    answers.current_answers(database, segment, labeller=MARK)
    verdict = questions.verdict_question_id(database)
    for mode in QUEUE_MODES:
        queues.next_segment(database, mode=mode, labeller=MARK, verdict_question=verdict)
    library.segments_table(database, verdict_question=verdict, status="labelled", labeller=MARK)
    library.tracks_overview(database)
    export_answers(home, tmp_path / "out.csv", fmt="csv")
    assert len(recorded) > 20
    leaked = [sql for sql in recorded if "zq'" in sql or "<script>" in sql]
    assert leaked == []
    assert database.execute("SELECT COUNT(*) FROM answers WHERE labeller = ?", [MARK]).fetchone()[0] >= 2
