"""The dashboard with accounts, in Streamlit's AppTest: login, the labeller is the person logged in,
labellers are refused the admin actions on the pages, admins are not."""

from __future__ import annotations

from importlib import resources

import pytest
from _label_browser import LabelBrowser
from _train_home import copy_home
from streamlit.runtime.context import ContextProxy
from streamlit.testing.v1 import AppTest

from haverford.core import accounts
from haverford.core.accounts import OPERATOR, acting_as
from haverford.core.config import HOME_ENV
from haverford.core.home import Home
from haverford.dashboard.access import COOKIE
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import runs as runs_db
from haverford.db import users as users_db

APP = str(resources.files("haverford.dashboard") / "app.py")
PASSWORD = "correct horse battery"


def add_team(home: Home) -> None:
    db = home.connect()
    with acting_as(OPERATOR):
        accounts.add_user(db, "tom", PASSWORD, admin=True)
        accounts.add_user(db, "donna", PASSWORD)
    db.close()


@pytest.fixture
def team_home(small_train_template, tmp_path, monkeypatch) -> Home:
    """A labelled library with two models (the first active), an admin tom and a labeller donna."""
    home = copy_home(small_train_template, tmp_path)
    db = home.connect()
    ids = [models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "labels_hash": "x",
                                       "curves": {"loss": [0.5]}, "metrics": {"accuracy": 0.9}}) for _ in range(2)]
    models_db.activate(db, ids[0])
    add_team(home)
    monkeypatch.setenv(HOME_ENV, str(home.path))
    return home


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def log_in(name: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="access_name").input(name)
    at.text_input(key="access_secret").input(password)
    at.button[0].click().run()
    return at


def page(name: str, path: str) -> AppTest:
    at = log_in(name)
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_library_with_accounts_asks_for_a_login_first(team_home):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert titles(at) == ["Haverford"] and "haverford users add" in at.caption[0].value


def test_a_wrong_password_is_refused_with_a_delay(team_home):
    at = log_in("donna", "wrong password")
    assert "Library" not in titles(at)
    assert "wrong name or password; try again in 1 s" in at.error[0].value


def test_a_disabled_user_cannot_log_in(team_home):
    db = team_home.connect()
    with acting_as(OPERATOR):
        accounts.disable_user(db, "donna")
    at = log_in("donna")
    assert "Library" not in titles(at) and "disabled" in at.error[0].value


def test_after_login_the_name_is_the_account_and_cannot_be_typed(team_home):
    at = log_in("donna")
    assert not at.exception and "Library" in titles(at)
    assert "Logged in as **donna** (labeller)" in at.sidebar.caption[0].value
    assert not [t for t in at.text_input if t.key == "app_labeller"]
    assert at.session_state["app_labeller"] == "donna"


def test_the_login_survives_a_reload_through_its_cookie(team_home, monkeypatch):
    db = team_home.connect()
    token = accounts.issue_token(db, users_db.get_user(db, "donna"))
    monkeypatch.setattr(ContextProxy, "cookies", property(lambda self: {COOKIE: token}))
    at = AppTest.from_file(APP, default_timeout=60).run()  # a new browser session: nothing in its state
    assert "Library" in titles(at) and at.session_state["app_labeller"] == "donna"
    accounts.logout(db, "donna")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert titles(at) == ["Haverford"]


def test_a_labeller_labels_under_her_own_name(team_home):
    tab = LabelBrowser(page("donna", "views/label.py"))
    tab.label("banger")
    assert not tab.data["errors"]
    db = team_home.connect()
    assert {r["labeller"] for r in db.query("SELECT labeller FROM answers WHERE note IS NULL "
                                             "AND created_at > (SELECT MAX(created_at) FROM users)")} == {"donna"}


@pytest.mark.parametrize("who, allowed", [("donna", False), ("tom", True)])
def test_question_edits_on_the_page_need_an_admin(team_home, who, allowed):
    at = page(who, "views/questions.py")
    at.text_input(key="questions_1_text").input("Tempo, roughly?")
    next(b for b in at.button if b.label == "Save changes").click().run()
    text = questions_db.get_question(team_home.connect(), "bpm")["text"]
    assert (text == "Tempo, roughly?") is allowed
    if not allowed:
        assert "only an admin may edit questions or rules" in at.error[0].value


@pytest.mark.parametrize("who, allowed", [("donna", False), ("tom", True)])
def test_retrain_on_the_page_needs_an_admin(team_home, who, allowed, monkeypatch):
    from haverford.core import jobs

    monkeypatch.setattr(jobs, "launch_worker", lambda home, run_id: type("Proc", (), {"pid": 0})())
    at = page(who, "views/train.py")
    next(b for b in at.button if b.label == "Retrain").click().run()
    assert (len(runs_db.list_runs(team_home.connect())) == 1) is allowed
    if not allowed:
        assert "only an admin may start or cancel a Retrain" in at.warning[0].value


@pytest.mark.parametrize("who, allowed", [("donna", False), ("tom", True)])
def test_activating_a_model_on_the_page_needs_an_admin(team_home, who, allowed):
    db = team_home.connect()
    second = models_db.list_models(db)[0]["id"]
    at = page(who, "views/train.py")
    at.selectbox(key="train_activate_choice").select(second)
    at.button(key="train_activate").click().run()
    assert (models_db.active_model(db)["id"] == second) is allowed
    if not allowed:
        assert "only an admin may activate a model" in at.error[0].value


def test_logging_out_ends_the_session_and_its_token(team_home):
    at = log_in("donna")
    token = at.session_state["access_token"]
    at.button(key="access_logout").click().run()
    assert titles(at) == ["Haverford"]
    assert accounts.user_from_token(team_home.connect(), token) is None


def test_disabling_an_account_ends_its_open_session(team_home):
    at = log_in("donna")
    assert "Library" in titles(at)
    with acting_as(OPERATOR):
        accounts.disable_user(team_home.connect(), "donna")
    at.run()
    assert titles(at) == ["Haverford"]
