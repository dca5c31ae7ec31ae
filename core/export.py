"""Export labels: every answer ever given, one row per answer, as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from haverford.core.audio import display_path
from haverford.core.errors import HaverfordError
from haverford.core.home import Home
from haverford.db import answers as answers_db

COLUMNS = ["answer_id", "track_id", "title", "path", "content_hash", "segment_id", "segment_index",
           "start_s", "end_s", "question", "question_text", "labeller", "value", "note", "created_at",
           "current", "consensus_verdict", "counted"]


FORMATS = ("csv", "json")
MEDIA_TYPES = {"csv": "text/csv", "json": "application/json"}


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise HaverfordError(f"unknown export format {fmt!r}; use csv or json")


def export_answers(home: Home, out: Path, *, fmt: str = "csv") -> int:
    """Write every answer to ``out`` (written to a temporary name, then renamed); return the row count."""
    _check_format(fmt)
    if out.is_dir():
        raise HaverfordError(f"{out} is a folder; give a file name such as labels.{fmt}")
    if not out.parent.exists():
        raise HaverfordError(f"folder {out.parent} does not exist")
    rows = (_printable(row) for row in answers_db.export_rows(home.connect()))
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        count = _write_csv(f, rows) if fmt == "csv" else _write_json(f, rows)
    os.replace(tmp, out)
    return count


def _printable(row: dict) -> dict:
    """A file path that is not UTF-8 (stored as bytes) written as text, U+FFFD for the odd bytes."""
    if isinstance(row.get("path"), bytes):
        row["path"] = display_path(row["path"])
    return row


def export_text(home: Home, *, fmt: str = "csv") -> str:
    """The document ``export_answers`` writes (byte for byte once encoded as UTF-8), as a string,
    for the dashboard's download button."""
    _check_format(fmt)
    buffer = io.StringIO(newline="")
    rows = answers_db.export_rows(home.connect())
    _write_csv(buffer, rows) if fmt == "csv" else _write_json(buffer, rows)
    return buffer.getvalue()


def _write_csv(f, rows) -> int:
    writer = csv.DictWriter(f, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    for row in rows:  # streamed: an export of every answer never sits in memory at once
        writer.writerow(row)
        count += 1
    return count


def _write_json(f, rows) -> int:
    data = [{**row, "current": bool(row["current"]), "counted": bool(row["counted"])} for row in rows]
    json.dump(data, f, ensure_ascii=False, indent=1)
    return len(data)
