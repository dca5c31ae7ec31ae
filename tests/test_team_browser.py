"""In a real headless Chromium: log in to a library with accounts, reload, still logged in; the
cookie holds a signed token (no password) and the URL holds no secret."""

from __future__ import annotations

import pytest
from test_browser import VIEWPORT, chromium, idle, need_chromium, serving, shot

from haverford.core import accounts
from haverford.core.accounts import OPERATOR, acting_as
from haverford.core.home import Home
from haverford.dashboard.access import COOKIE

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An empty home with one labeller account, served by `haverford serve` on a free port."""
    need_chromium()
    home = Home(tmp_path_factory.mktemp("team-browser") / "home")
    with acting_as(OPERATOR):
        accounts.add_user(home.connect(), "tom", PASSWORD, admin=True)
        accounts.add_user(home.connect(), "donna", PASSWORD)
    with serving(home.path) as url:
        yield url


def test_a_login_survives_a_reload_without_a_secret_in_the_url(served):
    with chromium() as browser:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(served)
        page.get_by_label("Name", exact=True).fill("donna")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Logged in as").wait_for(timeout=30_000)
        idle(page)
        page.wait_for_timeout(1000)  # the cookie is written by the rerun after the login
        page.reload()
        page.get_by_text("Logged in as").wait_for(timeout=30_000)
        shot(page, "team-login-after-reload")
        cookies = {c["name"]: c for c in page.context.cookies()}
        url = page.url
        browser.close()
    assert COOKIE in cookies and PASSWORD not in cookies[COOKIE]["value"]
    assert cookies[COOKIE]["sameSite"] == "Strict"
    assert cookies[COOKIE]["value"] not in url and "token" not in url
