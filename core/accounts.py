"""Accounts, roles and the one role check that every action calls.

Accounts are optional. A library without any account works as it always did: anyone who
reaches the dashboard types a name and may do everything. Once ``haverford users add`` has
created an account, every action asks ``require`` who is acting:

- in the dashboard, the person logged in (``set_actor_source``, installed by the app);
- in tests and scripts, whoever ``acting_as`` names;
- on the command line, the *operator* (``OPERATOR``): whoever can run ``haverford`` on the
  data home can also open its SQLite file, so the shell is trusted as an admin.

(``Actor``, ``acting_as`` and friends live in ``core.identity``, ``require`` in ``core.roles``;
both are re-exported here.)

No actor at all (a script that names nobody) is refused while accounts exist.

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher``, salted, its default
RFC 9106 "low memory" parameters); only the hash is stored. A wrong password costs a delay
that doubles with each failure (``login_delay_s``). Logins survive a page reload through a
token signed with itsdangerous (a key kept in the database) that names the user and expires.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import argon2
import itsdangerous

from haverford.core.errors import HaverfordError
from haverford.core.identity import OPERATOR, Actor, acting_as, current_actor, set_actor_source
from haverford.core.roles import ACTION_NAMES, PERMISSIONS, ROLES, AccessDenied, accounts_on, require
from haverford.db import users as users_db

if TYPE_CHECKING:
    import sqlite_utils


TOKEN_MAX_AGE_S = 7 * 24 * 3600
MAX_DELAY_S = 300
MIN_PASSWORD = 8
NAME_PATTERN = re.compile(r"^[\w][\w .@-]{0,39}$")
_hasher = argon2.PasswordHasher()
__all__ = ["ACTION_NAMES", "OPERATOR", "PERMISSIONS", "ROLES", "AccessDenied", "Actor", "LoginError",
           "acting_as", "accounts_on", "add_user", "current_actor", "disable_user", "issue_token", "list_users",
           "login", "logout", "require",
           "set_actor_source", "user_from_token"]


class LoginError(HaverfordError):
    """A login was refused; ``wait_s`` is how long until the next attempt counts (0: now)."""

    def __init__(self, message: str, *, wait_s: float = 0.0):
        super().__init__(message)
        self.wait_s = wait_s


# --- managing accounts ----------------------------------------------------------------------

def add_user(db: sqlite_utils.Database, name: str, password: str, *, admin: bool = False) -> dict:
    """Create an account (role ``admin`` or ``labeller``); returns it without its hash.

    Raises ``HaverfordError`` for a bad name, a short password, a name already taken, or a
    first account that is not an admin.
    """
    creator = require(db, "users", detail=f"add {name}")
    name = check_name(name)
    if len(password) < MIN_PASSWORD:
        raise HaverfordError(f"the password must be at least {MIN_PASSWORD} characters long")
    if not admin and not accounts_on(db):
        raise HaverfordError(f"the first account must be an admin ('haverford users add {name} --admin'): "
                             f"with accounts on, only admins edit questions or start a Retrain")
    role = "admin" if admin else "labeller"
    if users_db.add_user(db, name=name, password_hash=_hasher.hash(password), role=role,
                         created_by=creator) is None:
        raise HaverfordError(f"an account called {name!r} exists already; choose another name")
    return _existing(db, name)


def check_name(name: str) -> str:
    """An account name, stripped: 1-40 letters, digits, spaces and ``.@-_``."""
    name = (name or "").strip()
    if not NAME_PATTERN.match(name):
        raise HaverfordError(f"account name {name!r} must be 1-40 letters, digits, spaces or .@-_ "
                             f"and start with a letter or digit")
    return name


def list_users(db: sqlite_utils.Database) -> list[dict]:
    """Every account (name, role, disabled_at, created_by, created_at), by name."""
    require(db, "users")
    return users_db.list_users(db)


def disable_user(db: sqlite_utils.Database, name: str) -> dict:
    """Disable an account: it can no longer log in and its logins end. Its answers stay."""
    require(db, "users", detail=f"disable {name}")
    user = _existing(db, name)
    users_db.disable_user(db, user["id"])
    return _existing(db, name)


def _existing(db, name: str) -> dict:
    user = users_db.get_user(db, (name or "").strip())
    if user is None:
        raise HaverfordError(f"no account called {name!r}; see 'haverford users list'")
    return user


# --- logging in -------------------------------------------------------------------------------

def login_delay_s(failures: int) -> float:
    """Seconds a user must wait after ``failures`` wrong passwords in a row: 1, 2, 4, ... ≤ 300."""
    return 0.0 if failures <= 0 else float(min(2 ** (failures - 1), MAX_DELAY_S))


def login(db: sqlite_utils.Database, name: str, password: str, *, now: datetime | None = None) -> dict:
    """Check a name and password; return the account (without hash) or raise ``LoginError``.

    A wrong password doubles the wait before the next attempt for that account is even
    checked; an unknown name costs the same hashing time as a known one.
    """
    now = now or datetime.now(UTC)
    user = users_db.get_user(db, (name or "").strip())
    if user is None:
        _verify(_dummy_hash(), password)
        raise LoginError("wrong name or password")
    if user["disabled_at"]:
        raise LoginError(f"account {user['name']!r} is disabled; ask an admin")
    _check_wait(user, now)
    if not _verify(users_db.password_hash(db, user["id"]), password):
        users_db.record_failed_login(db, user["id"])
        wait = login_delay_s(user["failed_logins"] + 1)
        raise LoginError(f"wrong name or password; try again in {wait:.0f} s", wait_s=wait)
    users_db.clear_failed_logins(db, user["id"])
    _rehash_if_needed(db, user["id"], password)
    return _existing(db, user["name"])


def _check_wait(user: dict, now: datetime) -> None:
    if not user["failed_logins"] or not user["last_failed_at"]:
        return
    until = datetime.fromisoformat(user["last_failed_at"]) + timedelta(seconds=login_delay_s(user["failed_logins"]))
    if now < until:
        wait = (until - now).total_seconds()
        raise LoginError(f"too many wrong passwords: wait {wait:.0f} s and try again", wait_s=wait)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except argon2.exceptions.VerificationError:
        return False


def _rehash_if_needed(db, user_id: int, password: str) -> None:
    if _hasher.check_needs_rehash(users_db.password_hash(db, user_id)):
        users_db.set_password_hash(db, user_id, _hasher.hash(password))


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown names, so that they take as long as known ones."""
    return _hasher.hash("not a password of anyone")


# --- login tokens -----------------------------------------------------------------------------

def issue_token(db: sqlite_utils.Database, user: dict) -> str:
    """A signed token naming ``user`` that ``user_from_token`` accepts for ``TOKEN_MAX_AGE_S``.

    It holds no password: the name and the account's token epoch, signed with HMAC-SHA1
    (itsdangerous) under the library's random key, and a timestamp.
    """
    return _serializer(db).dumps({"name": user["name"], "epoch": user["token_epoch"]})


def user_from_token(db: sqlite_utils.Database, token: str | None, *,
                    max_age_s: int = TOKEN_MAX_AGE_S) -> dict | None:
    """The enabled account a token names, or None (forged, expired, logged out or disabled)."""
    if not token:
        return None
    try:
        data = _serializer(db).loads(token, max_age=max_age_s)
    except itsdangerous.BadData:
        return None
    user = users_db.get_user(db, str(data.get("name", "")))
    if user is None or user["disabled_at"] or user["token_epoch"] != data.get("epoch"):
        return None
    return user


def logout(db: sqlite_utils.Database, name: str) -> None:
    """End every login of ``name`` (all of its tokens stop working)."""
    user = users_db.get_user(db, name)
    if user is not None:
        users_db.void_tokens(db, user["id"])


def _serializer(db) -> itsdangerous.URLSafeTimedSerializer:
    return itsdangerous.URLSafeTimedSerializer(users_db.token_key(db), salt="haverford-login")
