"""Read-only views of the library for tables: tracks with their label mix (segments: db.labelling)."""

from __future__ import annotations

import sqlite_utils

TRACKS_SQL = """
SELECT t.id, t.title, t.duration_s, t.n_segments, t.orig_sr, t.orig_channels, t.source, t.imported_at,
       COUNT(v.segment_id) FILTER (WHERE v.n_labellers > 0) AS labelled,
       COUNT(v.segment_id) FILTER (WHERE v.verdict = 'banger') AS banger,
       COUNT(v.segment_id) FILTER (WHERE v.verdict = 'not_a_banger') AS not_a_banger,
       COUNT(v.segment_id) FILTER (WHERE v.n_labellers > 0 AND v.verdict IS NULL) AS tied,
       COALESCE(SUM(s.silent), 0) AS silent, t.path
FROM tracks t LEFT JOIN segments s ON s.track_id = t.id
LEFT JOIN segment_verdicts v ON v.segment_id = s.id
GROUP BY t.id ORDER BY t.title COLLATE NOCASE, t.id
"""


def tracks_overview(db: sqlite_utils.Database) -> list[dict]:
    """Every track with its segment count, how many are silent and how many carry each verdict.

    A path that is not UTF-8 (stored as bytes) comes back as text with U+FFFD for the odd bytes.
    """
    return [{**row, "path": row["path"].decode("utf-8", errors="replace")} if isinstance(row["path"], bytes)
            else row for row in db.query(TRACKS_SQL)]
