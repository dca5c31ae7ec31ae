"""Custom presets: tuned ConvNet recipes saved by name (the built-in ones live in code)."""

from __future__ import annotations

import json

import sqlite_utils

from haverford.db.connection import now, write


def save_preset(db: sqlite_utils.Database, name: str, preset: dict, *, source: str | None,
                created_by: str | None) -> bool:
    """Store a preset under ``name``; False (and nothing written) when the name is taken."""
    with write(db):
        if db.execute("SELECT 1 FROM custom_presets WHERE name = ?", [name]).fetchone():
            return False
        db.table("custom_presets").insert({"name": name, "preset": json.dumps(preset, sort_keys=True), "source": source,
                                     "created_by": created_by, "created_at": now()})
    return True


def get_preset(db: sqlite_utils.Database, name: str) -> dict | None:
    """A stored preset's fields, or None."""
    row = db.execute("SELECT preset FROM custom_presets WHERE name = ?", [name]).fetchone()
    return json.loads(row[0]) if row else None


def list_presets(db: sqlite_utils.Database) -> list[dict]:
    """Every stored preset, oldest first: ``{name, preset (dict), source, created_by, created_at}``."""
    rows = db.query("SELECT * FROM custom_presets ORDER BY created_at, name")
    return [{**r, "preset": json.loads(r["preset"])} for r in rows]
