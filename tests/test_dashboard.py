"""The dashboard in Streamlit's AppTest: every page, empty and on the demo; the labelling flow."""

from __future__ import annotations

from importlib import resources

import pytest
from _label_browser import LabelBrowser
from streamlit.testing.v1 import AppTest

from haverford.core import labelling, tempo
from haverford.core.config import HOME_ENV
from haverford.core.home import Home
from haverford.core.vocabulary import QUEUE_MODES
from haverford.db import answers as answers_db
from haverford.db import questions as questions_db

APP = str(resources.files("haverford.dashboard") / "app.py")
PAGES = ["views/library.py", "views/label.py", "views/questions.py", "views/agreement.py"]


def app(page: str, *, labeller: str | None = "carol", **state) -> AppTest:
    """The app, run once on the Library page and switched to ``page``."""
    at = AppTest.from_file(APP, default_timeout=60)
    if labeller is not None:
        at.session_state["app_labeller"] = labeller
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page != "views/library.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for kind in (at.info, at.warning, at.success, at.error, at.caption, at.markdown) for e in kind]
    return "\n".join(str(p) for p in parts)


# What each page tells a new user with an empty library: the action that gets them going.
EMPTY_ADVICE = {"views/library.py": "Import music above", "views/label.py": "import music on the Library page",
                "views/questions.py": "Haverford's test, as data", "views/agreement.py": "two or more labellers"}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_an_empty_home_says_what_to_do(page, tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "empty"))
    at = app(page)
    assert not at.exception
    assert EMPTY_ADVICE[page] in texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_the_demo_home(page, demo_home, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(demo_home.path))
    at = app(page)
    assert not at.exception
    assert not at.error


def test_label_page_asks_for_a_name_first(demo_copy):
    at = app("views/label.py", labeller=None)
    assert "Enter your name" in texts(at)


def browser(at: AppTest) -> LabelBrowser:
    return LabelBrowser(at)


HAVERFORDS_TEST = {"bpm": 128, "drops": 2, "drop_dopeness": 7, "acoustic": 0}


def _latest(home: Home, segment_id: int, labeller: str) -> dict:
    return labelling.my_answers(home.connect(), segment_id, labeller)


def test_answering_writes_exactly_those_answers_for_that_labeller(demo_copy):
    tab = browser(app("views/label.py"))
    seg = tab.current
    assert tab.answer(**HAVERFORDS_TEST).data["decision"]["text"].startswith("Haverford's algorithm says: Banger")
    tab.label("banger", **HAVERFORDS_TEST)
    assert _latest(demo_copy, seg, "carol") == {**HAVERFORDS_TEST, "verdict": "banger"}
    assert tab.current != seg and tab.at.session_state["label_segment"] == tab.current  # moved on
    assert tab.outbox == []  # the server acknowledged the record
    history = [r for r in answers_db.history(demo_copy.connect(), seg) if r["labeller"] == "carol"]
    assert len(history) == 5


def test_a_record_sent_again_is_saved_once(demo_copy):
    """A rerun that the browser's next state coalesces with can carry a record twice."""
    tab = browser(app("views/label.py"))
    seg = tab.current
    tab.outbox.append({"id": "r1", "segment": seg, "answers": {"drops": 1}, "verdict": "banger", "whole_track": False})
    tab.send()
    tab.outbox.append({"id": "r1", "segment": seg, "answers": {"drops": 1}, "verdict": "banger", "whole_track": False})
    tab.send()
    history = [r for r in answers_db.history(demo_copy.connect(), seg) if r["labeller"] == "carol"]
    assert len(history) == 2  # drops and the verdict, once


def test_dopeness_is_not_asked_or_saved_without_drops(demo_copy):
    tab = browser(app("views/label.py"))
    seg = tab.current
    dopeness = next(q for q in tab.data["questions"] if q["key"] == "drop_dopeness")
    assert dopeness["ask_when"] == {"key": "drops", "op": ">", "value": 0}  # the view asks it only then
    tab.label("not_a_banger", drops=0, drop_dopeness=7)
    assert _latest(demo_copy, seg, "carol") == {"drops": 0, "verdict": "not_a_banger"}


def test_acoustic_makes_haverfords_algorithm_say_not_a_banger(demo_copy):
    tab = browser(app("views/label.py"))
    tab.answer(bpm=128, drops=2, drop_dopeness=9, acoustic=1)
    assert tab.data["decision"]["text"].startswith("Haverford's algorithm says: Not a banger")


def test_reanswering_keeps_the_history(demo_copy):
    tab = browser(app("views/label.py"))
    seg = tab.current
    tab.label("banger")
    tab.go(seg)
    assert tab.clip["saved"] == {"verdict": "banger"}  # the view says "Your verdict so far: banger"
    tab.label("not_a_banger")
    db = demo_copy.connect()
    verdicts = [r["value"] for r in answers_db.history(db, seg) if r["labeller"] == "carol"]
    assert verdicts == ["banger", "not_a_banger"]
    assert _latest(demo_copy, seg, "carol")["verdict"] == "not_a_banger"


def test_whole_track_labelling_labels_every_segment(demo_copy):
    tab = browser(app("views/label.py", label_mode="track_order"))
    seg = tab.current
    tab.label("banger", whole_track=True, bpm=128)
    db = demo_copy.connect()
    track = db.execute("SELECT track_id FROM segments WHERE id = ?", [seg]).fetchone()[0]
    ids = [r[0] for r in db.execute("SELECT id FROM segments WHERE track_id = ?", [track])]
    assert all(_latest(demo_copy, s, "carol") == {"verdict": "banger"} for s in ids)


def test_nothing_to_save_is_one_line_and_loses_nothing(demo_copy):
    tab = browser(app("views/label.py"))
    seg = tab.current
    tab.label(None)  # "Save answers without a verdict" with no answer (the view itself refuses it first)
    assert list(tab.data["errors"].values()) == [f"Segment {seg} not saved: nothing to save: answer at least one question"]
    assert _latest(demo_copy, seg, "carol") == {}
    nxt = tab.current
    tab.label("banger")  # the view goes on working
    assert _latest(demo_copy, nxt, "carol") == {"verdict": "banger"}


def add_model(home: Home) -> None:
    """An active model with a score for every segment: segment 5 is the most uncertain."""
    db = home.connect()
    model = db["models"].insert({"preset": "seed", "feature": "log_mel", "created_at": "now", "active": 1}).last_pk
    ids = [r[0] for r in db.execute("SELECT id FROM segments")]
    db["predictions"].insert_all({"model_id": model, "segment_id": s, "p_banger": 0.52 if s == 5 else 0.9}
                                 for s in ids)


def test_queue_modes_pick_a_segment(demo_copy):
    add_model(demo_copy)
    db = demo_copy.connect()
    nobodys = db.execute("SELECT MIN(id) FROM segments WHERE id NOT IN (SELECT segment_id FROM answers)").fetchone()[0]
    for mode in QUEUE_MODES:
        at = app("views/label.py", label_mode=mode)
        if mode == "unlabelled":  # unlabelled by anyone: the first such segment, or none left
            assert at.session_state["label_segment"] == nobodys
        else:
            assert at.session_state["label_segment"] is not None, mode
    assert app("views/label.py", label_mode="most_uncertain").session_state["label_segment"] == 5
    db.execute("DELETE FROM answers WHERE segment_id = 7")  # nobody's answers now
    assert app("views/label.py", label_mode="unlabelled").session_state["label_segment"] == 7


def test_pages_show_model_scores_once_a_model_is_active(demo_copy):
    add_model(demo_copy)
    at = app("views/library.py", library_segment=5, library_sort="model_score_low")
    assert not at.exception
    assert "p_banger" in at.dataframe[-1].value.columns


def test_editing_and_retiring_a_question_keeps_its_answers(demo_copy):
    db = demo_copy.connect()
    acoustic = questions_db.get_question(db, "acoustic")
    before = db.execute("SELECT COUNT(*) FROM answers WHERE question_id = ?", [acoustic["id"]]).fetchone()[0]
    at = app("views/questions.py")
    at.selectbox(key="questions_pick").set_value("acoustic").run()
    prefix = f"questions_{acoustic['id']}"
    at.text_input(key=f"{prefix}_text").set_value("Any acoustic instruments at all?")
    at.checkbox(key=f"{prefix}_active").uncheck()
    at.button[[b.label for b in at.button].index("Save changes")].click().run()
    assert not at.exception
    after = questions_db.get_question(db, "acoustic")
    assert after["text"] == "Any acoustic instruments at all?" and not after["active"]
    assert db.execute("SELECT COUNT(*) FROM answers WHERE question_id = ?", [acoustic["id"]]).fetchone()[0] == before
    assert questions_db.revisions(db, acoustic["id"])[-1]["text"] == acoustic["text"]


def test_edited_rule_changes_haverfords_verdict(demo_copy):
    db = demo_copy.connect()
    bpm = questions_db.get_question(db, "bpm")
    questions_db.update_question(db, bpm["id"], rule={"banger_min": 130, "banger_max": 180})
    tab = browser(app("views/label.py"))
    tab.answer(bpm=128, drops=2, drop_dopeness=9, acoustic=0)
    assert tab.data["decision"]["text"] == "Haverford's algorithm says: Not a banger (bpm 128 < 130)"


def test_adding_a_question_shows_it_when_labelling(demo_copy):
    at = app("views/questions.py")
    at.text_input(key="questions_add_key").set_value("vocals")
    at.text_input(key="questions_add_text").set_value("Any vocals?")
    at.selectbox(key="questions_add_kind").set_value("yes_no")
    at.button[[b.label for b in at.button].index("Add question")].click().run()
    assert not at.exception
    assert questions_db.get_question(demo_copy.connect(), "vocals")["kind"] == "yes_no"
    tab = browser(app("views/label.py"))
    assert {"key": "vocals", "text": "Any vocals?", "kind": "yes_no"}.items() <= tab.data["questions"][-1].items()
    seg = tab.current
    tab.label("banger", vocals=1)
    assert _latest(demo_copy, seg, "carol") == {"vocals": 1, "verdict": "banger"}


def test_bad_question_key_is_one_line_error(demo_copy):
    at = app("views/questions.py")
    at.text_input(key="questions_add_key").set_value("Bad Key")
    at.text_input(key="questions_add_text").set_value("?")
    at.button[[b.label for b in at.button].index("Add question")].click().run()
    assert not at.exception
    assert "must be lower-case" in at.error[0].value
    # what was typed stays, to be corrected; a question that is added clears the form
    assert at.text_input(key="questions_add_key").value == "Bad Key"
    at.text_input(key="questions_add_key").set_value("good_key")
    at.button[[b.label for b in at.button].index("Add question")].click().run()
    assert not at.exception and at.text_input(key="questions_add_key").value == ""


def test_library_segments_filter_and_sort(demo_copy):
    db = demo_copy.connect()
    disputed = [r[0] for r in db.execute("""SELECT s.id FROM segments s JOIN segment_verdicts v ON v.segment_id = s.id
                                            WHERE v.banger_votes > 0 AND v.not_votes > 0 ORDER BY s.track_id, s.idx""")]
    assert disputed, "the demo has disputed segments"
    at = app("views/library.py", labeller="alice")
    at.segmented_control(key="library_status").set_value("disagreement").run()
    assert list(at.dataframe[-1].value["id"]) == disputed[:50]
    at.selectbox(key="library_sort").set_value("most_labellers").run()
    labellers = list(at.dataframe[-1].value["labellers"])
    assert labellers == sorted(labellers, reverse=True) and sorted(at.dataframe[-1].value["id"]) == sorted(disputed[:50])
    at.toggle(key="library_mine").set_value(True).run()
    mine = {r[0] for r in db.execute("SELECT DISTINCT segment_id FROM answers WHERE labeller = 'alice'")}
    assert set(at.dataframe[-1].value["id"]) <= mine and not at.exception


def test_library_imports_a_server_folder_and_lists_errors(demo_copy, tmp_path):
    import numpy as np
    import soundfile as sf

    folder = tmp_path / "incoming" / "banger"
    folder.mkdir(parents=True)
    sf.write(folder / "tone.wav", 0.3 * np.sin(np.arange(22050 * 11) * 0.05).astype("float32"), 22050)
    (folder / "broken.wav").write_bytes(b"not audio")
    at = app("views/library.py")
    at.text_input(key="library_path").set_value(str(tmp_path / "incoming")).run()
    at.button(key="library_import_path").click().run()
    assert not at.exception
    assert "Imported 1 track (2 segments)" in texts(at)
    assert "1 file not imported" in texts(at)




def test_the_clip_figure_is_small_with_hz_on_a_log_axis(demo_home):
    import plotly.io as pio

    from haverford.dashboard import clip
    from haverford.db import tracks as tracks_db

    seg = tracks_db.get_segment(demo_home.connect(), 1)
    fig = clip.clip_figure(seg["path"], offset=seg["start_s"], duration=5.0)
    layout = fig["layout"]
    assert layout["yaxis"]["type"] == "log" and layout["xaxis"]["title"]["text"] == "time (s)"
    assert layout["images"][0]["source"].startswith("data:image/png;base64,")
    assert fig["data"][0]["marker"]["colorbar"]["title"]["text"] == "dB"
    assert len(pio.to_json(fig, validate=False)) < 150_000  # picture and waveform envelope


def test_tempo_suggestion_finds_a_click_track():
    import numpy as np

    sr, bpm = 22050, 120
    y = np.zeros(5 * sr, dtype=np.float32)
    for t in np.arange(0, 5, 60 / bpm):
        y[int(t * sr):int(t * sr) + 300] = np.hanning(300)
    assert tempo.suggest_tempo(y) == pytest.approx(bpm, rel=0.05)
    assert tempo.suggest_tempo(np.zeros(5 * sr, dtype=np.float32)) is None


def test_library_imports_uploaded_files_under_the_home(demo_copy, tmp_path):
    import io

    import numpy as np
    import soundfile as sf

    good, other = io.BytesIO(), io.BytesIO()
    sf.write(good, 0.3 * np.sin(np.arange(22050 * 6) * 0.07).astype("float32"), 22050, format="WAV")
    sf.write(other, 0.3 * np.sin(np.arange(22050 * 6) * 0.05).astype("float32"), 22050, format="WAV")
    at = app("views/library.py")
    at.file_uploader(key="library_upload").set_value([("../my song.wav", good.getvalue(), "audio/wav"),
                                                       ("测试.wav", other.getvalue(), "audio/wav"),
                                                       ("bad.wav", b"not audio", "audio/wav")]).run()
    at.button(key="library_import_upload").click().run()
    assert not at.exception
    assert "Imported 2 tracks (2 segments)" in texts(at)
    assert "1 file not imported" in texts(at)
    # saved under safe unique names (issue 10), the original names kept as titles; the failed one deleted
    names = sorted(p.name for p in demo_copy.uploads_dir.iterdir())
    assert len(names) == 2 and all(n.startswith("upload-") and n.endswith(".wav") and n.isascii() for n in names)
    titles = {r[0] for r in demo_copy.connect().execute("SELECT title FROM tracks WHERE path LIKE ?",
                                                         [f"{demo_copy.uploads_dir}%"])}
    assert titles == {"my song", "测试"}


def test_a_disagreement_opens_its_clip_and_goes_to_labelling(demo_copy):
    db = demo_copy.connect()
    seg = db.execute("SELECT segment_id FROM segment_verdicts WHERE banger_votes > 0 AND not_votes > 0").fetchone()[0]
    at = app("views/agreement.py", agreement_segment=seg)
    assert "segment 1 of" in texts(at) or " of " in texts(at)
    at.button(key="agreement_label").click().run()
    assert not at.exception
    assert at.session_state["label_segment"] == seg
    assert at.title[0].value == "Label"


def test_ambiguous_button_leaves_the_segment_out_of_the_classes(demo_copy):
    tab = browser(app("views/label.py"))
    seg = tab.current
    tab.label("ambiguous")
    assert _latest(demo_copy, seg, "carol") == {"verdict": "ambiguous"}
    row = demo_copy.connect().execute("SELECT ambiguous_votes FROM segment_verdicts WHERE segment_id = ?",
                                      [seg]).fetchone()
    assert row[0] == 1


def test_answers_sent_as_the_labeller_leaves_the_page_are_saved(demo_copy):
    """The view's last state reaches the server with the run of the next page, which does not draw
    the view (its state is dropped after that run): that run saves it."""
    tab = browser(app("views/label.py"))
    seg = tab.current
    tab.outbox.append({"id": "last", "segment": seg, "answers": {"drops": 3}, "verdict": "banger", "whole_track": False})
    tab.at.session_state["label_view"] = {"client": {"seq": tab.seq + 1, "at": None, "after": seg,
                                                     "outbox": tab.outbox}}
    tab.at.switch_page("views/questions.py").run()
    assert not tab.at.exception
    assert _latest(demo_copy, seg, "carol") == {"drops": 3, "verdict": "banger"}


def test_a_clip_opened_again_shows_haverfords_verdict_on_the_saved_answers(demo_copy):
    tab = browser(app("views/label.py"))
    seg = tab.current
    tab.label("banger", **HAVERFORDS_TEST)
    tab.go(seg)  # the form is filled with the saved answers: the line under it speaks of them
    assert tab.data["decision"]["text"].startswith("Haverford's algorithm says: Banger")


def test_agreement_tables_say_n_a_where_a_figure_is_undefined(demo_copy):
    db = demo_copy.connect()  # a second labeller on one segment only: too little to agree on
    db.execute("DELETE FROM answers WHERE labeller NOT IN (SELECT labeller FROM answers LIMIT 1)")
    seg, question, value = db.execute("SELECT segment_id, question_id, value FROM answers LIMIT 1").fetchone()
    db.execute("INSERT INTO answers (segment_id, question_id, labeller, value, created_at) "
               "VALUES (?, ?, 'zed', ?, '2026-12-07T00:00:00')", [seg, question, value])
    db.conn.commit()
    at = app("views/agreement.py")
    cells = {str(v) for table in at.dataframe for column in ("alpha", "mean_kappa", "kappa")
             if column in table.value for v in table.value[column]}
    assert "n/a" in cells and "None" not in cells and "nan" not in cells, cells
