"""Labelling at the speed of listening (issue 12), in Streamlit's AppTest and core: the labeller in
the URL, segment deep links, skip and queue choice, the tempo never holding up the page, the
spectrogram picker, the export button's content, new tracks scored at import, serve's chrome."""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from _app_pages import app_page, messages
from streamlit.testing.v1 import AppTest

from haverford.core import export, tempo
from haverford.core.predict import score_tracks
from haverford.dashboard import charts

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
    at.button(key="label_banger").click().run()
    moved = at.session_state["label_segment"]
    assert moved != 7 and at.query_params["segment"] == str(moved)


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
    at = label_page(params={"labeller": "donna"}, label_mode="most_uncertain")
    assert at.session_state["label_segment"] == 3
    at.button(key="label_skip").click().run()
    assert at.session_state["label_segment"] == 4
    at.button(key="label_skip").click().run()
    assert at.session_state["label_segment"] not in (3, 4)  # no bouncing between the two


def test_choosing_a_queue_jumps_to_its_first_segment(demo_copy):
    at = label_page(params={"labeller": "donna", "segment": "12"})
    at.segmented_control(key="label_mode").set_value("track_order").run()
    first = demo_copy.connect().execute("SELECT id FROM segments ORDER BY track_id, idx LIMIT 1").fetchone()[0]
    assert at.session_state["label_segment"] == first


def test_the_form_does_not_wait_for_the_tempo_estimate(demo_copy, monkeypatch):
    from concurrent.futures import Future

    pending = Future()  # an estimate still running
    monkeypatch.setattr(tempo, "tempo_job", lambda path, **kw: pending)
    at = label_page(params={"labeller": "donna"})
    seg = at.session_state["label_segment"]
    assert at.button(key="label_banger")  # the form and its buttons are there while the estimate runs
    assert "Suggest the tempo (librosa's estimate)" in [b.label for b in at.button]
    pending.set_result(127.6)
    at.run()
    at.button(key=f"label_{seg}_bpm_suggest").click().run()
    assert at.number_input(key=f"label_{seg}_bpm").value == 128


def test_the_tempo_job_estimates_a_click_track(tmp_path):
    from conftest import clicks, write_audio

    path = write_audio(tmp_path / "clicks.wav", clicks(120.0, seconds=10.0))
    bpm = tempo.tempo_job(str(path), offset=0.0, duration=5.0).result(timeout=120)
    assert bpm == pytest.approx(120, abs=4)


@pytest.mark.parametrize("feature", ["log_stft", "log_mel"])
def test_the_spectrogram_picker_draws_the_chosen_feature(demo_copy, feature):
    at = label_page(params={"labeller": "donna"}, clip_feature=feature)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["title"]["text"] == charts.SPECTROGRAM_TITLES[feature]
    assert spec["layout"]["images"][0]["source"].startswith("data:image/png;base64,")
    marker = spec["data"][0]["marker"]
    assert marker["colorscale"][0][1] == "#000000" and marker["cmin"] == -80  # the -80 dB floor is black: silence
    assert "silence" in marker["colorbar"]["ticktext"][0]


def test_no_colour_of_the_clip_view_is_one_streamlit_repaints(demo_copy):
    # Streamlit's browser code replaces #000001 to #000040 in a chart with its theme's colours: the
    # floor of Magma (#000004) was drawn violet.
    at = label_page(params={"labeller": "donna"})
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
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
    at = label_page(params={"labeller": "donna", "segment": "5"})
    header = next(m.value for m in at.markdown if "segment" in m.value and "s" in m.value and "–" in m.value)
    assert ":gray-badge[:material/volume_off: silent]" in header
    assert "below -60 dBFS" in messages(at)
    at.button(key="label_segment_next").click().run()  # segment 6 is not silent
    assert "silent]" not in " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize("mode", ["unlabelled_by_me", "random"])
def test_the_clip_prepared_in_the_background_is_the_one_shown_next(demo_copy, monkeypatch, mode):
    from haverford.dashboard import clip

    prepared = []
    monkeypatch.setattr(clip, "prefetch", lambda find: prepared.append(find()))
    at = label_page(params={"labeller": "donna"}, label_mode=mode)
    at.button(key="label_banger").click().run()
    assert prepared[0]["id"] == at.session_state["label_segment"]
    at.button(key="label_skip").click().run()
    assert prepared[1]["id"] == at.session_state["label_segment"]


def test_prefetch_leaves_the_clip_in_the_caches(demo_copy, monkeypatch):
    from haverford.dashboard import clip

    seg = demo_copy.connect().execute("SELECT s.start_s, t.path FROM segments s JOIN tracks t ON t.id = s.track_id "
                                 "WHERE s.id = 9").fetchone()
    built = []
    real = charts.clip_figure
    monkeypatch.setattr(charts, "clip_figure", lambda *a, **kw: built.append(1) or real(*a, **kw))
    segment = {"path": seg[1], "start_s": seg[0], "end_s": seg[0] + 5.0}
    clip.clip_figure.clear()  # other tests showed this segment (the copies of the demo share its audio)
    clip.prefetch(lambda: segment).result(timeout=60)
    assert built == [1]
    fig = clip.clip_figure(seg[1], offset=seg[0], duration=5.0, feature="log_stft")
    assert built == [1] and fig["layout"]["images"]  # shown from the cache, not computed again


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


def test_the_key_script_survives_st_htmls_sanitiser():
    """DOMPurify (SAFE_FOR_XML) removes a <script> whose text has '<' before a letter, '/' or '!'."""
    import re

    text = (resources.files("haverford.dashboard") / "keys.js").read_text(encoding="utf-8")
    assert not re.findall(r"<[/\w!]", text)
