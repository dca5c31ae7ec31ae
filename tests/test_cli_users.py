"""`haverford users add|list|disable`: passwords from a prompt or stdin, never from argv."""

from __future__ import annotations

import io
import json

import pytest

from haverford.core.cli import main
from haverford.core.home import Home
from haverford.db import users as users_db

PASSWORD = "correct horse battery"


def run(capsys, monkeypatch, *argv, stdin: str = ""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def h(tmp_path) -> str:
    return str(tmp_path / "home")


def test_add_list_and_disable(h, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "users", "add", "tom", "--admin", "--password-stdin", "--home", h,
                       "--json", stdin=PASSWORD + "\n")
    assert code == 0 and json.loads(out)["role"] == "admin" and PASSWORD not in out
    run(capsys, monkeypatch, "users", "add", "donna", "--password-stdin", "--home", h, stdin=PASSWORD + "\n")
    code, out, _ = run(capsys, monkeypatch, "users", "disable", "donna", "--home", h, "--json")
    assert code == 0 and json.loads(out)["disabled_at"]
    code, out, _ = run(capsys, monkeypatch, "users", "list", "--home", h, "--json")
    listed = json.loads(out)
    assert listed["accounts_on"] and [(u["name"], u["role"], bool(u["disabled_at"])) for u in listed["users"]] == [
        ("donna", "labeller", True), ("tom", "admin", False)]
    db = Home(h).connect()
    assert users_db.get_user(db, "donna")["created_by"].startswith("shell")


def test_a_password_is_never_taken_from_the_command_line(h, capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, "users", "add", "tom", "--password", PASSWORD, "--home", h)
    assert code == 1 and "unrecognized arguments" in err and err.count("\n") == 1


def test_the_first_account_must_be_an_admin(h, capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, "users", "add", "donna", "--password-stdin", "--home", h, stdin=PASSWORD)
    assert code == 1 and "the first account must be an admin" in err


def test_without_a_terminal_the_password_must_come_on_stdin(h, capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, "users", "add", "tom", "--home", h)
    assert code == 1 and "--password-stdin" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["users", "disable", "nobody"], "no account called 'nobody'"),
    (["users", "add", "x" * 41, "--password-stdin"], "account name"),
])
def test_bad_input_is_one_line(h, capsys, monkeypatch, argv, message):
    run(capsys, monkeypatch, "users", "add", "tom", "--admin", "--password-stdin", "--home", h, stdin=PASSWORD)
    code, _, err = run(capsys, monkeypatch, *argv, "--home", h, stdin=PASSWORD)
    assert code == 1 and message in err and err.count("\n") == 1


def test_a_password_that_is_not_utf8_is_one_line(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "haverford.core.cli", "users", "add", "x", "--admin",
                           "--password-stdin", "--home", str(tmp_path / "h")],
                          input=b"\xff\xfe\xfdbadpassword\n", capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == "haverford: error: the password on stdin is not UTF-8 text; give it as UTF-8"
