"""``python -m haverford.dashboard.server run APP [options]``: Streamlit's own command line, with the
Label page's first-use work done before the server listens.

Streamlit imports a page's modules only when a browser first opens it, so the first Label page
after a start paid for them (about 2 s of imports on a loaded 2-core machine), and the tempo
worker's first estimate (librosa's import and numba's compilation, seconds of CPU) competed with
the browser drawing that page. Done in a thread beside the starting server, the imports still
competed with a browser that opened the page at once (the first page took 3.5 s, against 2.2 s
once they were over: ``bench/README.md``), so they come first now, and the server reports
healthy about a second later. ``haverford serve`` runs this module instead of ``streamlit``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time


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


def main() -> int:
    from streamlit.web import cli

    prepare()
    threading.Thread(target=after_start, name="haverford-warm-up", daemon=True).start()
    return cli.main()


# The tempo worker is spawned: it imports this module again as __mp_main__, which must not serve.
if __name__ == "__main__":
    sys.exit(main())
