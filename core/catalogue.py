"""The library as the pages show it: tracks, segments, a track's strip, the segments table.

Read-only views for display, answered by ``haverford.db``; the pages call these (never the
database layer), so every read a page makes has one name in ``core``.
"""

from __future__ import annotations

from haverford.core.haverford import algorithm_verdicts
from haverford.db.library import (
    SEGMENT_FILTERS,
    SEGMENT_SORTS,
    latest_answers,
    neighbours,
    segments_table,
    track_strip,
    track_titles,
)
from haverford.db.library import tracks_overview as _tracks_overview
from haverford.db.models import active_model_id
from haverford.db.questions import list_questions, verdict_question_id
from haverford.db.tracks import counts, get_segment, has_tracks, segment_ids

__all__ = ["SEGMENT_FILTERS", "SEGMENT_SORTS", "active_model_id", "counts", "get_segment", "has_tracks", "neighbours",
           "segment_ids", "segments_page", "strip", "track_titles", "tracks_overview"]


def segments_page(db, *, status: str = "all", track_id: int | None = None, labeller: str | None = None,
                  sort: str = "track", limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    """One page of the segments table and the number that match, each row with the active model's
    P(banger) (``p_banger``) and Haverford's algorithm's verdict from its answers (``algorithm``).

    Raises ``ValueError`` for an unknown ``status`` (see ``SEGMENT_FILTERS``).
    """
    rows, total = segments_table(db, verdict_question=verdict_question_id(db), status=status, track_id=track_id,
                                 labeller=labeller, sort=sort, model_id=active_model_id(db), limit=limit,
                                 offset=offset)
    decided = algorithm_verdicts(latest_answers(db, [r["id"] for r in rows]), list_questions(db))
    for r in rows:
        r["algorithm"] = decided.get(r["id"])
    return rows, total


def strip(db, track_id: int) -> list[dict]:
    """A track's segments with their verdicts and the active model's scores, in order."""
    return track_strip(db, track_id, model_id=active_model_id(db))


def tracks_overview(db) -> list[dict]:
    """Every track with its label mix (``db.library.tracks_overview``) and ``labelled_share``: the
    labelled share of its audible segments (silent ones are never offered for labelling), None
    for a track that is silent throughout."""
    rows = _tracks_overview(db)
    for r in rows:
        audible = r["n_segments"] - r["silent"]
        r["labelled_share"] = r["labelled"] / audible if audible > 0 else None
    return rows
