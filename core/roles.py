"""The one role check that every action calls: ``require(db or home, permission)``.

Light to import (the database layer is imported on first call, when a database exists
anyway), so that ingest workers and the CLI start without it. ``core.accounts`` manages the
accounts this check reads; ``core.identity`` says who is acting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from haverford.core.errors import HaverfordError
from haverford.core.identity import Actor, current_actor

if TYPE_CHECKING:
    import sqlite_utils

    from haverford.core.home import Home

ROLES = ("labeller", "admin")
# What each action needs. Labellers label, review and read every page; the rest is the admin's.
PERMISSIONS = {
    "label": ROLES, "review": ROLES,
    "questions": ("admin",), "train": ("admin",), "activate": ("admin",), "import": ("admin",),
    "relocate": ("admin",), "users": ("admin",),
}
ACTION_NAMES = {"label": "save answers", "review": "review segments", "questions": "edit questions or rules",
                "train": "start or cancel a Retrain, cross-check or tuning run", "activate": "activate a model",
                "import": "import music", "relocate": "relocate the library", "users": "manage accounts"}


class AccessDenied(HaverfordError):
    """The person acting may not do this (wrong role, not logged in, disabled, other name)."""


def accounts_on(db: sqlite_utils.Database) -> bool:
    """True once the library has an account: from then on every action needs a login."""
    from haverford.db import users as users_db

    return users_db.any_users(db)


def require(target: sqlite_utils.Database | Home, permission: str, *, as_name: str | None = None,
            detail: str | None = None) -> str | None:
    """Refuse the action unless the current actor may do ``permission``; return who acts.

    The one role check: every guarded action calls it first. Without accounts everything is
    allowed and ``as_name`` is returned. With accounts, the actor must be the operator or an
    enabled account whose role allows ``permission`` (``PERMISSIONS``), and ``as_name`` (the
    labeller an answer will be stored under) must be the actor's own name. Actions other than
    labelling are written to the audit log with the actor's name.

    Raises
    ------
    AccessDenied
        Not logged in, account disabled, role too low, or ``as_name`` is someone else.
    """
    from haverford.db import users as users_db

    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    actor = current_actor()
    with _database(target) as db:
        if not users_db.any_users(db):
            return as_name if as_name is not None or actor is None else actor.name
        name = _check_actor(db, actor, permission, as_name)
        if permission != "label":
            users_db.log_action(db, actor=name, action=permission, detail=detail)
        return name


@contextlib.contextmanager
def _database(target) -> Iterator[sqlite_utils.Database]:
    import sqlite_utils  # loaded already: a database or a home about to open one

    if isinstance(target, sqlite_utils.Database):
        yield target
        return
    db = target.connect_private()
    try:
        yield db
    finally:
        db.close()


def _check_actor(db, actor: Actor | None, permission: str, as_name: str | None) -> str:
    from haverford.db import users as users_db

    if actor is None:
        raise AccessDenied(f"log in to {ACTION_NAMES[permission]}: this library has accounts")
    if actor.shell:
        return actor.name
    user = users_db.get_user(db, actor.name)
    if user is None or user["disabled_at"]:
        raise AccessDenied(f"account {actor.name!r} is disabled or gone; ask an admin")
    if user["role"] not in PERMISSIONS[permission]:
        raise AccessDenied(f"only an admin may {ACTION_NAMES[permission]}; {user['name']} is a {user['role']}")
    if as_name is not None and as_name.strip() != user["name"]:
        raise AccessDenied(f"you are logged in as {user['name']}: answers are saved under your own name, "
                           f"not {as_name.strip()!r}")
    return user["name"]
