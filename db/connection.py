"""Opening SQLite the one right way: WAL, a busy timeout, foreign keys, short write transactions."""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import sqlite3
import time
import weakref
from datetime import datetime, timezone
from typing import Iterator

import sqlite_utils

from haverford.db.vocabulary import ConsensusAggregate, MajorityAggregate

BUSY_TIMEOUT_MS = 30_000
WRITE_RETRIES = 50
# Busy retries this process has needed (beyond SQLite's own busy timeout): for stress reports.
retry_count = 0


class _Connection(sqlite3.Connection):
    """A connection that can be referred to weakly (the C type cannot), so the process can
    find the ones still open when it exits."""


_open: weakref.WeakSet[_Connection] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Close the connections still open when the process exits, so SQLite folds the WAL into
    the database file and ``haverford.db`` alone is a complete copy. Left to garbage
    collection, one held in a reference cycle would stay open (the CLI skips the last
    collection) and the newest writes would stay in ``haverford.db-wal``."""
    for conn in list(_open):
        with contextlib.suppress(sqlite3.Error):
            conn.close()


class DatabaseError(Exception):
    """The database cannot be opened or is from a newer Haverford."""


def now() -> str:
    """The current UTC time as an ISO-8601 string with milliseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def connect(path: str | os.PathLike, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (and by default create or migrate) the database at ``path``.

    The connection is in autocommit mode; multi-statement writes go through ``write(db)``.
    ``path`` may be ``":memory:"`` for tests.
    """
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False, factory=_Connection)
    _open.add(conn)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.create_aggregate("verdict_consensus", 1, ConsensusAggregate)
    conn.create_aggregate("track_majority", 1, MajorityAggregate)
    db = sqlite_utils.Database(conn)
    if migrate:
        from haverford.db.migrations import migrate as run_migrations

        run_migrations(db)
    return db


@contextlib.contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One short write transaction, taken with ``BEGIN IMMEDIATE`` and retried while busy.

    IMMEDIATE takes the write lock up front, so a transaction never fails half way when it
    upgrades from reading to writing; the retry covers the rare busy timeouts under load.
    Nested use joins the outer transaction.
    """
    if db.conn.in_transaction:
        yield db
        return
    _begin_immediate(db.conn)
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def _begin_immediate(conn: sqlite3.Connection) -> None:
    global retry_count
    for attempt in range(WRITE_RETRIES):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            retry_count += 1
            time.sleep(min(0.5, 0.01 * 2 ** min(attempt, 6)) * random.uniform(0.5, 1.5))
    conn.execute("BEGIN IMMEDIATE")
