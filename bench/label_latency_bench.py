"""Label page latency in a real browser, on a library of 100,000 segments (issue 12).

Builds the same temporary home as ``dashboard_bench.py`` (generated rows pointing at two real
WAV files), starts ``haverford serve`` on it and drives Debian's Chromium (headless, through
Playwright) like a labeller:

1. the first Label page after the server starts, in a browser new to the dashboard: from the
   navigation's start to the first animation frame with the questionnaire, a playable clip and
   its decoded spectrogram on the page, measured inside the page (Playwright's own figure, which
   its polling delays, beside it); ``--first-pages`` server starts, each with a new browser;
2. verdict key → next clip fully shown: ``b`` pressed, until the label view names a new segment,
   its audio element holds the new clip and is playable (``readyState`` ≥ 2), its spectrogram
   picture is a new one and decoded, and the BPM box is empty again (the form is reset).
   Measured by Playwright (key press to the frame it sees, its round trips included) and inside
   the page (the key event's time stamp to the first animation frame with all of that true).
   Prints every figure, p50 and p95, per press the server's CPU time and the time Chromium's
   main thread was busy, and checks that every verdict pressed was saved;
3. the first Label page again after ``haverford serve`` is restarted, in a new tab of the same
   browser: a labeller who has used Haverford before (Streamlit's scripts in the browser's caches),
   ``--first-pages`` times.

    python bench/label_latency_bench.py [--segments 100000] [--presses 60]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard_bench import build  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SHOWN = """() => {
  const view = document.getElementById('hv-label');
  const audio = view && view.querySelector('audio');
  const img = view && view.querySelector('.hv-spec img');
  const bpm = view && view.querySelector("input[aria-label='How many beats per minute?']");
  return {segment: view ? view.dataset.segment : null, src: audio ? audio.currentSrc : null,
          ready: audio ? audio.readyState : 0, picture: img && img.complete && img.naturalWidth > 0 ? img.src : null,
          bpm: bpm ? bpm.value : null};
}"""
NEXT_SHOWN = """(old) => {
  const s = (SHOWN)();
  return s.segment !== old.segment && s.src !== old.src && s.ready >= 2 && s.picture !== null
         && s.picture !== old.picture && s.bpm === '';
}""".replace("SHOWN", SHOWN)


IN_PAGE = """() => {
  window.__benchLatency = [];
  // on the window, in the capture phase: before the view's own listener (on the document) moves on
  window.addEventListener('keydown', (e) => {
    if (e.key !== 'b') return;
    const old = (SHOWN)();
    const check = () => {
      const s = (SHOWN)();
      if (s.segment !== old.segment && s.ready >= 2 && s.picture !== null && s.picture !== old.picture && s.bpm === '')
        window.__benchLatency.push(performance.now() - e.timeStamp);
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  }, true);
}""".replace("SHOWN", SHOWN)


def wait_healthy(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


FIRST_SHOWN = """(() => {
  // from the navigation's start (performance.now() is 0 there) to the first animation frame with
  // the questionnaire, a playable clip and its decoded spectrogram on the page
  const check = () => {
    const s = (SHOWN)();
    if (s.bpm !== null && s.ready >= 2 && s.picture !== null) window.__firstShown = performance.now();
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();""".replace("SHOWN", SHOWN)


def first_page(page, base: str) -> tuple[float, float]:
    """Seconds until the first Label page is shown: measured inside the page (from the navigation's
    start), and as Playwright sees it (from ``page.goto``; its polling adds up to half a second)."""
    page.add_init_script(FIRST_SHOWN)
    started = time.perf_counter()
    page.goto(f"{base}/label?labeller=bench")
    page.wait_for_function("window.__firstShown !== undefined", timeout=120_000, polling="raf")
    seen = time.perf_counter() - started
    return page.evaluate("window.__firstShown") / 1000, seen


def press_and_wait(page) -> tuple[float, float]:
    """Seconds from the key press until the view names the next segment, and until the next clip is
    fully shown (as Playwright sees them, its round trips included)."""
    old = page.evaluate(SHOWN)
    started = time.perf_counter()
    page.keyboard.press("b")
    try:
        page.wait_for_function(f"(old) => ({SHOWN})().segment !== old.segment", arg=old, timeout=60_000,
                               polling="raf")
        named = time.perf_counter() - started
        page.wait_for_function(NEXT_SHOWN, arg=old, timeout=60_000, polling="raf")
    except Exception:
        shot = Path(tempfile.gettempdir()) / "label-latency-bench-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"the next clip never showed: before {old}, now {page.evaluate(SHOWN)}; screenshot {shot}",
              file=sys.stderr)
        raise
    return named, time.perf_counter() - started


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and all its descendants (Linux ``/proc``): the
    server's work per press, which the machine's load does not inflate."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    tree, total = {pid}, 0.0
    for _ in range(4):  # serve → Streamlit → tempo worker
        tree |= {p for p, (ppid, _) in stats.items() if ppid in tree}
    for p in tree:
        total += stats.get(p, (0, 0.0))[1]
    return total


def main_thread_busy(cdp) -> float:
    """Seconds the page's main thread has spent running tasks so far (Chromium's ``TaskDuration``)."""
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")


def serve(home: Path, port: int) -> subprocess.Popen:
    script = Path(sys.executable).with_name("haverford")
    return subprocess.Popen([str(script), "serve", "--port", str(port), "--home", str(home)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def saved_verdicts(home, labeller: str, *, expect: int, timeout: float = 60.0) -> int:
    """How many verdicts ``labeller`` has once ``expect`` are in (or ``timeout`` has passed): the
    view saves in the background, so the bench waits for its last records."""
    sql = """SELECT COUNT(*) FROM answers a JOIN questions q ON q.id = a.question_id
             WHERE q.role = 'verdict' AND a.labeller = ?"""
    deadline = time.monotonic() + timeout
    while True:
        n = home.connect().execute(sql, [labeller]).fetchone()[0]
        if n >= expect or time.monotonic() > deadline:
            return n
        time.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def restarted(proc: subprocess.Popen | None, home: Path, port: int) -> tuple[subprocess.Popen, float]:
    """``haverford serve`` (again), and the seconds until it reported healthy."""
    if proc is not None:
        stop(proc)
    started = time.perf_counter()
    proc = serve(home, port)
    wait_healthy(f"http://localhost:{port}/_stcore/health")
    return proc, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5, help="presses not counted (first clips, caches)")
    parser.add_argument("--first-pages", type=int, default=5,
                        help="server starts measured, for each kind of first page (default 5)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="haverford-label-bench-") as tmp:
        t = time.perf_counter()
        home = build(Path(tmp), args.segments)
        print(f"built {args.segments} segments in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        port = 8765
        base = f"http://localhost:{port}"
        proc = None
        try:
            with sync_playwright() as p:
                new_browser, healthy = [], []
                for _ in range(args.first_pages):  # each time a new server and a browser new to it
                    proc, seconds = restarted(proc, home.path, port)
                    healthy.append(seconds)
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # one cache
                    page = context.new_page()
                    new_browser.append(first_page(page, base))
                    if len(new_browser) < args.first_pages:
                        browser.close()
                page.wait_for_function("window.__haverfordKeys === true")
                page.wait_for_timeout(500)
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                page.evaluate(IN_PAGE)
                times = [press_and_wait(page) for _ in range(args.warmup)]
                cpu, busy = tree_cpu_seconds(proc.pid), main_thread_busy(cdp)
                times = [press_and_wait(page) for _ in range(args.presses)]
                cpu, busy = tree_cpu_seconds(proc.pid) - cpu, main_thread_busy(cdp) - busy
                in_page = page.evaluate("window.__benchLatency")[args.warmup:]
                pressed = args.warmup + args.presses
                saved = saved_verdicts(home, "bench", expect=pressed)
                page.close()
                returning = []
                for _ in range(args.first_pages):  # a new server, a new tab of a browser that has used it
                    proc, _seconds = restarted(proc, home.path, port)
                    tab = context.new_page()
                    returning.append(first_page(tab, base))
                    tab.close()
                browser.close()
        finally:
            if proc is not None:
                stop(proc)
    named = [1000 * x for x, _ in times]
    ms = [1000 * x for _, x in times]

    def firsts(pairs: list[tuple[float, float]]) -> str:
        inside, seen = [x for x, _ in pairs], [y for _, y in pairs]
        return (f"median {statistics.median(inside):.2f} s inside the page ({' '.join(f'{x:.2f}' for x in inside)}); "
                f"Playwright saw it after a median {statistics.median(seen):.2f} s")

    print(f"server healthy after start: median {statistics.median(healthy):.2f} s")
    print("first Label page, browser new to the dashboard (navigation start → questionnaire, playable audio and "
          f"decoded spectrogram shown): {firsts(new_browser)}")
    print("verdict key → next clip fully shown (ms): " + " ".join(f"{x:.0f}" for x in ms))
    print(f"p50 {statistics.median(ms):.0f} ms · p95 {percentile(ms, 95):.0f} ms · "
          f"min {min(ms):.0f} · max {max(ms):.0f} · n {len(ms)}")
    print(f"of which until the view names the next segment: p50 {statistics.median(named):.0f} ms · "
          f"p95 {percentile(named, 95):.0f} ms")
    print(f"inside the page (key event → first frame with the next clip fully shown): "
          f"p50 {statistics.median(in_page):.0f} ms · p95 {percentile(in_page, 95):.0f} ms · n {len(in_page)}")
    print(f"verdicts saved: {saved} of {pressed} pressed")
    print(f"first Label page after a restart of `haverford serve`, in a new tab of a browser that used it: "
          f"{firsts(returning)}")
    print(f"per press: server CPU {1000 * cpu / len(times):.0f} ms (haverford serve and its children), "
          f"Chromium's main thread busy {1000 * busy / len(times):.0f} ms")


if __name__ == "__main__":
    main()
