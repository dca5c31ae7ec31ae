"""End to end in a real headless Chromium: `haverford serve` on a demo home, label with the keyboard.

Needs Debian's chromium at /usr/bin/chromium and Playwright's Python package (`.ci/run` installs
both); screenshots of every page go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from haverford.core.home import Home

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1400, "height": 1000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"dashboard did not answer at {url}")


def need_chromium() -> None:
    """Skip where Debian's Chromium or Playwright is missing (``.ci/run`` installs both)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")


@contextlib.contextmanager
def serving(home: Path, *, stderr=subprocess.DEVNULL) -> Iterator[str]:
    """`haverford serve` on ``home`` at a free loopback port; yields its URL, then ends the server
    (it runs streamlit as a child: the whole session is stopped)."""
    need_chromium()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "haverford.core.cli", "serve", "--port", str(port),
                             "--home", str(home)], stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        wait_for(f"http://localhost:{port}/_stcore/health")
        yield f"http://localhost:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def served(tmp_path_factory, demo_home):
    """A copy of the demo home served by `haverford serve` on a free port; yields (base url, home)."""
    need_chromium()
    from _train_home import copy_home

    home = copy_home(demo_home, tmp_path_factory.mktemp("browser"))
    with serving(home.path) as url:
        yield url, home


@contextlib.contextmanager
def chromium(*extra_args: str) -> Iterator:
    """Debian's Chromium, headless, driven by Playwright; yields the browser and closes it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(served):
    """One page, at 1400 x 1000, for the module's tests in order (a module imports this fixture
    and defines its own ``served``)."""
    with chromium() as browser:
        yield browser.new_context(viewport=VIEWPORT).new_page()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def idle(page) -> None:
    """Wait until the app has finished its rerun (Streamlit's running indicator is gone)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=30_000)


def verdicts_of(home: Home, labeller: str) -> list[tuple[int, str]]:
    sql = """SELECT a.segment_id, a.value FROM answers a JOIN questions q ON q.id = a.question_id
             WHERE q.role = 'verdict' AND a.labeller = ? ORDER BY a.id"""
    return [tuple(r) for r in home.connect().execute(sql, [labeller])]


def wait_saved(home: Home, labeller: str, count: int, timeout: float = 60.0) -> None:
    """Wait until ``labeller`` has ``count`` verdicts: the view saves in the background."""
    deadline = time.monotonic() + timeout
    while len(verdicts_of(home, labeller)) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def test_label_one_segment_with_the_keyboard_only(served, page):
    base, home = served
    page.goto(f"{base}/label")
    name = page.get_by_label("Your name (stored with your answers)")
    name.wait_for(timeout=30_000)
    name.fill("kbd")
    name.press("Enter")
    page.get_by_text("Haverford's algorithm needs").wait_for(timeout=30_000)
    page.wait_for_function("window.__haverfordKeys === true")
    page.evaluate("document.activeElement && document.activeElement.blur()")  # the name box had the focus
    shot(page, "label")
    page.keyboard.press("b")
    page.get_by_text("Saved (banger).").wait_for(timeout=20_000)
    page.get_by_text("segment 2 of").first.wait_for(timeout=20_000)  # shown at once, saved behind it
    wait_saved(home, "kbd", 1)
    assert verdicts_of(home, "kbd") == [(1, "banger")]
    page.keyboard.press("n")
    wait_saved(home, "kbd", 2)
    assert verdicts_of(home, "kbd") == [(1, "banger"), (2, "not_a_banger")]


def test_the_client_finds_the_server_without_probing_the_page_url(served, page):
    """Opened on /label, Streamlit's client used to probe /label/_stcore/health first (a 404, then a
    100 ms wait) before /_stcore/health; the served index.html now names the base."""
    base, _ = served
    health: list[str] = []

    def record(request) -> None:
        if request.url.split("?")[0].endswith("/_stcore/health"):
            health.append(request.url.removeprefix(base))

    page.on("request", record)
    try:
        page.goto(f"{base}/label?labeller=probe")
        page.get_by_text("How many beats per minute?").first.wait_for(timeout=30_000)
    finally:
        page.remove_listener("request", record)
    assert health and set(health) == {"/_stcore/health"}


def test_behind_a_proxys_path_prefix_the_label_page_plays_its_clip(served, page):
    """Found by an outside check: behind a prefix the page connected, but the label view fetched its
    audio and spectrogram from /media/… at the root (404s): a black picture, a silent player."""
    from _prefix_proxy import prefix_proxy

    base, _ = served
    failed: list[str] = []

    def record(response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    with prefix_proxy(int(base.rsplit(":", 1)[1]), "/hv") as port:
        page.on("response", record)
        try:
            page.goto(f"http://127.0.0.1:{port}/hv/label?labeller=proxied")
            page.wait_for_function("""(() => { const v = document.getElementById('hv-label');
                const audio = v && v.querySelector('audio'), img = v && v.querySelector('.hv-spec img');
                return !!audio && audio.readyState >= 2 && !!img && img.complete && img.naturalWidth > 0; })()""",
                                   timeout=60_000)
        finally:
            page.remove_listener("response", record)
    assert failed == []


@pytest.mark.parametrize("pathname,backend", [("/label", "/"), ("/", "/"), ("/hv/label", "/hv"), ("/hv", "/hv"),
                                              ("/hv/", "/hv"), ("/label/", "/label"), ("/label/label", "/label"),
                                              ("/not-a-page", "/not-a-page")])
def test_the_server_base_is_the_page_url_without_its_page(page, pathname, backend):
    """Behind a proxy's path prefix (/hv) too: only a last part naming a page is taken off, and not
    from a URL ending in / (the server redirects those for pages): /label/ is the root of a
    dashboard behind the prefix /label."""
    from haverford.dashboard.app import PAGES
    from haverford.dashboard.server import backend_base_script

    script = backend_base_script([p[0] for p in PAGES]).removeprefix("<script>").removesuffix("</script>")
    got = page.evaluate("""([script, pathname]) => {
        const window = {}; const location = {pathname, origin: 'http://host:8501'};
        eval(script); return window.__streamlit.BACKEND_BASE_URL; }""", [script, pathname])
    assert got == "http://host:8501" + backend


@pytest.mark.parametrize("path,marker", [("library", "Segments"), ("questions", "Add a question"),
                                         ("agreement", "Disagreements on the verdict"),
                                         ("train", "Retrain"), ("evaluate", "No model yet"),
                                         ("misclassified", "No model yet"), ("predict", "No model yet")])
def test_every_page_renders_in_chromium(served, page, path, marker):
    base, _ = served
    page.goto(f"{base}/" if path == "library" else f"{base}/{path}")
    page.get_by_text(marker).first.wait_for(timeout=30_000)
    idle(page)  # the page's run has ended (its charts sent) before the check and the screenshot
    assert page.locator("[data-testid='stException']").count() == 0
    shot(page, path)
