"""The Evaluate and Misclassified pages under AppTest: empty home, and a demo home with a trained tiny model."""

from pathlib import Path

import pytest
from _train_home import copy_home
from streamlit.testing.v1 import AppTest

from haverford.core import catalogue
from haverford.core.config import HOME_ENV
from haverford.db import answers as answers_db
from haverford.db import crosscheck as crosscheck_db
from haverford.db import evaluation as eval_db
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import reviews as reviews_db
from haverford.db import runs as runs_db

ROOT = Path(__file__).resolve().parents[1]
EVALUATE = str(ROOT / "dashboard" / "views" / "evaluate.py")
MISCLASSIFIED = str(ROOT / "dashboard" / "views" / "misclassified.py")


@pytest.fixture
def home(trained_demo_home, tmp_path, monkeypatch):
    h = copy_home(trained_demo_home, tmp_path)
    monkeypatch.setenv(HOME_ENV, str(h.path))
    return h


def run(page: str, **state) -> AppTest:
    at = AppTest.from_file(page, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page", [EVALUATE, MISCLASSIFIED])
def test_empty_home_says_what_to_do(page, tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "empty"))
    at = run(page)
    assert "No model yet" in at.info[0].value and "haverford train" in at.info[0].value


def test_misclassified_without_labels_says_so_and_offers_no_cross_check(tmp_path, monkeypatch):
    """A cross-check needs labels: an empty home gets no form that can only fail."""
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "empty"))
    at = run(MISCLASSIFIED)
    assert "no labelled segments" in at.info[0].value and "haverford ingest" in at.info[0].value
    assert not at.button


@pytest.mark.parametrize("page", ["views/evaluate.py", "views/misclassified.py"])
def test_pages_registered_in_the_app(home, page):
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(page).run()
    assert not at.exception and at.title[0].value in ("Evaluate", "Misclassified")


def test_evaluate_shows_metrics_figures_and_baselines_with_the_split(home):
    at = run(EVALUATE)
    assert len(at.metric) == 6 and len(at.get("plotly_chart")) == 5
    captions = " ".join(c.value for c in at.caption)
    assert captions.count("split by track") >= 3
    baselines = at.dataframe[0].value
    assert list(baselines["name"])[0] == "majority class" and list(baselines["name"])[-1] == "ConvNet"
    assert "Haverford's algorithm" in set(baselines["name"]) and {"labeller alice", "labeller bob"} <= set(baselines["name"])
    # no "None" or NaN cell: a figure a row lacks reads "—" (the majority class has no ROC AUC or model)
    assert not baselines.isna().any().any()
    majority = baselines.iloc[0]
    assert majority["roc_auc"] == "—" and majority["model_id"] == "—"
    assert baselines.iloc[-1]["accuracy"] == f"{float(baselines.iloc[-1]['accuracy']):.3f}"
    assert len(at.dataframe[1].value) >= 2  # per-track table


def test_every_per_track_row_links_to_its_first_segment_on_the_label_page(home):
    at = run(EVALUATE, app_labeller="donna")
    tracks = at.dataframe[1].value
    db = home.connect()
    for title, link in zip(tracks["title"], tracks["label_link"], strict=True):
        first = db.execute("SELECT s.id FROM segments s JOIN tracks t ON t.id = s.track_id WHERE t.title = ? "
                           "AND s.silent = 0 ORDER BY s.idx LIMIT 1", [title]).fetchone()[0]
        assert link == f"label?segment={first}&labeller=donna"


def test_threshold_slider_updates_the_numbers(home):
    at = run(EVALUATE)
    before = at.dataframe[0].value.iloc[-1]["note"]
    at.slider(key="eval_threshold").set_value(0.99).run()
    assert not at.exception
    assert before.endswith("threshold 0.5") and at.dataframe[0].value.iloc[-1]["note"].endswith("threshold 0.99")
    assert "threshold 0.99" in " ".join(c.value for c in at.caption)


def test_misclassified_lists_mistakes_and_relabels_with_a_reason(home):
    db = home.connect()
    model_id = models_db.active_model(db)["id"]
    at = run(MISCLASSIFIED, mis_threshold=0.999, app_labeller="tom")  # nearly everything "wrong"
    rows, totals = eval_db.misclassified(db, model_id, threshold=0.999, limit=200)
    assert totals["total"] > 0 and len(at.dataframe[0].value) == len(rows)
    assert at.get("plotly_chart")  # histogram on top (and the clip view's figures)
    seg = at.session_state["mis_segment"]
    assert seg == rows[0]["segment_id"]
    next(b for b in at.button if b.label == "Mark reviewed (no change)").click().run()
    assert progress_texts(at) == [f"Reviewed 1 of {totals['total']} misclassified segments"]
    at.selectbox(key=f"mis_segment_{seg}_reason").set_value("ambiguous")
    at.radio(key=f"mis_segment_{seg}_verdict").set_value("not_a_banger")
    next(b for b in at.button if b.label == "Save verdict and mark reviewed").click().run()
    assert not at.exception
    last = answers_db.history(db, seg)[-1]
    assert (last["labeller"], last["value"], last["note"]) == ("tom", "not_a_banger", "ambiguous")
    assert reviews_db.get_review(db, seg, model_id=model_id)["action"] == "not_a_banger (ambiguous)"
    # "label was wrong" is a correction: the segment takes the reviewer's verdict, whatever the votes before
    seg = at.session_state["mis_segment"]  # the page has moved on to the next segment of the list
    corrected = "banger" if db["segment_verdicts"].get(seg)["verdict"] != "banger" else "not_a_banger"
    at.selectbox(key=f"mis_segment_{seg}_reason").set_value("label was wrong")
    at.radio(key=f"mis_segment_{seg}_verdict").set_value(corrected)
    next(b for b in at.button if b.label == "Save verdict and mark reviewed").click().run()
    assert not at.exception
    assert db["segment_verdicts"].get(seg)["verdict"] == corrected


def test_the_panels_next_segment_opens_though_it_is_not_in_the_list(home):
    """Found by an outside check: Previous / Next (and the track strip) in the review panel opened a
    segment the list does not hold, and the page jumped back to the list's top row."""
    db = home.connect()
    model_id = models_db.active_model(db)["id"]
    rows, _ = eval_db.misclassified(db, model_id, threshold=0.5, limit=200)
    listed = {r["segment_id"] for r in rows}
    outside = [(r["segment_id"], nxt) for r in rows
               if (nxt := catalogue.neighbours(db, r["segment_id"])[1]) is not None and nxt not in listed]
    assert outside  # the fixture's model gets some segments right next to ones it gets wrong
    seg, nxt = outside[0]
    at = run(MISCLASSIFIED, mis_segment=seg)
    assert at.session_state["mis_segment"] == seg
    at.button(key="mis_segment_next").click().run()
    assert not at.exception and at.session_state["mis_segment"] == nxt
    segment = catalogue.get_segment(db, nxt)
    assert any(f"segment {segment['idx'] + 1} of" in m.value for m in at.markdown)
    at.run()  # and it stays open on the next run
    assert at.session_state["mis_segment"] == nxt


def test_a_tables_kept_selection_does_not_undo_the_clip_views_moves(monkeypatch):
    """Library, Agreement and Misclassified: a table keeps its selected row from run to run, and
    applying it every run sent Previous / Next and the strip back to that row."""
    from haverford.dashboard import clip

    state: dict = {}
    monkeypatch.setattr(clip.st, "session_state", state)
    clip.follow_table("seg", "table", 7)  # a row is selected
    assert state["seg"] == 7
    clip._go("seg", 8)  # Next segment
    clip.follow_table("seg", "table", 7)  # the next run: the table still holds row 7
    assert state["seg"] == 8 and clip.showing("seg", {7})  # kept open though the list holds only 7
    clip.follow_table("seg", "table", 9)  # another row
    assert state["seg"] == 9


def progress_texts(at: AppTest) -> list[str]:
    return [p.proto.text for p in at.get("progress")]


def test_cross_check_ranking_and_flips(home):
    db = home.connect()
    at = run(MISCLASSIFIED, mis_threshold=0.999)  # the model's mistakes: the review panel opens the top one
    top_mistake = at.session_state["mis_segment"]
    labelled = [r for r in models_db.labelled_segments(db) if r["segment_id"] != top_mistake]
    run_id, _ = runs_db.create_run(db, {"folds": 2}, created_by="t", kind="crosscheck")
    crosscheck_db.save_crosscheck_scores(db, run_id, [
        {"segment_id": r["segment_id"], "fold": i % 2, "label": int(r["verdict"] == "banger"), "p_banger": 0.5,
         "self_confidence": i / len(labelled), "is_issue": int(i < 3)} for i, r in enumerate(labelled)])
    runs_db.finish_run(db, run_id, "succeeded")
    at.segmented_control(key="mis_mode").set_value("crosscheck").run()  # the same session switches lists
    assert not at.exception and len(at.dataframe[0].value) == 3
    assert at.session_state["mis_segment"] == labelled[0]["segment_id"]  # the clip shown is this list's top
    assert "mis_conf" not in [s.key for s in at.slider]  # the model's confidence does not filter this list
    cancelled, _ = runs_db.create_run(db, {"folds": 2}, created_by="t", kind="crosscheck")
    runs_db.finish_run(db, cancelled, "cancelled", error="cancelled by a user")
    at.run()
    assert f"Cross-check run {cancelled} was cancelled" in " ".join(i.value for i in at.info)
    assert len(at.dataframe[0].value) == 3  # the last finished run's list stays
    at = run(MISCLASSIFIED, mis_mode="flips")
    assert "two model versions" in at.info[0].value


def test_without_a_model_the_cross_check_is_offered_and_lists_its_ranking(demo_copy):
    """The cross-check fits its own fold models: a labelled library without a trained one can run it."""
    db = demo_copy.connect()
    at = run(MISCLASSIFIED)
    assert "No model yet" in at.info[0].value and "needs no model" in at.info[0].value
    assert "Run cross-check" in [b.label for b in at.button] and not at.segmented_control
    labelled = models_db.labelled_segments(db)
    run_id, _ = runs_db.create_run(db, {"folds": 2}, created_by="t", kind="crosscheck")
    crosscheck_db.save_crosscheck_scores(db, run_id, [
        {"segment_id": r["segment_id"], "fold": i % 2, "label": int(r["verdict"] == "banger"), "p_banger": 0.5,
         "self_confidence": i / len(labelled), "is_issue": int(i < 3)} for i, r in enumerate(labelled)])
    runs_db.finish_run(db, run_id, "succeeded")
    at.run()
    assert not at.exception and len(at.dataframe[0].value) == 3
    assert at.session_state["mis_segment"] == labelled[0]["segment_id"]


def test_a_prediction_flip_opens_its_clip(home):
    db = home.connect()
    first = models_db.active_model(db)
    row = {k: first[k] for k in ("preset", "feature", "params", "labels_hash", "path", "curves", "metrics")}
    second = models_db.insert_model(db, {**row, "created_by": "t"})
    scores = models_db.predictions(db, first["id"])
    models_db.save_predictions(db, second, list(scores), [1.0 - p for p in scores.values()])
    at = run(MISCLASSIFIED, mis_mode="flips")
    flipped = eval_db.flips(db, first["id"], second, since=first["created_at"],
                            until=models_db.get_model(db, second)["created_at"])
    assert flipped and len(at.dataframe[0].value) == len(flipped)
    at.session_state["mis_segment"] = flipped[0]["segment_id"]
    at.run()
    assert not at.exception
    assert any(b.label == "Mark reviewed (no change)" for b in at.button)


@pytest.mark.parametrize("page", [EVALUATE, MISCLASSIFIED])
def test_pages_say_which_labels_and_offer_a_retrain_when_verdicts_moved(home, page):
    fresh = run(page)
    assert not any("Computed" in w.value for w in fresh.warning)
    assert any("no verdict changed since it was trained" in c.value for c in fresh.caption)
    db = home.connect()
    segment = models_db.labelled_segments(db)[0]
    other = "banger" if segment["verdict"] == "not_a_banger" else "not_a_banger"
    verdict = questions_db.verdict_question_id(db)
    for who in ("x1", "x2", "x3"):  # outvote the demo's two labellers on one segment
        answers_db.save_answers(db, [segment["segment_id"]], who, {verdict: other})
    moved = run(page)
    warning = " ".join(w.value for w in moved.warning)
    assert "since training 1 verdict changed" in warning and "Retrain" in warning
    assert any(b.label == "Retrain now" for b in moved.button)


def test_a_review_action_reads_in_words():
    from haverford.dashboard.review import action_text

    assert action_text("not_a_banger (label was wrong)") == "Not a banger (label was wrong)"
    assert action_text("banger") == "Banger"
    assert action_text("reviewed") == "reviewed"
