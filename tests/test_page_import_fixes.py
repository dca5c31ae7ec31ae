"""The dashboard on the files of issue 10 (issue 12's pages): a name that is not UTF-8, silent
segments, uploads and the import report, in Streamlit's AppTest with audio made in the test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from _app_pages import app_page, messages
from _label_browser import LabelBrowser
from conftest import clicks, tone, write_audio
from streamlit.testing.v1 import AppTest

from haverford.core.config import HOME_ENV
from haverford.core.home import Home
from haverford.core.ingest import ingest
from haverford.dashboard.clip import plain

SR = 22050
LATIN1 = os.fsdecode(b"caf\xe9.wav")  # a Latin-1 é: not UTF-8, held by Python as a lone surrogate


def song_then_zeros(bpm: float = 128.0) -> np.ndarray:
    """8 s of music then 7 s of digital zeros: 3 segments, the last one silent."""
    return np.concatenate([clicks(bpm, seconds=8.0) + tone(seconds=8.0, amplitude=0.1), np.zeros(7 * SR, np.float32)])


@pytest.fixture
def odd_home(tmp_path, monkeypatch) -> Home:
    """A home served by the dashboard with a track whose name is not UTF-8 (1 segment) and a track
    ending in silence (3 segments, the last silent)."""
    music = tmp_path / "music"
    write_audio(music / "plain.wav", tone(seconds=6.0)).rename(music / LATIN1)
    write_audio(music / "song8_zeros7.wav", song_then_zeros())
    home = Home(tmp_path / "home")
    report = ingest(home, [music], workers=1)
    assert (report.tracks_added, report.segments_added, report.silent_segments) == (2, 4, 1)
    monkeypatch.setenv(HOME_ENV, str(home.path))
    return home


def segment_of(home: Home, title: str, idx: int = 0) -> int:
    sql = "SELECT s.id FROM segments s JOIN tracks t ON t.id = s.track_id WHERE t.title = ? AND s.idx = ?"
    return home.connect().execute(sql, [title, idx]).fetchone()[0]


def page(view: str | None = None, *, params: dict | None = None, **state) -> AppTest:
    """The app on ``view`` (the Library page when None), with ``params`` in the URL."""
    return app_page(view, params=params, **state)


# --- 1. A file name that is not UTF-8 -------------------------------------------------------

def test_the_label_page_plays_a_segment_whose_file_name_is_not_utf8(odd_home):
    segment = segment_of(odd_home, "caf\ufffd")
    at = page("views/label.py", params={"labeller": "donna", "segment": str(segment)})
    assert at.session_state["label_segment"] == segment
    clip = LabelBrowser(at).clip
    assert clip["audio"] and clip["picture"] and clip["error"] is None  # the clip is heard and drawn
    assert "caf\ufffd" in clip["title"] and not at.error


def test_the_library_shows_that_segment_and_its_track(odd_home):
    at = page(library_segment=segment_of(odd_home, "caf\ufffd"))
    assert len(at.get("audio")) == 1 and not at.error
    assert "caf\ufffd" in set(at.dataframe[0].value["title"])


# --- 2. The Predict page: silent segments, folders ------------------------------------------

class HalfScorer:
    """Stands in for a trained model (no TensorFlow): P(banger) 0.75 for every audible segment."""

    features = ("log_mel",)

    def p_banger(self, xs: dict) -> np.ndarray:
        return np.full(len(xs["log_mel"]), 0.75)


@pytest.fixture
def model_home(odd_home, monkeypatch) -> Home:
    """``odd_home`` with an active model whose scorer is ``HalfScorer``."""
    from haverford.core import predict
    from haverford.db import models as models_db

    db = odd_home.connect()
    models_db.activate(db, models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "params": {},
                                                       "metrics": {}}))
    monkeypatch.setattr(predict, "load_scorer", lambda home, row: HalfScorer())
    return odd_home


def classify(at: AppTest, path: str) -> AppTest:
    at.text_input(key="predict_path").input(path).run()
    at.button(key="predict_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_predict_draws_a_silent_segment_as_silent_and_counts_it_apart(model_home, tmp_path):
    song = write_audio(tmp_path / "song8_zeros7.wav", song_then_zeros())
    at = classify(page("views/predict.py"), str(song))
    metric = at.metric[0]
    assert metric.label == f"Verdict for {plain(str(song))}" and metric.value == "Banger"
    assert metric.delta == "mean P(banger) 75% over 2 scored segments; 1 silent, not scored"
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    silent = [t for t in figure["data"] if t["name"] == "silent (not scored)"]
    assert silent and silent[0]["x"] == [10.0]  # the third segment, 10-15 s
    assert figure["data"][0]["x"] == [0.0, 5.0]


def test_predict_on_a_folder_shows_every_file_and_each_error(model_home, tmp_path):
    folder = tmp_path / "to-try"
    write_audio(folder / "one.wav", clicks(seconds=6.0))
    write_audio(folder / "two.wav", tone(seconds=11.0))
    write_audio(folder / "hush.wav", np.zeros(6 * SR, np.float32))
    at = classify(page("views/predict.py"), str(folder))
    labels = sorted(m.label for m in at.metric)
    assert labels == [f"Verdict for {plain(str(folder / name))}" for name in ("one.wav", "two.wav")]
    assert len(at.get("plotly_chart")) == 2
    errors = [e.value for e in at.error]
    assert errors == [f"Cannot classify {plain(str(folder / 'hush.wav'))}: silent: every sample is zero (digital silence); "
                      "nothing to label or score"]


# --- 3, 4, 5. Uploads and the import report -------------------------------------------------

def wav_bytes(y: np.ndarray) -> bytes:
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, y, SR, format="WAV")
    return buffer.getvalue()


REPORT_COLUMNS = {("File", "Error"): "errors", ("File", "Why", "Decoded (s)"): "truncated",
                  ("File", "What happened"): "conflicts", ("Was at", "Now at"): "moved", ("File", "Why"): "skipped"}


def report_tables(at: AppTest) -> dict[str, list[dict]]:
    """The import report's tables, named by their columns."""
    return {REPORT_COLUMNS[tuple(t.value.columns)]: t.value.to_dict("records") for t in at.dataframe
            if tuple(t.value.columns) in REPORT_COLUMNS}


def test_upload_errors_name_the_users_file_and_leave_nothing_behind(odd_home):
    at = page()
    at.file_uploader(key="library_upload").set_value([
        ("коротко.wav", wav_bytes(tone(seconds=1.78)), "audio/wav"),
        ("broken ünï.mp3", b"ID3 not really audio", "audio/mpeg"),
        ('emoji 🎵 %22q%22.wav', wav_bytes(clicks(seconds=6.0)), "audio/wav"),  # Chromium's '"'
    ]).run()
    at.button(key="library_import_upload").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = report_tables(at)["errors"]
    assert sorted(e["File"] for e in errors) == ["broken ünï.mp3", "коротко.wav"]
    assert "upload-" not in "\n".join(messages(at).splitlines() + [str(e) for e in errors])
    assert "1 track (1 segment)" in at.success[0].value and "2 files not imported" in messages(at)
    titles = {r[0] for r in odd_home.connect().execute("SELECT title FROM tracks")}
    assert 'emoji 🎵 "q"' in titles
    assert [p.suffix for p in odd_home.uploads_dir.iterdir()] == [".wav"]  # only the imported one is kept


def test_the_import_report_lists_every_kind_with_right_counts(odd_home, tmp_path):
    folder = tmp_path / "more"
    same = wav_bytes(clicks(140, seconds=6.0))
    (folder / "banger").mkdir(parents=True)
    (folder / "not_a_banger").mkdir()
    (folder / "banger" / "both.wav").write_bytes(same)  # a conflict
    (folder / "not_a_banger" / "both.wav").write_bytes(same)
    full = write_audio(tmp_path / "full.wav", clicks(seconds=30.0)).read_bytes()
    (folder / "cut.wav").write_bytes(full[: len(full) // 2])  # truncated
    write_audio(folder / "quiet end.wav", song_then_zeros(100.0))  # 1 silent segment of 3
    (folder / "notes.txt").write_text("not audio")  # skipped: extension
    write_audio(folder / "again.wav", song_then_zeros())  # same content: already in the library
    at = page()
    at.text_input(key="library_path").input(str(folder)).run()
    at.button(key="library_import_path").click().run()
    assert not at.exception, [e.value for e in at.exception]
    summary = at.success[0].value
    assert "Imported 3 tracks (6 segments, 1 of them silent)" in summary  # both.wav once, cut.wav 2, quiet end 3
    assert "2 files already in the library" in summary  # again.wav and the second both.wav, not notes.txt
    tables = report_tables(at)
    assert [t["File"] for t in tables["truncated"]] == [str(folder / "cut.wav")]
    assert len(tables["conflicts"]) == 1
    assert sorted(Path(s["File"]).name for s in tables["skipped"]) == ["again.wav", "both.wav", "notes.txt"]
    assert "errors" not in tables and "moved" not in tables


def test_a_moved_file_is_reported_as_moved(odd_home, tmp_path):
    old = next((tmp_path / "music").glob("song8*"))
    new = tmp_path / "elsewhere" / old.name
    new.parent.mkdir()
    old.rename(new)
    at = page()
    at.text_input(key="library_path").input(str(new.parent)).run()
    at.button(key="library_import_path").click().run()
    assert "0 files already in the library, 1 moved" in at.success[0].value
    assert report_tables(at)["moved"] == [{"Was at": str(old), "Now at": str(new)}]


def test_only_the_form_encodings_three_escapes_are_undone():
    from haverford.core.uploads import browser_name

    assert browser_name("C:/x/it%22s %0D%0Aa %22song%22 100%25.mp3") == 'it"s \r\na "song" 100%25.mp3'


# --- 6. Silent segments in the Library's tables and the track strip ------------------------

def label_audible(home: Home, title: str) -> None:
    from haverford.db import answers as answers_db
    from haverford.db import questions as questions_db

    db = home.connect()
    ids = [segment_of(home, title, i) for i in (0, 1)]
    answers_db.save_answers(db, ids, "donna", {questions_db.verdict_question_id(db): "banger"})


def test_a_track_with_its_audible_segments_labelled_is_fully_labelled(odd_home):
    label_audible(odd_home, "song8_zeros7")
    tracks = page().dataframe[0].value.set_index("title")
    assert tracks.loc["song8_zeros7", "silent"] == 1
    assert tracks.loc["song8_zeros7", "labelled_share"] == 1.0  # 2 of 2 audible, not 2 of 3
    assert tracks.loc["caf\ufffd", "labelled_share"] == 0.0


def test_the_segments_table_marks_silence_and_unlabelled_leaves_it_out(odd_home):
    silent = segment_of(odd_home, "song8_zeros7", 2)
    at = page()
    table = at.dataframe[-1].value.set_index("id")
    assert table.loc[silent, "verdict"] == "silent (not labelled)" and table.loc[silent, "silent"]
    at.segmented_control(key="library_status").set_value("unlabelled").run()
    assert silent not in set(at.dataframe[-1].value["id"]) and len(at.dataframe[-1].value) == 3
    at.segmented_control(key="library_status").set_value("silent").run()
    assert list(at.dataframe[-1].value["id"]) == [silent]


def test_the_track_strip_draws_an_ambiguous_verdict():
    from haverford.dashboard import charts

    rows = [{"id": i, "start_s": 5.0 * i, "verdict": v} for i, v in enumerate(["banger", "ambiguous", None])]
    by_name = {t["name"]: t["x"] for t in charts.track_strip_figure(rows, current_id=1)["data"]}
    assert by_name == {"banger": [2.5], "ambiguous": [7.5], "unlabelled": [12.5]}


def test_the_track_strip_calls_a_silent_segment_silent(odd_home):
    at = page(library_segment=segment_of(odd_home, "song8_zeros7", 0))
    strip = json.loads(at.get("plotly_chart")[-1].proto.spec)
    by_name = {t["name"]: t["x"] for t in strip["data"]}
    assert by_name == {"unlabelled": [2.5, 7.5], "silent (not labelled)": [12.5]}
    assert "dark grey silent" in messages(at)
