"""Library page: import music, the tracks with their labels and agreement, the segments table."""

from functools import partial

import pandas as pd
import streamlit as st

from haverford.core import agreement, catalogue, export, predict
from haverford.core.config import LABELS
from haverford.core.discover import AUDIO_EXTENSIONS
from haverford.core.errors import HaverfordError
from haverford.core.ingest import ingest
from haverford.core.ingest_report import already_in_library
from haverford.core.uploads import import_uploads
from haverford.core.vocabulary import VERDICT_NAMES, plural
from haverford.dashboard import clip
from haverford.dashboard.context import connect, home

PAGE_SIZE = 50
FILTER_NAMES = {"all": "All", "unlabelled": "Unlabelled", "labelled": "Labelled", "banger": "Banger",
                "not_a_banger": "Not a banger", "disagreement": "Disagreements", "silent": "Silent"}
SORT_NAMES = {"track": "track and time", "most_labellers": "most labellers first",
              "model_score_high": "model score, high first", "model_score_low": "model score, low first"}


def run_import(label: str | None, *, paths: list[str] | None = None, files=None) -> None:
    """Import server ``paths`` or uploaded ``files`` with a progress bar, score the new tracks with
    the active model, and keep the report for ``show_report``."""
    bar = st.progress(0.0, text="Starting…")

    def progress(done: int, total: int, path: str) -> None:
        bar.progress(done / max(total, 1), text=f"{done} of {total} files")

    who = st.session_state.get("app_labeller", "").strip() or "import"
    try:
        if files is not None:
            report = import_uploads(home(), [(f.name, f.getvalue()) for f in files], label=label, labeller=who,
                                    progress=progress)
        else:
            report = ingest(home(), paths or [], label=label, labeller=who, progress=progress)
    except HaverfordError as exc:
        st.error(str(exc))
        return
    with st.spinner("Scoring the new tracks with the active model…"):
        predict.score_tracks(home(), report.track_ids)  # new tracks get the active model's scores at once
    st.session_state["library_report"] = report.to_json()
    st.rerun()  # the counts and tables on this page show what was imported


def summary_line(report: dict) -> str:
    """What was added, how much of it is silent, and how many files were in the library already
    (skipped for their content, not for their extension) or found moved."""
    silent = f", {report['silent_segments']} of them silent" if report["silent_segments"] else ""
    moved = f", {len(report['moved'])} moved" if report["moved"] else ""
    return (f"Imported {plural(report['tracks_added'], 'track')} ({plural(report['segments_added'], 'segment')}"
            f"{silent}) in {report['seconds']:.1f} s; {plural(already_in_library(report['skipped']), 'file')} "
            f"already in the library{moved}.")


REPORT_PARTS = [  # (report key, message kind, heading, columns shown with their names)
    ("errors", st.error, "not imported", {"path": "File", "error": "Error"}),
    ("truncated", st.warning, "cut short: imported with what decodes",
     {"path": "File", "reason": "Why", "decoded_s": "Decoded (s)"}),
    ("conflicts", st.warning, "in conflict: the same content under banger/ and not_a_banger/",
     {"path": "File", "reason": "What happened"}),
    ("moved", st.info, "found at a new place: the library now points there", {"from": "Was at", "to": "Now at"}),
    ("skipped", st.info, "skipped", {"path": "File", "reason": "Why"}),
]


def show_report() -> None:
    """The last import's report: every list the CLI's JSON has, with the names the user gave."""
    report = st.session_state.get("library_report")
    if not report:
        return
    st.success(summary_line(report))
    for key, kind, heading, columns in REPORT_PARTS:
        if report[key]:
            kind(f"{plural(len(report[key]), 'file')} {heading}:")
            st.dataframe(pd.DataFrame(report[key])[list(columns)].rename(columns=columns), hide_index=True,
                         width="stretch", key=f"library_report_{key}")


def import_section(empty: bool) -> None:
    with st.expander("Import music", expanded=empty):
        label = st.selectbox("Label everything imported as", [None, *LABELS], key="library_label",
                             format_func=lambda v: "no label (label it later)" if v is None else v)
        upload, folder = st.tabs(["Upload files", "Folder on the server"])
        with upload:
            files = st.file_uploader("Audio files", accept_multiple_files=True, key="library_upload",
                                     type=sorted(e.lstrip(".") for e in AUDIO_EXTENSIONS))
            if st.button("Import uploaded files", key="library_import_upload", disabled=not files):
                run_import(label, files=files)
        with folder:
            path = st.text_input("Folder or file path on the server", key="library_path",
                                 help="Folders are read recursively; folders named banger / not_a_banger "
                                      "label what is under them.")
            if st.button("Import from path", key="library_import_path", disabled=not path.strip()):
                run_import(label, paths=[path.strip()])
        show_report()


@st.cache_data(max_entries=8, show_spinner=False)
def tracks_overview(db_path: str, stamp: tuple) -> tuple[list[dict], dict]:
    """Tracks with their label mix and agreement; ``stamp`` (latest ids) keys the cache."""
    db = connect()
    return catalogue.tracks_overview(db), agreement.tracks_agreement(db)


def tracks_section(db) -> None:
    st.subheader("Tracks")
    rows, agree = tracks_overview(str(home().db_path), agreement.change_stamp(db))
    tracks = pd.DataFrame(rows)
    tracks["agreement"] = [(agree[t]["agreed"] / agree[t]["multi"]) if t in agree else None for t in tracks["id"]]
    st.dataframe(
        tracks[["title", "duration_s", "n_segments", "silent", "labelled_share", "banger", "not_a_banger", "tied",
                "agreement", "source"]],
        hide_index=True, width="stretch",
        column_config={
            "title": "Track", "duration_s": st.column_config.NumberColumn("Duration (s)", format="%.1f"),
            "n_segments": "Segments",
            "silent": st.column_config.NumberColumn("Silent", help="Segments too quiet to judge: never offered "
                                                    "for labelling, so not counted in Labelled"),
            "labelled_share": st.column_config.ProgressColumn("Labelled", min_value=0.0, max_value=1.0,
                                                              format="percent",
                                                              help="Share of the audible segments with a label"),
            "banger": "Banger", "not_a_banger": "Not a banger", "tied": "Tied",
            "agreement": st.column_config.NumberColumn(
                "Agreement", format="percent",
                help="Share of segments with two or more labellers whose verdicts agree"),
            "source": "Source"})


def segment_filters(db) -> dict:
    a, b, c, d = st.columns([3, 2, 2, 1])
    status = a.segmented_control("Show", list(catalogue.SEGMENT_FILTERS), default="all", required=True,
                                 key="library_status", format_func=FILTER_NAMES.get)
    titles = catalogue.track_titles(db)
    track = b.selectbox("Track", [None, *titles], key="library_track",
                        format_func=lambda t: "all tracks" if t is None else titles[t])
    sort = c.selectbox("Sort by", list(SORT_NAMES), format_func=SORT_NAMES.get, key="library_sort")
    me = st.session_state.get("app_labeller", "").strip()
    mine = d.toggle("Labelled by me", key="library_mine", disabled=not me)
    return {"status": status or "all", "track_id": track, "sort": sort, "labeller": me if mine and me else None}


def segments_section(db) -> None:
    st.subheader("Segments")
    filters = segment_filters(db)
    model_id = catalogue.active_model_id(db)
    page = st.session_state.get("library_page", 1)
    rows, total = catalogue.segments_page(db, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        st.session_state["library_page"] = 1
        st.rerun()
    if not rows:
        st.info("No segments match these filters.")
        return
    table = pd.DataFrame(rows)
    for column in ("verdict", "algorithm"):
        table[column] = table[column].map(lambda v: VERDICT_NAMES.get(v, "—"))
    table.loc[table["silent"].astype(bool) & (table["verdict"] == "—"), "verdict"] = "silent (not labelled)"
    table["labelled_by"] = table["labelled_by"].fillna("—")
    table = clip.with_label_links(table)
    event = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun",
                         selection_mode="single-row", key=f"library_table_{page}",
                         column_config=SEGMENT_COLUMNS | clip.LINK_COLUMN | {"p_banger": None if model_id is None else
                                                          st.column_config.NumberColumn("Model P(banger)",
                                                                                        format="%.2f")})
    st.number_input(f"Page (of {pages}, {total} segments match)", min_value=1, max_value=pages,
                    key="library_page")
    picked = event.selection.rows if event else []
    clip.follow_table("library_segment", f"library_table_{page}", int(table.iloc[picked[0]]["id"]) if picked else None)
    open_segment(db)


SEGMENT_COLUMNS = {
    "id": "Segment", "title": "Track", "idx": None, "track_id": None, "end_s": None,
    "start_s": st.column_config.NumberColumn("Start (s)", format="%.0f"),
    "labellers": "Labellers", "labelled_by": "Labelled by", "verdict": "Verdict",
    "banger_votes": None, "not_votes": None, "algorithm": "Haverford's algorithm",
    "silent": st.column_config.CheckboxColumn("Silent", help="Too quiet to judge: not offered for labelling"),
}


def open_segment(db) -> None:
    clip.render_with_label_link(db, "library_segment", hint="Select a row to see and hear its segment.",
                                button_key="library_label_it")


def export_section() -> None:
    """Download every answer, as ``haverford export`` writes it (built when the button is clicked)."""
    with st.expander("Export labels"):
        st.caption("Every answer ever given, one row per answer, with its track, segment, question, labeller, "
                   "time, whether it is current and the segment's consensus verdict: the same file as "
                   "`haverford export labels.csv` (or `.json`).")
        row = st.container(horizontal=True)
        for fmt in export.FORMATS:
            row.download_button(f"Export {fmt.upper()}", data=partial(export.export_text, home(), fmt=fmt),
                                file_name=f"haverford-labels.{fmt}", mime=export.MEDIA_TYPES[fmt],
                                key=f"library_export_{fmt}", icon=":material/download:", on_click="ignore")


def main() -> None:
    st.title("Library")
    db = connect()
    counts = catalogue.counts(db)
    import_section(counts["tracks"] == 0)
    if counts["tracks"] == 0:
        st.info(f"The library at `{home().path}` is empty. Import music above, or from a terminal with "
                "`haverford ingest PATH...` (folders named `banger` / `not_a_banger` label what is under "
                "them); `haverford demo` builds a demo library.")
        return
    cols = st.columns(4)
    cols[0].metric("Tracks", counts["tracks"])
    cols[1].metric("Segments (5 s)", counts["segments"])
    cols[2].metric("Hours of audio", f"{counts['hours']:.2f}")
    cols[3].metric("Labelled segments", counts["labelled_segments"])
    export_section()
    tracks_section(db)
    segments_section(db)


main()
