"""Opening SQLite the one right way: WAL, a busy timeout, foreign keys, short write transactions."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlite_utils

from haverford.db.vocabulary import ConsensusAggregate, MajorityAggregate

BUSY_TIMEOUT_MS = 30_000
WAIT_ENV = "HAVERFORD_DB_WAIT_S"  # how long a writer waits for another program's lock (default 30)
NOTICE_AFTER_MS = 1_000  # a wait longer than this is announced on stderr
log = logging.getLogger("haverford.db")
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
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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
    conn.create_aggregate("verdict_consensus", 1, ConsensusAggregate)  # type: ignore[arg-type]  # step(value) is the one-argument form
    conn.create_aggregate("track_majority", 1, MajorityAggregate)  # type: ignore[arg-type]
    db = sqlite_utils.Database(conn)
    if migrate:
        from haverford.db.migrations import migrate as run_migrations

        run_migrations(db)
    return db


_local = threading.local()  # this thread's shared connections: (pid, path) → (inode, database)
_migrated: set[tuple[str, int | None]] = set()  # (path, inode) of the files this process has migrated


def shared(path: str | os.PathLike) -> sqlite_utils.Database:
    """This thread's connection to the database at ``path``, opened on first use.

    One connection per thread and file: a process checks the schema once per file (a new
    file at the same path, e.g. after a restore, is opened and checked again), and a thread's
    connections close when the thread ends. A connection is never carried across ``fork``.
    Callers must not close it; ``connect`` gives a connection of one's own.
    """
    key = (os.getpid(), os.path.abspath(path))
    cache = _local.__dict__.setdefault("databases", {})
    inode, db = cache.get(key, (None, None))
    if db is not None and _same_file(path, inode) and _open_still(db):
        return db
    fresh = (key[1], _inode(path)) not in _migrated
    db = connect(path, migrate=fresh)
    _migrated.add((key[1], _inode(path)))
    cache[key] = (_inode(path), db)
    return db


def _inode(path: str | os.PathLike) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _same_file(path: str | os.PathLike, inode: int | None) -> bool:
    return inode is not None and _inode(path) == inode


def _open_still(db: sqlite_utils.Database) -> bool:
    try:
        db.conn.total_changes  # noqa: B018 - raises once the connection is closed
    except sqlite3.ProgrammingError:
        return False
    return True


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


def write_wait_s() -> float:
    """How long a writer waits for the database's write lock: ``$HAVERFORD_DB_WAIT_S``, else 30 s."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, BUSY_TIMEOUT_MS / 1000)))
    except ValueError:
        return BUSY_TIMEOUT_MS / 1000


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, waiting a bounded time for the write lock.

    A wait past ``NOTICE_AFTER_MS`` is announced on stderr (through logging); past
    ``write_wait_s()`` it ends in a ``DatabaseError`` naming the cause. Nothing has been
    written at that point, so nothing is half-written.
    """
    global retry_count
    wait_ms = int(write_wait_s() * 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {min(NOTICE_AFTER_MS, wait_ms)}")
        conn.execute("BEGIN IMMEDIATE")
        return
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    retry_count += 1
    log.warning("haverford: the database is locked by another program; waiting up to %.0f s", wait_ms / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {max(0, wait_ms - NOTICE_AFTER_MS)}")
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
        raise DatabaseError(f"the database stayed locked by another program for {wait_ms / 1000:.0f} s "
                            f"(a sqlite3 shell or backup tool holding a transaction?); close it and run "
                            f"the command again, or set {WAIT_ENV} to wait longer") from None
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
