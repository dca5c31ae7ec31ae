"""Accounts (name, role, password hash), the login-token key, and the log of who wrote what.

Only hashes are stored; checking a password is ``core.accounts``' work.
"""

from __future__ import annotations

import sqlite_utils

from haverford.db.connection import now, write

_USER_COLUMNS = "id, name, role, disabled_at, failed_logins, last_failed_at, token_epoch, created_by, created_at"


def any_users(db: sqlite_utils.Database) -> bool:
    """True once an account exists (enabled or not): the library then requires a login."""
    return db.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0] == 1


def add_user(db: sqlite_utils.Database, *, name: str, password_hash: str, role: str,
             created_by: str | None) -> int | None:
    """Insert an account; returns its id, or None when the name (any case) is taken."""
    with write(db):
        if get_user(db, name) is not None:
            return None
        db.execute("INSERT INTO users (name, password_hash, role, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                   [name, password_hash, role, created_by, now()])
        return db.execute("SELECT last_insert_rowid()").fetchone()[0]


def get_user(db: sqlite_utils.Database, name: str) -> dict | None:
    """The account called ``name`` (case-insensitive), without its hash."""
    rows = list(db.query(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ? COLLATE NOCASE", [name]))
    return rows[0] if rows else None


def password_hash(db: sqlite_utils.Database, user_id: int) -> str:
    """The stored hash of an account."""
    return db.execute("SELECT password_hash FROM users WHERE id = ?", [user_id]).fetchone()[0]


def list_users(db: sqlite_utils.Database) -> list[dict]:
    """Every account, by name, without hashes."""
    return list(db.query(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name COLLATE NOCASE"))


def disable_user(db: sqlite_utils.Database, user_id: int) -> None:
    """Disable an account and void its login tokens (one transaction)."""
    db.execute("UPDATE users SET disabled_at = COALESCE(disabled_at, ?), token_epoch = token_epoch + 1 "
               "WHERE id = ?", [now(), user_id])


def set_password_hash(db: sqlite_utils.Database, user_id: int, password_hash: str) -> None:
    """Replace an account's hash (after a rehash with newer parameters)."""
    db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id])


def record_failed_login(db: sqlite_utils.Database, user_id: int) -> None:
    """One more wrong password for the account, stamped now."""
    db.execute("UPDATE users SET failed_logins = failed_logins + 1, last_failed_at = ? WHERE id = ?",
               [now(), user_id])


def clear_failed_logins(db: sqlite_utils.Database, user_id: int) -> None:
    """A correct password: the delay starts again from nothing."""
    db.execute("UPDATE users SET failed_logins = 0, last_failed_at = NULL WHERE id = ?", [user_id])


def token_key(db: sqlite_utils.Database) -> str:
    """The secret that signs login tokens (made at random by the migration)."""
    return db.execute("SELECT value FROM app_secrets WHERE name = 'token_key'").fetchone()[0]


def log_action(db: sqlite_utils.Database, *, actor: str, action: str, detail: str | None) -> None:
    """Record that ``actor`` did ``action``."""
    db.execute("INSERT INTO audit_log (actor, action, detail, created_at) VALUES (?, ?, ?, ?)",
               [actor, action, detail, now()])


def audit_log(db: sqlite_utils.Database, *, limit: int = 100) -> list[dict]:
    """The newest entries of the audit log first."""
    return list(db.query("SELECT actor, action, detail, created_at FROM audit_log ORDER BY id DESC LIMIT ?",
                         [limit]))


def void_tokens(db: sqlite_utils.Database, user_id: int) -> None:
    """Make every login token issued so far for the account invalid (log out everywhere)."""
    db.execute("UPDATE users SET token_epoch = token_epoch + 1 WHERE id = ?", [user_id])
