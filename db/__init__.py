"""Persistence for Haverford: the SQLite schema, its migrations and every query.

``db`` imports neither ``core``, TensorFlow nor Streamlit: it knows tables, not music.
The names below load on first use (PEP 562), so that reading ``haverford.db.vocabulary``
costs no sqlite-utils.

sqlite-utils imports pandas whenever it can, only to store ``pandas.Timestamp`` values as TEXT,
which Haverford never passes it. Unless the process has loaded pandas already (the dashboard
has), sqlite-utils is loaded here with pandas hidden: pandas and pyarrow cost 0.35 s of CPU at
the start of every CLI command, a twentieth of an ingest of an hour of music.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from typing import Any

_LAZY = {"DatabaseError": "connection", "connect": "connection", "now": "connection", "shared": "connection",
         "write": "connection",
         "SCHEMA_VERSION": "migrations", "migrate": "migrations"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'haverford.db' has no attribute {name!r}")
    return getattr(importlib.import_module(f"haverford.db.{_LAZY[name]}"), name)


class _SqliteUtilsWithoutPandas(importlib.abc.MetaPathFinder):
    """Finds ``sqlite_utils.db`` as usual, and runs it with ``import pandas`` failing."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "sqlite_utils.db" or "pandas" in sys.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def exec_module(module):
                sys.modules["pandas"] = None  # type: ignore[assignment]  # import pandas raises ImportError
                try:
                    run(module)
                finally:
                    if "pandas" in sys.modules and sys.modules["pandas"] is None:
                        del sys.modules["pandas"]

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "sqlite_utils.db" not in sys.modules:
    sys.meta_path.insert(0, _SqliteUtilsWithoutPandas())
