"""Labelling at the speed of listening (issue 12), in Streamlit's AppTest and core: the labeller in
the URL, segment deep links, skip and queue choice, the tempo never holding up the page, the
spectrogram picker, the export button's content, new tracks scored at import, serve's chrome."""

from __future__ import annotations

import io
import json
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from _app_pages import app_page, messages
from _label_browser import LabelBrowser
from streamlit.testing.v1 import AppTest

from haverford.core import export, tempo
from haverford.core.predict import score_tracks
from haverford.dashboard import charts
from haverford.dashboard.label_view import AHEAD

APP = str(resources.files("haverford.dashboard") / "app.py")


def label_page(*, params: dict | None = None, **state) -> AppTest:
    """The app opened on the Label page's URL with ``params`` in its query string."""
    return app_page("views/label.py", params=params, **state)


def test_the_labeller_comes_from_the_url_and_goes_back_into_it(demo_copy):
    at = label_page(params={"labeller": "donna"})
    assert at.session_state["app_labeller"] == "donna"
    assert "Enter your name" not in messages(at)
    at.sidebar.text_input(key="app_labeller_box").input("tom").run()
    assert at.session_state["app_labeller"] == "tom"
    assert at.query_params["labeller"] == "tom"


def test_a_segment_link_opens_that_segment_and_the_url_follows_the_clip(demo_copy):
    at = label_page(params={"labeller": "donna", "segment": "7"})
    assert at.session_state["label_segment"] == 7
    assert at.query_params["segment"] == "7"
    tab = LabelBrowser(at)
    assert tab.current == 7
    tab.label("banger")
    moved = tab.current
    assert moved != 7 and at.session_state["label_segment"] == moved and at.query_params["segment"] == str(moved)


def test_a_link_to_a_missing_segment_says_so(demo_copy):
    at = label_page(params={"labeller": "donna", "segment": "99999"})
    assert "No segment 99999 in this library" in messages(at)
    assert at.session_state["label_segment"] is not None  # the queue goes on


def test_label_this_segment_keeps_the_name(demo_copy):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["app_labeller"] = "donna"
    at.session_state["library_segment"] = 9
    at.run()
    at.button(key="library_label_it").click().run()
    assert not at.exception
    assert at.session_state["label_segment"] == 9
    assert "Enter your name" not in messages(at)


def test_segment_tables_link_to_the_label_page(demo_copy):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["app_labeller"] = "donna"
    at.run()
    table = at.dataframe[-1].value
    first = table.iloc[0]
    assert first["label_link"] == f"label?segment={first['id']}&labeller=donna"


def test_a_skipped_segment_leaves_every_queue_for_the_session(demo_copy):
    db = demo_copy.connect()
    model = db["models"].insert({"preset": "tiny", "feature": "log_mel", "created_at": "now", "active": 1}).last_pk
    ids = [r[0] for r in db.execute("SELECT id FROM segments WHERE id NOT IN "
                                    "(SELECT segment_id FROM answers WHERE labeller = 'donna')")]
    db["predictions"].insert_all({"model_id": model, "segment_id": s, "p_banger": 0.9} for s in ids)
    db.execute("UPDATE predictions SET p_banger = 0.5 WHERE segment_id IN (3, 4)")
    db.conn.commit()
    tab = LabelBrowser(label_page(params={"labeller": "donna"}, label_mode="most_uncertain"))
    assert tab.current == 3
    tab.skip()
    assert tab.current == 4
    tab.skip()
    assert tab.current not in (3, 4) and tab.current is not None  # no bouncing between the two
    assert not {3, 4} & {c["id"] for c in tab.data["clips"]}  # nor in the queue ahead


def test_choosing_a_queue_jumps_to_its_first_segment(demo_copy):
    at = label_page(params={"labeller": "donna", "segment": "12"})
    tab = LabelBrowser(at)
    assert tab.current == 12
    at.segmented_control(key="label_mode").set_value("track_order").run()
    tab.read()
    first = demo_copy.connect().execute("SELECT id FROM segments ORDER BY track_id, idx LIMIT 1").fetchone()[0]
    assert tab.current == first and at.session_state["label_segment"] == first


def test_the_form_does_not_wait_for_the_tempo_estimate(demo_copy, monkeypatch):
    from concurrent.futures import Future

    pending = Future()  # an estimate still running
    monkeypatch.setattr(tempo, "tempo_job", lambda path, **kw: pending)
    tab = LabelBrowser(label_page(params={"labeller": "donna"}))
    assert tab.clip["tempo"] is None and tab.data["pending"]  # the clip is there; the view asks again soon
    pending.set_result(127.6)
    assert tab.send().clip["tempo"] == 127.6  # the view offers "Use suggested 128 BPM" (T)


def test_t_before_the_estimate_waits_for_it(demo_copy, monkeypatch):
    import threading
    from concurrent.futures import Future

    pending = Future()
    monkeypatch.setattr(tempo, "tempo_job", lambda path, **kw: pending)
    tab = LabelBrowser(label_page(params={"labeller": "donna"}))
    threading.Timer(0.5, pending.set_result, [127.6]).start()
    assert tab.send(want_tempo=tab.current).clip["tempo"] == 127.6


def test_the_tempo_job_estimates_a_click_track(tmp_path):
    from conftest import clicks, write_audio

    path = write_audio(tmp_path / "clicks.wav", clicks(120.0, seconds=10.0))
    bpm = tempo.tempo_job(str(path), offset=0.0, duration=5.0).result(timeout=120)
    assert bpm == pytest.approx(120, abs=4)


def test_the_spectrogram_picker_draws_the_chosen_feature(demo_copy):
    tab = LabelBrowser(label_page(params={"labeller": "donna"}))
    pictures = {}
    for feature in ("log_stft", "log_mel", "percussive_mel"):
        tab.feature = feature
        clip = tab.send().clip
        assert clip["title_feature"] == charts.SPECTROGRAM_TITLES[feature]
        pictures[feature] = clip["picture"]
    assert len(set(pictures.values())) == 3  # three pictures
    assert tab.at.session_state["clip_feature"] == "percussive_mel"  # kept for the session
    # the colour bar: black at the −80 dB floor (silence), Magma's light yellow at 0 dB
    assert tab.data["scale_css"].startswith("linear-gradient(to right, #000000 0.0%")
    assert tab.data["scale_css"].endswith("#fcfdbf 100.0%)")


def test_no_colour_of_the_clip_view_is_one_streamlit_repaints(demo_copy):
    # Streamlit's browser code replaces #000001 to #000040 in a chart with its theme's colours: the
    # floor of Magma (#000004) was drawn violet. (The Library, Agreement and Misclassified pages
    # draw the clip with Plotly.)
    at = app_page(None, params={"labeller": "donna"}, library_segment=5)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["meta"] == "clip"
    spec["layout"].pop("template", None)  # Streamlit's own template: its placeholders are meant
    ours = json.dumps(spec).lower()
    assert not [f"#{i:06d}" for i in range(1, 41) if f"#{i:06d}" in ours]


def test_the_spectrogram_picture_is_black_at_the_floor_and_bright_at_0_db():
    from PIL import Image

    S_db = np.full((4, 3), -80.0)
    S_db[3, 2] = 0.0  # the top row (highest frequency), last frame
    picture = Image.open(io.BytesIO(charts.spectrogram_png(S_db))).convert("RGB")
    assert picture.size == (3, 4)
    assert picture.getpixel((0, 3)) == (0, 0, 0)  # the lowest row is at the bottom, silent
    assert picture.getpixel((2, 0)) == tuple(charts.SPECTROGRAM_TABLE[-1])  # loudest: the scale's top


def test_a_silent_segment_says_so_in_the_clip_view(demo_copy):
    db = demo_copy.connect()
    db.execute("UPDATE segments SET silent = 1 WHERE id = 5")
    db.conn.commit()
    tab = LabelBrowser(label_page(params={"labeller": "donna", "segment": "5"}))
    assert tab.clip["silent"] is True  # the view shows a "silent" badge and says why
    assert tab.go(tab.clip["next_id"]).clip["silent"] is False  # segment 6 is not silent


def _until_ready(tab: LabelBrowser) -> LabelBrowser:
    """Ask again, as the view does while ``pending``, until the queue ahead is all there."""
    for _ in range(100):
        if len(tab.data["clips"]) == AHEAD + 1:
            return tab
        time.sleep(0.1)
        tab.send(poll=1)
    raise AssertionError(f"the queue ahead never came: {tab.data['clips']}")


@pytest.mark.parametrize("mode", ["unlabelled_by_me", "random"])
def test_the_queue_ahead_is_prepared_in_the_background_and_shown_next(demo_copy, mode, monkeypatch):
    from haverford.dashboard import label_view

    monkeypatch.setattr(label_view, "_prepared", label_view._Prepared())  # nothing prepared by other tests
    tab = LabelBrowser(label_page(params={"labeller": "donna"}, label_mode=mode))
    assert len(tab.data["clips"]) < AHEAD + 1 and tab.data["pending"]  # the first clip did not wait for them
    ahead = _until_ready(tab).ahead
    assert len(ahead) == AHEAD and all(c.get("audio") and c.get("picture") for c in tab.data["clips"])
    tab.label("banger")
    assert tab.current == ahead[0]  # shown from the browser's queue, without the server
    assert tab.at.session_state["label_segment"] == ahead[0]  # which followed
    assert [c["id"] for c in tab.data["clips"]][:AHEAD] == ahead  # the same queue ahead, one step on
    tab.skip()
    assert tab.current == ahead[1]


def test_a_clip_is_prepared_once(demo_copy, monkeypatch):
    from haverford.dashboard import label_view

    seg = demo_copy.connect().execute("SELECT s.start_s, t.path FROM segments s JOIN tracks t ON t.id = s.track_id "
                                      "WHERE s.id = 9").fetchone()
    built = []
    real = label_view._media
    monkeypatch.setattr(label_view, "_media", lambda *a: built.append(a) or real(*a))
    prepared = label_view._Prepared()
    key = (seg[1], seg[0], 5.0, "log_mel")
    prepared.submit(key)
    prepared.submit(key)  # already being prepared
    for _ in range(300):
        if prepared.get(key):
            break
        time.sleep(0.05)
    media = prepared.compute(key)
    assert built == [key] and media["png"].startswith(b"\x89PNG") and media["wav"].startswith(b"RIFF")


def test_the_export_button_holds_what_haverford_export_writes(demo_copy, tmp_path):
    for fmt in export.FORMATS:
        out = tmp_path / f"labels.{fmt}"
        rows = export.export_answers(demo_copy, out, fmt=fmt)
        assert rows > 0
        assert export.export_text(demo_copy, fmt=fmt).encode("utf-8") == out.read_bytes()
    with pytest.raises(export.HaverfordError, match="unknown export format 'xml'"):
        export.export_text(demo_copy, fmt="xml")


def test_the_library_page_offers_both_exports(demo_copy):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["app_labeller"] = "donna"
    at.run()
    keys = {b.proto.id for b in at.get("download_button")}
    assert len(keys) == 2 and not at.exception


def test_without_an_active_model_nothing_is_scored(demo_copy):
    ids = [r[0] for r in demo_copy.connect().execute("SELECT id FROM tracks")]
    assert score_tracks(demo_copy, ids) == {"model_id": None, "segments": 0, "skipped": 0}


def test_predict_page_without_a_model_says_what_to_do(demo_copy):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["app_labeller"] = "donna"
    at.run()
    at.switch_page("views/predict.py").run()
    assert not at.exception
    assert "No model yet" in messages(at)


def test_serve_hides_streamlits_developer_chrome(monkeypatch, tmp_path):
    from haverford.core import cli_serve

    calls = []

    class Dashboard:  # stands in for the Streamlit process: records its command, exits at once
        def __init__(self, cmd, env):
            calls.append(cmd)

        def wait(self):
            return 0

    monkeypatch.setattr(cli_serve.subprocess, "Popen", Dashboard)
    cli_serve.serve(tmp_path, port=8999)
    cmd = calls[0]
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "viewer"
    assert cmd[cmd.index("--runner.postScriptGC") + 1] == "false"  # no full collection after each rerun
    assert cmd[1:4] == ["-m", "haverford.dashboard.server", "run"]  # Streamlit, with the Label page warming up


def test_serve_stops_the_dashboard_when_its_terminal_closes(monkeypatch, tmp_path):
    """Found by an outside check: SIGHUP (a closed terminal, a dropped SSH session) stopped
    `haverford serve` and left its dashboard serving, an orphan."""
    import os
    import signal

    from haverford.core import cli_serve

    events = []

    class Dashboard:  # stands in for the Streamlit process
        def __init__(self, cmd, env):
            pass

        def terminate(self):
            events.append("terminate")

        def wait(self):
            os.kill(os.getpid(), signal.SIGHUP)  # the terminal closes while it serves
            return -15

    before = signal.getsignal(signal.SIGHUP)
    monkeypatch.setattr(cli_serve.subprocess, "Popen", Dashboard)
    cli_serve.serve(tmp_path, port=8998)
    assert events == ["terminate"] and signal.getsignal(signal.SIGHUP) == before


def test_the_served_static_folder_names_the_base_and_leaves_streamlits_own_alone(tmp_path):
    import shutil

    from haverford.dashboard.server import served_static_dir

    source = tmp_path / "streamlit-static"
    (source / "static" / "js").mkdir(parents=True)
    (source / "static" / "js" / "index.js").write_text("export {}")
    (source / "favicon.png").write_bytes(b"png")
    index = '<html><head><title>Streamlit</title>\n<script type="module" src="./static/js/index.js"></script>\n</head></html>'
    (source / "index.html").write_text(index)
    served = served_static_dir(source, tmp_path / "served" / "static", ["label"])
    html = (served / "index.html").read_text()
    assert html.index("window.__streamlit = {BACKEND_BASE_URL") < html.index('<script type="module"')
    assert html.replace(html[html.index("<script>(()"):html.index('<script type="module"')], "") == index
    assert {e.name for e in served.iterdir()} == {"index.html", "static", "favicon.png"}
    assert (served / "static" / "js" / "index.js").read_text() == "export {}"
    shutil.rmtree(tmp_path / "served")  # as at the server's exit: the links go, Streamlit's files stay
    assert (source / "static" / "js" / "index.js").exists() and (source / "index.html").read_text() == index


def test_the_tempo_worker_warms_up_on_a_click_track():
    assert tempo.warm().result(timeout=120) == pytest.approx(120, abs=4)


def test_serve_on_a_taken_port_is_one_line(tmp_path):
    import socket

    from haverford.core import cli_serve
    from haverford.core.errors import HaverfordError

    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HaverfordError, match=f"port {port} on localhost is not available"):
            cli_serve.serve(tmp_path, port=port)


def test_segment_scores_figure_marks_each_segment():
    fig = charts.segment_scores_figure([{"index": 0, "start_s": 0.0, "p_banger": 0.8},
                                        {"index": 1, "start_s": 5.0, "p_banger": 0.2}])
    bars = fig["data"][0]
    assert bars["y"] == [0.8, 0.2]
    assert bars["marker"]["color"] == [charts.VERDICT_COLOURS["banger"], charts.VERDICT_COLOURS["not_a_banger"]]
    assert np.isclose(fig["layout"]["shapes"][0]["y0"], 0.5)


@pytest.mark.slow
def test_tracks_imported_while_a_model_is_active_are_scored(trained_demo_home, tmp_path):
    from _train_home import copy_home
    from conftest import clicks, write_audio

    from haverford.core.cli import main

    home = copy_home(trained_demo_home, tmp_path)
    new = write_audio(tmp_path / "new" / "fresh.wav", clicks(126.0, seconds=16.0))
    assert main(["ingest", str(new), "--home", str(home.path), "--json"]) == 0
    db = home.connect()
    track = db.execute("SELECT id FROM tracks WHERE path = ?", [str(Path(new).resolve())]).fetchone()[0]
    sql = """SELECT COUNT(*) FROM predictions p JOIN segments s ON s.id = p.segment_id
             JOIN models m ON m.id = p.model_id AND m.active = 1 WHERE s.track_id = ?"""
    assert db.execute(sql, [track]).fetchone()[0] == 3


def test_a_queue_chosen_right_after_a_key_is_not_undone_by_that_key(demo_copy):
    """The browser's → reaches the server in the same run as the click on another queue: the
    click came later, so the queue's first segment is shown, not the one → went to."""
    at = label_page(params={"labeller": "donna", "segment": "12"})
    tab = LabelBrowser(at)
    tab.seq += 1  # → pressed: the browser shows 13 and its state says so...
    tab.current = 13
    at.session_state["label_view"] = {"client": {"seq": tab.seq, "at": 13, "outbox": [], "skipped": []}}
    at.segmented_control(key="label_mode").set_value("track_order").run()  # ...sent with this click's run
    tab.read()
    first = demo_copy.connect().execute("SELECT id FROM segments ORDER BY track_id, idx LIMIT 1").fetchone()[0]
    assert tab.current == first and at.session_state["label_segment"] == first


def test_the_label_views_frequency_labels_sit_where_a_tone_is():
    """A 1 kHz tone lights the picture's row at the height of the "1k" label."""
    from PIL import Image

    from haverford.core import features
    from haverford.core.config import SR

    t = np.arange(SR) / SR
    y = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    picture = charts.clip_picture(y, features.compute("log_stft", y)[0])
    rows = np.asarray(Image.open(io.BytesIO(picture["png"])).convert("L"), dtype=float).mean(axis=1)
    brightest = (len(rows) - 1 - int(rows.argmax()) + 0.5) / len(rows)  # as a fraction from the bottom
    ticks = dict((label, f) for f, label in picture["freq_ticks"])
    assert list(ticks) == ["50", "100", "200", "500", "1k", "2k", "5k", "10k"]
    assert brightest == pytest.approx(ticks["1k"], abs=2 / len(rows))
    lo, hi = picture["env"]
    assert max(hi) == 50 and min(lo) == -50  # the envelope in hundredths of full scale
    assert picture["t0"] < 0 < 1 < picture["t1"] < 1.05
