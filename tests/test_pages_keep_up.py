"""In a real headless Chromium: each page shows the result of the work it started, without a reload.

Retrain on the Train page → the model versions list; a cross-check on the Misclassified page →
its ranking; an import on the Library page → the counts; a new question → the questionnaire.
The browser never navigates between starting a job and seeing its result.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from test_browser import VIEWPORT, chromium, idle, need_chromium, serving, shot

from haverford.core.demo import build_demo
from haverford.core.home import Home

pytestmark = [pytest.mark.browser, pytest.mark.slow]
JOB_TIMEOUT_MS = 300_000  # a tiny Retrain or a 2-fold cross-check in a worker, on a busy 2-core machine


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A small labelled demo home (no model yet) served by `haverford serve`; yields (url, home)."""
    need_chromium()
    home = Home(tmp_path_factory.mktemp("keep-up") / "home")
    build_demo(home, n_tracks=8, seed=0)
    with serving(home.path) as url:
        yield url, home


@pytest.fixture(scope="module")
def page(served):
    with chromium() as browser:
        yield browser.new_context(viewport=VIEWPORT).new_page()


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox whose label is ``label``."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.get_by_role("option", name=option).first.click()
    idle(page)


def test_retrain_then_the_versions_list_shows_the_new_model(served, page):
    base, home = served
    page.goto(f"{base}/train")
    page.get_by_text("No model yet").wait_for(timeout=30_000)
    idle(page)
    choose(page, "Preset", "tiny: a toy network for trying the pipeline")
    page.get_by_role("button", name="Retrain").click()
    # outside the live fragment: appears only when the page reran by itself after the run ended
    page.get_by_text("Active model 1:").wait_for(timeout=JOB_TIMEOUT_MS)
    assert page.get_by_text("No model yet").count() == 0
    shot(page, "keep-up-train")


def test_a_cross_check_shows_its_ranking_when_it_finishes(served, page):
    base, home = served
    page.goto(f"{base}/misclassified")
    page.get_by_text("Model mistakes").first.wait_for(timeout=30_000)
    page.get_by_text("Cross-check: likely label errors").first.click()
    page.get_by_text("No cross-check yet").wait_for(timeout=30_000)
    idle(page)
    page.get_by_label("Folds (k)").fill("2")
    page.get_by_role("button", name="Run cross-check").click()  # the default: k-nearest neighbours
    page.get_by_text("segments scored out of fold").wait_for(timeout=JOB_TIMEOUT_MS)
    assert page.get_by_text("No cross-check yet").count() == 0
    assert page.get_by_text("k-nearest neighbours, 2 folds").count() == 1
    shot(page, "keep-up-crosscheck")


def test_an_import_from_the_page_updates_the_counts(served, page, tmp_path):
    base, home = served
    before = home.connect().execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    t = np.arange(22050 * 11) / 22050
    sf.write(tmp_path / "new-song.wav", (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 22050)
    page.goto(base)
    page.get_by_text("Hours of audio").wait_for(timeout=30_000)
    page.get_by_text("Import music").first.click()
    page.get_by_role("tab", name="Folder on the server").click()
    path_box = page.get_by_role("textbox", name="Folder or file path on the server")
    path_box.fill(str(tmp_path))
    path_box.press("Enter")
    idle(page)
    page.get_by_role("button", name="Import from path").click()
    page.get_by_text("Imported 1 track (").wait_for(timeout=120_000)
    idle(page)
    tracks_metric = page.get_by_test_id("stMetric").filter(has_text="Tracks").first
    assert tracks_metric.get_by_test_id("stMetricValue").inner_text().strip() == str(before + 1)


def test_a_new_question_shows_in_the_questionnaire(served, page):
    base, home = served
    page.goto(f"{base}/questions")
    page.get_by_text("Add a question").first.wait_for(timeout=30_000)
    page.get_by_label("Key (lower case").fill("vocals")
    page.get_by_test_id("stForm").filter(has_text="Add question").get_by_label("Question", exact=True).fill("Any vocals?")
    page.get_by_role("button", name="Add question").click()
    page.get_by_text("Added question vocals.").wait_for(timeout=30_000)
    idle(page)
    choose(page, "Question", "Any vocals?")  # the edit picker lists it without a reload
    # its edit form (while Streamlit swaps the old form for the new one, both can be on the page)
    page.get_by_text("Active (asked when labelling)").first.wait_for(timeout=30_000)
    page.wait_for_function("""Array.from(document.querySelectorAll('input[aria-label="Question"]'))
                              .some(e => e.value === 'Any vocals?')""", timeout=30_000)  # the add form was cleared
