"""``python -m haverford.dashboard.server run APP [options]``: Streamlit's own command line, with the
Label page's first-use work done before the server listens.

Streamlit imports a page's modules only when a browser first opens it, so the first Label page
after a start paid for them (about 2 s of imports on a loaded 2-core machine), and the tempo
worker's first estimate (librosa's import and numba's compilation, seconds of CPU) competed with
the browser drawing that page. Done in a thread beside the starting server, the imports still
competed with a browser that opened the page at once (the first page took 3.5 s, against 2.2 s
once they were over: ``bench/README.md``), so they come first now, and the server reports
healthy about a second later. The server's ``index.html`` also names the server's base URL, which
Streamlit's client otherwise finds by probing (:func:`backend_base_script`). ``haverford serve``
runs this module instead of ``streamlit``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

STATIC_PREFIX = "haverford-static-"


def prepare() -> None:
    """Import what the Label page needs and prepare one generated clip, then start the tempo worker
    (a process of its own: it imports librosa and compiles its code at a lower priority)."""
    # Before the runtime exists, ``st.cache_data`` checks its parameters against an in-memory store
    # and warns that it found no runtime; each cache takes the runtime's store on its first call, in a
    # page's run, so the warning (four lines in the server log) says nothing here.
    from streamlit.runtime.caching import cache_data_api  # its logger's level is set as it is imported

    caching = logging.getLogger(cache_data_api.__name__)
    level = caching.level
    caching.setLevel(logging.ERROR)
    try:
        import haverford.core.labelling
        import haverford.core.queues
        import haverford.dashboard.app
        import haverford.dashboard.label_view  # (plotly's colours, scipy.fft, soundfile, PIL, Streamlit's elements)
    finally:
        caching.setLevel(level)
    from haverford.core import tempo

    haverford.dashboard.label_view.warm()
    tempo.warm()


def after_start() -> None:
    """Work Streamlit does once per process on the first page's run, done once it is up instead
    (measured on the first Label page: about 0.2 s of its run): its check for a REPL on the first
    element (``inspect.stack()`` of the script thread's deep stack; from this shallow thread it is
    cheap; before the runtime exists it would warn that the app is not run by ``streamlit run``)
    and its emoji table (a large regular expression, compiled on the first ``page_icon``)."""
    from streamlit import delta_generator, runtime

    while not runtime.exists() or runtime.get_instance().state == runtime.RuntimeState.INITIAL:
        time.sleep(0.05)
    import streamlit.emojis  # noqa: F401

    delta_generator._maybe_print_use_warning()


def backend_base_script(page_paths) -> str:
    """A script for the head of Streamlit's ``index.html`` that names the server's base URL.

    Without it, Streamlit's client opened on a page (``/label``) first probes
    ``/label/_stcore/health``, waits 100 ms after the 404 and then finds the server at
    ``/_stcore/health`` (``doInitPings`` in its frontend): about 150 ms of the first page. The
    base is the page's URL without its last part when that part names one of ``page_paths`` and
    the URL does not end with ``/``: the server redirects a page's URL with a trailing ``/`` to
    the one without, so a URL that keeps it is the dashboard's root behind a proxy's path prefix
    (``/label/`` for the prefix ``/label``). Behind a prefix (``/hv/label``) the base is the prefix.
    """
    return ("<script>(() => { const path = location.pathname, parts = path.replace(/\\/+$/, '').split('/'); "
            f"if (!path.endsWith('/') && {json.dumps(list(page_paths))}.includes(parts[parts.length - 1])) parts.pop(); "
            "window.__streamlit = {BACKEND_BASE_URL: location.origin + (parts.join('/') || '/')}; })();</script>")


def served_static_dir(source: Path, target: Path, page_paths) -> Path:
    """``target`` made a copy of Streamlit's static folder ``source`` whose ``index.html`` names the
    server's base (:func:`backend_base_script`); every other entry is a symbolic link into ``source``.

    Measured on the first Label page: ``bench/README.md``, "Label page latency in Chromium".
    """
    index = (source / "index.html").read_text(encoding="utf-8")
    head = index.index('<script type="module"')  # before Streamlit's scripts read window.__streamlit
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name != "index.html":
            os.symlink(entry, target / entry.name)
    (target / "index.html").write_text(f"{index[:head]}{backend_base_script(page_paths)}\n    {index[head:]}",
                                       encoding="utf-8")
    return target


def serve_own_static() -> None:
    """Make Streamlit's server serve :func:`served_static_dir` (a folder made for this process,
    removed at its exit) instead of its own static folder."""
    from streamlit import file_util

    from haverford.dashboard.app import PAGES

    for old in Path(tempfile.gettempdir()).glob(f"{STATIC_PREFIX}*"):  # left by a server that was killed
        pid = old.name.removeprefix(STATIC_PREFIX).split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{STATIC_PREFIX}{os.getpid()}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    served = served_static_dir(Path(file_util.get_static_dir()), folder / "static", [p[0] for p in PAGES])
    file_util.get_static_dir = lambda: str(served)


def main() -> int:
    from streamlit.web import cli

    prepare()
    serve_own_static()
    # a closed terminal (SIGHUP) stops Streamlit as SIGTERM does: its exit handlers run (the folder goes)
    signal.signal(signal.SIGHUP, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    threading.Thread(target=after_start, name="haverford-warm-up", daemon=True).start()
    return cli.main()


# The tempo worker is spawned: it imports this module again as __mp_main__, which must not serve.
if __name__ == "__main__":
    sys.exit(main())
