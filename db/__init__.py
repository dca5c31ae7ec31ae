"""Persistence for Haverford: the SQLite schema, its migrations and every query.

``db`` imports neither ``core``, TensorFlow nor Streamlit: it knows tables, not music.
The names below load on first use (PEP 562), so that reading ``haverford.db.vocabulary``
costs no sqlite-utils (which imports pandas: 0.35 s an ingest worker does not wait for).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"DatabaseError": "connection", "connect": "connection", "now": "connection", "shared": "connection",
         "write": "connection",
         "SCHEMA_VERSION": "migrations", "migrate": "migrations"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'haverford.db' has no attribute {name!r}")
    return getattr(importlib.import_module(f"haverford.db.{_LAZY[name]}"), name)
