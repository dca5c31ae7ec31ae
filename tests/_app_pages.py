"""Opening the dashboard's pages in Streamlit's AppTest, and the text they show."""

from __future__ import annotations

from importlib import resources

from streamlit.testing.v1 import AppTest

APP = str(resources.files("haverford.dashboard") / "app.py")


def app_page(view: str | None = None, *, params: dict | None = None, **state) -> AppTest:
    """The app opened with ``params`` in its URL and ``state`` in the session, then switched to
    ``view`` (a path such as ``views/label.py``; the first page when None). Asserts no exception."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if view:
        at.switch_page(view).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def messages(at: AppTest) -> str:
    """Every info, warning, success, error, caption and markdown text on the page, one per line."""
    return "\n".join(str(e.value) for kind in (at.info, at.warning, at.success, at.error, at.caption, at.markdown)
                     for e in kind)
