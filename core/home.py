"""The data home: one folder holding the database, the feature store, models and uploads."""

from __future__ import annotations

import os
import sqlite3
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from haverford.core.config import resolve_home
from haverford.core.errors import HaverfordError
from haverford.core.store import FeatureStore

if TYPE_CHECKING:
    import sqlite_utils


class Home:
    """Everything a library of music owns, under ``path``."""

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True):
        self.path = resolve_home(path)
        if self.path.exists() and not self.path.is_dir():
            raise HaverfordError(f"home is not a folder: {self.path}")
        if create:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file where a folder of the path should be, no permission, /proc
                raise HaverfordError(f"cannot make the home folder {self.path}: {exc.strerror or exc}; "
                                     f"give --home a folder you can write to") from exc
        elif not self.db_path.exists():
            raise HaverfordError(f"no Haverford library at {self.path}; run 'haverford ingest' or "
                                 f"'haverford demo' first")

    @property
    def db_path(self) -> Path:
        return self.path / "haverford.db"

    @property
    def models_dir(self) -> Path:
        return self.path / "models"

    @property
    def uploads_dir(self) -> Path:
        return self.path / "uploads"

    @property
    def demo_dir(self) -> Path:
        return self.path / "demo-audio"

    @cached_property
    def store(self) -> FeatureStore:
        return FeatureStore(self.path / "features")

    def connect(self) -> sqlite_utils.Database:
        """This thread's connection to the home's database (``db.shared``: one per thread and
        database file, created and migrated on first use in the process). Never close it.

        The database layer is imported here, on first use: sqlite-utils imports pandas
        (0.35 s), which ``haverford ingest`` does not make its workers wait for.

        Raises ``HaverfordError`` when the file is not a database or is from a newer Haverford.
        """
        import haverford.db as dbm

        return self._open(dbm.shared)

    def connect_private(self) -> sqlite_utils.Database:
        """A connection of the caller's own, which the caller closes (backups, short checks)."""
        import haverford.db as dbm

        return self._open(dbm.connect)

    def _open(self, opener) -> sqlite_utils.Database:
        import haverford.db as dbm

        try:
            return opener(self.db_path)
        except dbm.DatabaseError as exc:
            raise HaverfordError(str(exc)) from None
        except sqlite3.DatabaseError as exc:  # not a database, disk I/O error, ...
            raise HaverfordError(f"cannot open {self.db_path}: {exc}") from None

    def __repr__(self) -> str:
        return f"Home({str(self.path)!r})"
