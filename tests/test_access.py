"""The dashboard can be closed with a password or a list of allowed labellers (Streamlit secrets)."""


from importlib import resources

import pytest
from streamlit.testing.v1 import AppTest

from haverford.core.config import HOME_ENV

APP = str(resources.files("haverford.dashboard") / "app.py")


@pytest.fixture
def at(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return AppTest.from_file(APP, default_timeout=60)


def shows_library(at) -> bool:
    return any(t.value == "Library" for t in at.title)


def test_open_without_secrets(at):
    at.run()
    assert not at.exception and shows_library(at)


def test_password_is_asked_and_checked(at):
    at.secrets["haverford"] = {"password": "s3cret"}
    at.run()
    assert not shows_library(at) and at.text_input(key="access_password")
    at.text_input(key="access_password").input("wrong").run()
    assert not shows_library(at) and "Wrong password." in [e.value for e in at.error]
    at.text_input(key="access_password").input("s3cret").run()
    assert not at.exception and shows_library(at)


def test_only_allowed_labellers_get_in(at):
    at.secrets["haverford"] = {"allowed_labellers": ["tom", "donna"]}
    at.session_state["app_labeller"] = "<script>jerry</script>"
    at.run()
    assert not shows_library(at) and "not on this dashboard's list" in at.error[0].value
    at.session_state["app_labeller"] = "donna"
    at.run()
    assert not at.exception and shows_library(at)
