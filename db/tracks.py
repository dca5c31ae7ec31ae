"""Tracks, their segments and which features the store holds for them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import sqlite_utils

from haverford.db.connection import now, write


def path_value(path: str) -> str | bytes:
    """``path`` as SQLite stores it: text, or the file system's bytes when they are not UTF-8
    (a name with a Latin-1 byte, which Python holds as a lone surrogate that no text column takes)."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def _with_path(row: dict) -> dict:
    """A row whose ``path`` is a ``str`` again, whichever way it was stored."""
    if isinstance(row.get("path"), bytes):
        row["path"] = os.fsdecode(row["path"])
    return row


def track_id_by_hash(db: sqlite_utils.Database, content_hash: str) -> int | None:
    """The id of the track with this content hash, or None."""
    row = db.execute("SELECT id FROM tracks WHERE content_hash = ?", [content_hash]).fetchone()
    return row[0] if row else None


def track_by_hash(db: sqlite_utils.Database, content_hash: str) -> dict | None:
    """The track (id, path, title) with this content hash, or None."""
    rows = list(db.query("SELECT id, path, title FROM tracks WHERE content_hash = ?", [content_hash]))
    return _with_path(rows[0]) if rows else None


def known_hashes(db: sqlite_utils.Database) -> set[str]:
    """Content hashes of every track in the library."""
    return {row[0] for row in db.execute("SELECT content_hash FROM tracks")}


def insert_track(db: sqlite_utils.Database, track: dict, *, segment_s: float,
                 features: Iterable[dict] = (), silent: Iterable[bool] = ()) -> int | None:
    """Insert a track, its ``track['n_segments']`` segments and feature rows in one transaction.

    ``track`` holds the ``tracks`` columns except ``id`` and ``imported_at``; ``silent`` flags
    the segments too quiet to judge. The content hash is checked inside the transaction, so
    two processes importing the same file store it once. Returns the new track id, or None
    when the library already holds this content.
    """
    flags = list(silent) or [False] * track["n_segments"]
    with write(db):
        if track_id_by_hash(db, track["content_hash"]) is not None:
            return None
        row = {**track, "path": path_value(track["path"]), "imported_at": now()}
        track_id = int(db.table("tracks").insert(row).last_pk or 0)
        db.table("segments").insert_all(
            {"track_id": track_id, "idx": i, "start_s": i * segment_s, "end_s": (i + 1) * segment_s,
             "silent": int(flags[i])}
            for i in range(track["n_segments"])
        )
        add_features(db, track_id, features)
    return track_id


def set_path(db: sqlite_utils.Database, track_id: int, path: str) -> None:
    """Point a track at its file's new place (the music moved)."""
    with write(db):
        db.execute("UPDATE tracks SET path = ? WHERE id = ?", [path_value(path), track_id])


def tracks_paths(db: sqlite_utils.Database) -> list[dict]:
    """Every track's id, path and content hash, in id order."""
    return [_with_path(r) for r in db.query("SELECT id, path, content_hash FROM tracks ORDER BY id")]


def add_features(db: sqlite_utils.Database, track_id: int, features: Iterable[dict]) -> None:
    """Record feature files written to the store for ``track_id`` (replacing older rows)."""
    rows = [{**f, "track_id": track_id, "created_at": now()} for f in features]
    if rows:
        db.table("features").upsert_all(rows, pk=("track_id", "feature"))


def segment_ids(db: sqlite_utils.Database, track_id: int, *, audible_only: bool = False) -> list[int]:
    """Segment ids of a track in time order (only those not ``silent`` with ``audible_only``)."""
    sql = "SELECT id FROM segments WHERE track_id = ? AND (silent = 0 OR NOT ?) ORDER BY idx"
    return [row[0] for row in db.execute(sql, [track_id, int(audible_only)])]


def get_track(db: sqlite_utils.Database, track_id: int) -> dict | None:
    """One track as a dict, or None."""
    rows = list(db.query("SELECT * FROM tracks WHERE id = ?", [track_id]))
    return _with_path(rows[0]) if rows else None


def get_segment(db: sqlite_utils.Database, segment_id: int) -> dict | None:
    """One segment with its track's path, title and hash, or None."""
    sql = """SELECT s.*, t.path, t.title, t.content_hash, t.n_segments
             FROM segments s JOIN tracks t ON t.id = s.track_id WHERE s.id = ?"""
    rows = list(db.query(sql, [segment_id]))
    return _with_path(rows[0]) if rows else None


def segment_locations(db: sqlite_utils.Database, ids: list[int], feature: str) -> list[dict]:
    """Where the features of each segment id live: ``{segment_id, track_id, idx, path}``.

    Segments whose track has no stored ``feature`` come back with ``path`` None.
    """
    sql = """SELECT w.value AS segment_id, s.track_id, s.idx, f.path
             FROM json_each(?) w JOIN segments s ON s.id = w.value
             LEFT JOIN features f ON f.track_id = s.track_id AND f.feature = ?
             ORDER BY w.key"""
    return list(db.query(sql, [json.dumps([int(i) for i in ids]), feature]))


def tracks_missing_feature(db: sqlite_utils.Database, feature: str) -> list[dict]:
    """Tracks whose ``feature`` is not in the store yet (id, path, content_hash, n_segments)."""
    sql = """SELECT t.id, t.path, t.content_hash, t.n_segments FROM tracks t
             WHERE NOT EXISTS (SELECT 1 FROM features f WHERE f.track_id = t.id AND f.feature = ?)
             ORDER BY t.id"""
    return [_with_path(r) for r in db.query(sql, [feature])]


def counts(db: sqlite_utils.Database) -> dict:
    """Library totals: tracks, segments, hours of audio, labelled segments."""
    row = db.execute("""SELECT (SELECT COUNT(*) FROM tracks), (SELECT COUNT(*) FROM segments),
                               (SELECT COALESCE(SUM(duration_s), 0) FROM tracks),
                               (SELECT COUNT(*) FROM segment_verdicts WHERE n_labellers > 0)""").fetchone()
    return {"tracks": row[0], "segments": row[1], "hours": row[2] / 3600, "labelled_segments": row[3]}
