"""``python -m haverford.dashboard.server run APP [options]``: Streamlit's own command line, with the
Label page's first-use work started in the background as the server starts.

Streamlit imports a page's modules only when a browser first opens it, so the first Label page
after a start paid for them (about 2 s of imports on a loaded 2-core machine), and the tempo
worker's first estimate (librosa's import and numba's compilation, seconds of CPU) competed with
the browser drawing that page. ``haverford serve`` runs this module instead of ``streamlit``.
"""

from __future__ import annotations

import sys
import threading
import time


def warm() -> None:
    """Once the server is up (its start is not delayed), import what the Label page needs, then
    start the tempo worker (it imports librosa and compiles its code at a lower priority)."""
    from streamlit import runtime

    while not runtime.exists() or runtime.get_instance().state == runtime.RuntimeState.INITIAL:
        time.sleep(0.05)
    import haverford.core.labelling
    import haverford.core.queues
    import haverford.dashboard.charts
    import haverford.dashboard.clip
    import haverford.dashboard.label_view  # noqa: F401  (plotly, scipy.fft, soundfile, PIL, Streamlit's elements)
    from haverford.core import tempo

    _streamlit_first_use()
    haverford.dashboard.label_view.warm()
    tempo.warm()


def _streamlit_first_use() -> None:
    """Work Streamlit does once per process on the first page's run, done here instead (measured
    on the first Label page: about 0.2 s of its run). Its check for a REPL on the first element
    (``inspect.stack()`` of the script thread's deep stack; from this shallow thread it is cheap)
    and its emoji table (a large regular expression, compiled on the first ``page_icon``)."""
    import streamlit.emojis  # noqa: F401
    from streamlit import delta_generator

    delta_generator._maybe_print_use_warning()


def main() -> int:
    # Streamlit first: its import builds Plotly objects, which two threads must not do at once
    from streamlit.web import cli

    threading.Thread(target=warm, name="haverford-warm-up", daemon=True).start()
    return cli.main()


# The tempo worker is spawned: it imports this module again as __mp_main__, which must not serve.
if __name__ == "__main__":
    sys.exit(main())
