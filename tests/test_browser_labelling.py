"""Labelling at the speed of listening, end to end in a real headless Chromium (issue 12): the
labeller survives a reload, a segment link opens its clip, 20 segments labelled with the whole
questionnaire from the keyboard alone, the Export button's file, the Predict page on a generated
track, and a server log free of deprecation warnings.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _train_home import copy_home
from test_browser import VIEWPORT, chromium, idle, need_chromium, serving, shot

from haverford.core import export, queues
from haverford.core.home import Home

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(tmp_path_factory, trained_demo_home):
    """A demo home with a tiny trained model, served by `haverford serve`; yields (url, home, log)."""
    need_chromium()
    root = tmp_path_factory.mktemp("browser-labelling")
    home = copy_home(trained_demo_home, root)
    log = root / "serve.log"
    with open(log, "wb") as err, serving(home.path, stderr=err) as url:
        yield url, home, log


@pytest.fixture(scope="module")
def browser():
    with chromium("--autoplay-policy=no-user-gesture-required") as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    # generous: a shared 2-core machine can take tens of seconds for a rerun; a timeout only
    # decides how long a real failure takes to report
    page.set_default_timeout(120_000)
    yield page
    context.close()


def answers_of(home: Home, labeller: str) -> dict[int, dict]:
    sql = """SELECT a.segment_id, q.key, a.value FROM answers a JOIN questions q ON q.id = a.question_id
             WHERE a.labeller = ? ORDER BY a.id"""
    out: dict[int, dict] = {}
    for segment_id, key, value in home.connect().execute(sql, [labeller]):
        out.setdefault(segment_id, {})[key] = value
    return out


def form_ready(page) -> None:
    """The label view is mounted, its keys live and a clip shown with its spectrogram and audio."""
    page.wait_for_function("window.__haverfordKeys === true", timeout=120_000)
    page.wait_for_function(READY, timeout=120_000)


SHOWN = "document.getElementById('hv-label').dataset.segment"
READY = """(() => { const v = document.getElementById('hv-label'); if (!v || !v.dataset.segment) return false;
  const audio = v.querySelector('audio'), img = v.querySelector('.hv-spec img');
  return !!audio && audio.readyState >= 2 && !!img && img.complete && img.naturalWidth > 0; })()"""


def test_reload_keeps_the_labeller(served, page):
    base, _, _ = served
    page.goto(f"{base}/")
    box = page.get_by_label("Your name (stored with your answers)")
    box.wait_for(timeout=30_000)
    box.fill("reloader")
    box.press("Enter")
    page.wait_for_url("**labeller=reloader**", timeout=20_000)
    page.reload()
    page.get_by_label("Your name (stored with your answers)").wait_for(timeout=30_000)
    idle(page)
    assert page.get_by_label("Your name (stored with your answers)").input_value() == "reloader"
    page.goto(f"{base}/label?labeller=reloader")  # a new tab or a bookmark
    form_ready(page)
    assert page.get_by_text("Enter your name in the sidebar first").count() == 0


def test_a_segment_link_opens_that_clip(served, page):
    base, home, _ = served
    row = home.connect().execute("SELECT s.idx, t.title FROM segments s JOIN tracks t ON t.id = s.track_id "
                                 "WHERE s.id = 6").fetchone()
    page.goto(f"{base}/label?labeller=linker&segment=6")
    form_ready(page)
    assert page.get_by_text(f"segment {row[0] + 1} of").count() >= 1
    assert page.get_by_text(row[1]).count() >= 1
    assert "segment=6" in page.url


def test_clicking_the_track_strip_opens_that_segment(served, page):
    """A click on a cell of the strip, in the verdict row or in the model's P(banger) row, opens
    that segment (the URL follows); clicking the segment already shown changes nothing."""
    base, home, _ = served
    db = home.connect()
    track = db.execute("SELECT track_id FROM segments WHERE id = 6").fetchone()[0]
    ids = [r[0] for r in db.execute("SELECT id FROM segments WHERE track_id = ? ORDER BY idx", [track])]
    assert len(ids) >= 4
    page.goto(f"{base}/label?labeller=stripper&segment={ids[3]}")
    form_ready(page)
    assert page.locator(".hv-scores div").count() == len(ids)  # the trained model's row
    bpm = page.get_by_label("How many beats per minute?")
    # earlier segments: never in the queue ahead, so the view fetches each from the server
    for row, idx in (("score", 0), ("verdict", 2), ("score", 2)):
        cells = page.locator(".hv-scores div" if row == "score" else ".hv-strip:not(.hv-scores) div")
        cells.nth(idx).click()
        page.wait_for_function(f"{SHOWN} === '{ids[idx]}'", timeout=60_000)
        page.wait_for_function(READY, timeout=60_000)
        bpm.wait_for(timeout=60_000)  # the questionnaire too, once the clip's data came
        assert page.get_by_text(f"segment {idx + 1} of").count() >= 1
        page.wait_for_url(f"**segment={ids[idx]}**", timeout=60_000)
    assert page.locator(".hv-strip:not(.hv-scores) div.hv-here").get_attribute("data-segment") == str(ids[2])
    # another spectrogram: a new picture, the same audio element (a playing clip plays on)
    page.keyboard.press(" ")
    page.wait_for_function("!document.querySelector('#hv-label audio').paused")
    old = page.evaluate("document.querySelector('#hv-label .hv-spec img').src")
    page.get_by_role("button", name="Log-mel", exact=True).click()
    page.wait_for_function(f"(() => {{ const img = document.querySelector('#hv-label .hv-spec img'); "
                           f"return img.src !== {old!r} && img.complete && img.naturalWidth > 0; }})()", timeout=60_000)
    assert page.get_by_text("Log-mel spectrogram").count() == 1
    assert page.evaluate("!document.querySelector('#hv-label audio').paused")
    assert page.locator("[data-testid='stException']").count() == 0


def type_keys(page, keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def focused(page, label: str) -> None:
    page.wait_for_function(f"document.activeElement.getAttribute('aria-label') === {label!r}")


def label_one_with_the_keyboard(page) -> None:
    """BPM 128, 2 drops, dopeness 7, no acoustic instruments, verdict banger: keys only, typed at
    a labeller's pace (no waiting for the server between keys)."""
    shown = page.evaluate(SHOWN)
    page.keyboard.press("1")  # a digit with no question chosen starts at the first (BPM)
    focused(page, "How many beats per minute?")
    type_keys(page, "28")
    page.keyboard.press("Enter")
    focused(page, "How many drops?")
    type_keys(page, "2")
    page.keyboard.press("Enter")  # dopeness is asked once drops > 0: the next question
    page.keyboard.press("7")
    page.keyboard.press("n")  # acoustic: no
    page.keyboard.press("b")
    page.wait_for_function(f"({SHOWN}) !== {shown!r}", timeout=60_000)  # the next clip is shown


def test_label_twenty_segments_with_the_questionnaire_from_the_keyboard(served, page):
    base, home, _ = served
    page.goto(f"{base}/label?labeller=keys")
    form_ready(page)
    shot(page, "label-keyboard")
    for _ in range(20):
        label_one_with_the_keyboard(page)
        form_ready(page)
    deadline = time.monotonic() + 60  # saved in the background
    while len(answers_of(home, "keys")) < 20 and time.monotonic() < deadline:
        time.sleep(0.2)
    answers = answers_of(home, "keys")
    assert len(answers) == 20
    assert all(a == {"bpm": 128, "drops": 2, "drop_dopeness": 7, "acoustic": 0, "verdict": "banger"}
               for a in answers.values()), answers


def test_the_export_button_downloads_the_cli_file(served, page):
    base, home, _ = served
    page.goto(f"{base}/?labeller=exporter")
    page.get_by_text("Export labels", exact=True).click()
    for fmt in export.FORMATS:
        with page.expect_download(timeout=30_000) as download:
            page.get_by_role("button", name=f"Export {fmt.upper()}").click()
        data = Path(download.value.path()).read_bytes()
        assert data == export.export_text(home, fmt=fmt).encode("utf-8")
        assert download.value.suggested_filename == f"haverford-labels.{fmt}"


def test_the_predict_page_classifies_a_generated_track(served, page, tmp_path):
    from conftest import clicks, write_audio

    base, home, _ = served
    tracks_before = home.connect().execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    track = write_audio(tmp_path / "new-banger.wav", clicks(128.0, seconds=21.0))
    page.goto(f"{base}/predict?labeller=predictor")
    page.get_by_text("Upload a file").first.wait_for(timeout=30_000)
    page.locator("input[type='file']").first.set_input_files(str(track))
    page.get_by_role("button", name="Classify").click()
    page.get_by_text("Verdict for new-banger.wav").wait_for(timeout=300_000)  # TensorFlow loads in the server
    page.get_by_text("P(banger) per 5-second segment").wait_for(timeout=30_000)
    shot(page, "predict")
    assert page.get_by_text("over 4 scored segments").count() == 1
    assert page.locator("[data-testid='stException']").count() == 0
    assert home.connect().execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == tracks_before


def test_the_clip_plays_replays_and_autoplays_from_the_keyboard(served, page):
    """Space plays and pauses, R replays from the start, ← / → move along the track, S skips, and
    a click on Streamlit's own widgets (the queue picker) leaves the keys working."""
    base, home, _ = served
    page.goto(f"{base}/label?labeller=player&segment=6")
    form_ready(page)
    audio = "document.querySelector('#hv-label audio')"
    page.keyboard.press(" ")
    page.wait_for_function(f"!{audio}.paused && {audio}.currentTime > 0.2")
    page.keyboard.press(" ")
    page.wait_for_function(f"{audio}.paused")
    page.keyboard.press("r")
    page.wait_for_function(f"!{audio}.paused && {audio}.currentTime < 1")
    page.keyboard.press(" ")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"{SHOWN} === '7'")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"{SHOWN} === '6'")
    page.wait_for_function(READY)
    page.get_by_label("Autoplay").check()
    db = home.connect()
    first = queues.next_segment(db, mode="track_order", labeller="player")
    second = queues.next_segment(db, mode="track_order", labeller="player", after=first, skipped={first})
    page.get_by_text("In track order", exact=True).click()  # a Streamlit button takes the click...
    page.wait_for_function(f"{SHOWN} === '{first}'", timeout=60_000)  # ...and its queue starts at its first
    page.wait_for_function(READY)
    page.wait_for_function(f"!{audio}.paused")  # autoplay
    page.keyboard.press("s")  # ...but not the keys
    page.wait_for_function(f"{SHOWN} === '{second}'", timeout=60_000)
    page.wait_for_function(READY)
    page.wait_for_function(f"!{audio}.paused")  # the next clip plays by itself too
    page.reload()
    form_ready(page)
    assert page.get_by_label("Autoplay").is_checked()  # the browser remembers it
    assert page.evaluate("document.querySelectorAll('#hv-label audio').length") == 1


def test_keys_never_save_what_the_labeller_did_not_mean(served, page):
    """Found by an outside check: Y then N on a yes/no question gave the verdict N; letters typed into
    a number box gave verdicts; a BPM out of range was dropped while the page said "Saved"; a reload
    right after a verdict reopened the clip just labelled."""
    base, home, _ = served
    page.goto(f"{base}/label?labeller=careful&segment=11")
    form_ready(page)
    type_keys(page, "qqqq")  # BPM, drops, acoustic (dopeness is not asked without drops), then past it
    page.keyboard.press("Shift+Tab")  # back to acoustic
    type_keys(page, "yn")  # yes, then no on second thought
    page.wait_for_timeout(300)
    assert answers_of(home, "careful") == {}  # N answered the question, it saved no verdict
    assert page.evaluate(f"{SHOWN}") == "11"
    page.get_by_label("How many beats per minute?").click()
    type_keys(page, "abc")  # a typo in a number box
    page.get_by_text("Numbers only in this box").wait_for()
    page.keyboard.press("Control+a")
    type_keys(page, "999")
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.get_by_text('"999" is not an answer to "How many beats per minute?"').wait_for()
    assert page.evaluate(f"{SHOWN}") == "11" and answers_of(home, "careful") == {}
    page.keyboard.press("Control+a")  # the box has the focus again
    type_keys(page, "128")
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.wait_for_function(f"{SHOWN} !== '11'")
    page.wait_for_url("**segment=**")
    shown = page.evaluate(SHOWN)
    assert f"segment={shown}" in page.url  # the URL follows at once...
    page.reload()
    form_ready(page)
    assert page.evaluate(SHOWN) == shown  # ...so a reload opens the next clip, not the one labelled
    deadline = time.monotonic() + 30
    while not answers_of(home, "careful") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert answers_of(home, "careful") == {11: {"bpm": 128, "acoustic": 0, "verdict": "banger"}}


def test_digits_typed_while_the_next_clip_loads_land_in_its_form(served, page):
    """Found by an outside check: a labeller ahead of the queue typed 1 2 8 while the next clip was
    loading, and the BPM box held "28" (the first digit, typed before the form existed, was lost)."""
    base, home, _ = served
    page.goto(f"{base}/label?labeller=quick&segment=30")
    form_ready(page)
    press = "(key) => document.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}))"
    # in one task, so that no server message comes between: past the queue ahead, then the digits
    head = page.evaluate(f"""() => {{ const press = {press};
        for (let i = 0; i < 8 && !/Finding|Loading/.test(document.querySelector('.hv-head').textContent); i++) press('b');
        const head = document.querySelector('.hv-head').textContent;
        for (const key of '128') press(key);
        return head; }}""")
    assert head in ("Finding the next segment…", "Loading the clip…")
    page.wait_for_function("(() => { const box = document.querySelector(\"#hv-label input[aria-label='How many "
                           "beats per minute?']\"); return box && box.value === '128'; })()", timeout=60_000)
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "How many beats per minute?"


def test_the_server_log_has_no_deprecation_warnings(served, page):
    """Last in this file: the tests above have run the Label, Library and Predict pages on this
    server; the pages they did not open are opened here, then the whole log is read."""
    base, _, log = served
    for path in ("agreement", "questions", "train", "evaluate", "misclassified"):
        page.goto(f"{base}/{path}?labeller=logger")
        page.locator("h1").first.wait_for()  # the page's run has begun...
        idle(page)  # ...and ended
    text = log.read_text(errors="replace")
    assert "use_container_width" not in text and "deprecat" not in text.lower(), text[-2000:]
