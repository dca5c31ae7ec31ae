"""Library page: what is in the library, tracks and segments, with their labels."""

import pandas as pd
import streamlit as st

from dashboard.context import connect, home
from db import library as library_db
from db import tracks as tracks_db

PAGE_SIZE = 50

st.title("Library")
db = connect()
counts = tracks_db.counts(db)
if counts["tracks"] == 0:
    st.info(f"The library at `{home().path}` is empty. Import music with "
            "`haverford ingest PATH...` (folders named `banger` / `not_a_banger` label what is "
            "under them), or build the demo library with `haverford demo`.")
    st.stop()

cols = st.columns(4)
cols[0].metric("Tracks", counts["tracks"])
cols[1].metric("Segments (5 s)", counts["segments"])
cols[2].metric("Hours of audio", f"{counts['hours']:.2f}")
cols[3].metric("Labelled segments", counts["labelled_segments"])

st.subheader("Tracks")
tracks = pd.DataFrame(library_db.tracks_overview(db))
tracks["labelled_share"] = tracks["labelled"] / tracks["n_segments"].clip(lower=1)
st.dataframe(
    tracks[["title", "duration_s", "n_segments", "labelled_share", "banger", "not_a_banger", "tied", "source"]],
    hide_index=True, use_container_width=True,
    column_config={
        "title": "Track", "duration_s": st.column_config.NumberColumn("Duration (s)", format="%.1f"),
        "n_segments": "Segments",
        "labelled_share": st.column_config.ProgressColumn("Labelled", min_value=0.0, max_value=1.0, format="percent"),
        "banger": "Banger", "not_a_banger": "Not a banger", "tied": "Tied", "source": "Source"},
)

st.subheader("Segments")
left, right = st.columns([2, 1])
status = left.segmented_control("Show", list(library_db.SEGMENT_FILTERS), default="all", key="library_status")
rows, total = library_db.segments_page(db, status=status or "all", limit=1)
pages = max(1, -(-total // PAGE_SIZE))
page = right.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key="library_page")
rows, total = library_db.segments_page(db, status=status or "all", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
if not rows:
    st.info("No segments match this filter.")
else:
    st.dataframe(pd.DataFrame(rows), hide_index=True, use_container_width=True,
                 column_config={"id": "Segment", "title": "Track", "idx": "#",
                                "start_s": st.column_config.NumberColumn("Start (s)", format="%.0f"),
                                "end_s": st.column_config.NumberColumn("End (s)", format="%.0f"),
                                "track_id": None})
    st.caption(f"{total} segments match.")
