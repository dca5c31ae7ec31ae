"""Read-only views of the library for tables: tracks with their label mix, segments paginated."""

from __future__ import annotations

import sqlite_utils

TRACKS_SQL = """
SELECT t.id, t.title, t.duration_s, t.n_segments, t.orig_sr, t.orig_channels, t.source, t.imported_at,
       COUNT(v.segment_id) FILTER (WHERE v.n_labellers > 0) AS labelled,
       COUNT(v.segment_id) FILTER (WHERE v.verdict = 'banger') AS banger,
       COUNT(v.segment_id) FILTER (WHERE v.verdict = 'not_a_banger') AS not_a_banger,
       COUNT(v.segment_id) FILTER (WHERE v.n_labellers > 0 AND v.verdict IS NULL) AS tied,
       t.path
FROM tracks t LEFT JOIN segments s ON s.track_id = t.id
LEFT JOIN segment_verdicts v ON v.segment_id = s.id
GROUP BY t.id ORDER BY t.title COLLATE NOCASE, t.id
"""


def tracks_overview(db: sqlite_utils.Database) -> list[dict]:
    """Every track with its segment count and how many segments carry each verdict."""
    return list(db.query(TRACKS_SQL))


SEGMENT_FILTERS = {
    "all": "1 = 1",
    "unlabelled": "COALESCE(v.n_labellers, 0) = 0",
    "labelled": "v.n_labellers > 0",
    "banger": "v.verdict = 'banger'",
    "not_a_banger": "v.verdict = 'not_a_banger'",
    "disagreement": "v.banger_votes > 0 AND v.not_votes > 0",
}


def segments_page(db: sqlite_utils.Database, *, status: str = "all", track_id: int | None = None,
                  limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    """One page of segments (with track title and verdict counts) and the total that match."""
    where = f"{SEGMENT_FILTERS[status]} AND (:track IS NULL OR s.track_id = :track)"
    base = f"FROM segments s JOIN tracks t ON t.id = s.track_id " \
           f"LEFT JOIN segment_verdicts v ON v.segment_id = s.id WHERE {where}"
    params = {"track": track_id, "limit": int(limit), "offset": int(offset)}
    total = db.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0]
    rows = db.query(f"""SELECT s.id, t.title, s.track_id, s.idx, s.start_s, s.end_s,
                               COALESCE(v.n_labellers, 0) AS labellers, v.verdict,
                               COALESCE(v.banger_votes, 0) AS banger_votes,
                               COALESCE(v.not_votes, 0) AS not_votes
                        {base} ORDER BY s.track_id, s.idx LIMIT :limit OFFSET :offset""", params)
    return list(rows), total
