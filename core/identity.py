"""Who is acting, without importing anything heavy (the CLI sets it before any command runs).

``core.accounts.require`` asks ``current_actor()``: the actor named by ``acting_as`` if any
(tests, scripts, the command line's ``OPERATOR``), else the installed source's (the
dashboard's logged-in session, ``set_actor_source``), else None: nobody.
"""

from __future__ import annotations

import contextlib
import contextvars
import getpass
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who is acting: an account's name, or the operator at the shell (``shell=True``)."""

    name: str
    shell: bool = False


def _shell_name() -> str:
    try:
        return f"shell:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "shell"


# Whoever can run ``haverford`` on a data home can open its SQLite file too: the shell is trusted.
OPERATOR = Actor(_shell_name(), shell=True)
_acting: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("haverford_actor", default=None)
_source: Callable[[], Actor | None] | None = None


@contextlib.contextmanager
def acting_as(actor: Actor | str) -> Iterator[Actor]:
    """Run the body as ``actor`` (an ``Actor`` or an account name)."""
    actor = Actor(actor) if isinstance(actor, str) else actor
    token = _acting.set(actor)
    try:
        yield actor
    finally:
        _acting.reset(token)


def set_actor_source(source: Callable[[], Actor | None] | None) -> None:
    """Where ``current_actor`` looks when no ``acting_as`` is in effect (the dashboard's session).

    A source rather than a context variable: Streamlit runs widget callbacks and fragments
    before (or without) the app script that would set one.
    """
    global _source
    _source = source


def current_actor() -> Actor | None:
    """The actor of ``acting_as`` if any, else the installed source's, else None."""
    actor = _acting.get()
    if actor is None and _source is not None:
        actor = _source()
    return actor
