"""Persistence for Haverford: the SQLite schema, its migrations and every query.

``db`` imports neither ``core``, TensorFlow nor Streamlit: it knows tables, not music.
"""

from haverford.db.connection import DatabaseError, connect, now, write
from haverford.db.migrations import SCHEMA_VERSION, migrate

__all__ = ["DatabaseError", "SCHEMA_VERSION", "connect", "migrate", "now", "write"]
