"""Consistent copies of a live database through SQLite's online backup API.

A copy taken with ``sqlite3.Connection.backup`` in one step holds a read transaction for its
duration: in WAL mode writers go on committing meanwhile, and the copy is the database exactly
as it was when the step began (https://www.sqlite.org/backup.html). Copying in several steps
would restart each time another connection writes, and might never finish under load.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from haverford.db.connection import write

BACKUP_DIR = "backups"


def online_copy(conn: sqlite3.Connection, target: str | os.PathLike) -> Path:
    """Copy the database of ``conn`` to the new file ``target`` in one backup step.

    Raises ``FileExistsError`` when ``target`` exists: a backup never overwrites a file.
    """
    target = Path(target)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(target)) as dest:
        conn.backup(dest, pages=-1)
    return target


def database_file(db: sqlite_utils.Database) -> Path | None:
    """The file of ``db``'s main database, None for an in-memory one."""
    for _, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return Path(file) if file else None
    return None


def backup_before_migration(db: sqlite_utils.Database, version: int) -> Path | None:
    """Keep a copy of ``db`` at schema ``version`` in ``backups/`` beside it, before it migrates.

    Returns the copy's path (``backups/pre-migration-v{version}-{UTC time}-{pid}.db``), or None
    for an in-memory database. The copy is never deleted by Haverford.
    """
    path = database_file(db)
    if path is None:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return online_copy(db.conn, path.parent / BACKUP_DIR / f"pre-migration-v{version}-{stamp}-{os.getpid()}.db")


def integrity_errors(db: sqlite_utils.Database) -> list[str]:
    """``PRAGMA integrity_check``'s findings; an empty list when the database is sound."""
    rows = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
    return [] if rows == ["ok"] else rows


def named_files(db: sqlite_utils.Database) -> dict[str, list[str]]:
    """Every file the database names: ``{"features": [...], "models": [...]}``.

    Feature paths are relative to the feature store, model paths relative to the home.
    """
    return {"features": [r[0] for r in db.execute("SELECT path FROM features ORDER BY path")],
            "models": [r[0] for r in db.execute("SELECT path FROM models WHERE path IS NOT NULL ORDER BY id")]}


def forget_feature_files(db: sqlite_utils.Database, paths: list[str]) -> int:
    """Drop the ``features`` rows of files that are not in the store, so that they are computed
    again (``haverford features``); returns how many rows went. One transaction."""
    with write(db):
        before = db.table("features").count
        db.conn.executemany("DELETE FROM features WHERE path = ?", [(p,) for p in paths])
        return before - db.table("features").count
