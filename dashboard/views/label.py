"""Label page: one segment at a time, Haverford's test, B / N / A save and move on.

The clip, its audio, the questionnaire, the track strip and the keys are one component held in
the browser (``dashboard/label_view.py``): a verdict key shows the next clip at once and the
answers are saved in the background. This page picks the queue and opens ``?segment=ID`` links;
the URL always names the segment shown.
"""

import streamlit as st

from haverford.core import catalogue, questionnaire, queues
from haverford.core.vocabulary import QUEUE_MODES, QUEUE_TITLES
from haverford.dashboard import clip, label_view
from haverford.dashboard.context import connect

SEGMENT_PARAM = label_view.SEGMENT_PARAM


def move_to(segment_id: int | None) -> None:
    """Show ``segment_id`` (None: the queue's end): the server's move, which the view follows."""
    label_view.move_to(segment_id)


def skipped() -> set[int]:
    """The segments skipped in this browser session: no queue offers them again."""
    return st.session_state.setdefault("label_skipped", set())


def _reset_queue() -> None:
    """A queue was chosen: jump to its first segment."""
    mode = st.session_state.get("label_mode") or "unlabelled_by_me"
    labeller = st.session_state.get("app_labeller", "").strip()
    move_to(queues.next_segment(connect(), mode=mode, labeller=labeller, skipped=skipped()))


def open_deep_link(db) -> bool:
    """``?segment=ID`` in the URL of a new browser session opens that segment; True when it did.

    Only then: later the URL follows the clip shown, a step behind a labeller's keys, and other
    pages open a segment with ``clip.open_for_labelling``."""
    wanted = st.query_params.get(SEGMENT_PARAM)
    if wanted is None:
        return False
    if wanted.isdigit() and catalogue.get_segment(db, int(wanted)) is not None:
        move_to(int(wanted))
        return True
    st.error(f"No segment {clip.plain(wanted)} in this library: pick one on the Library page.")
    return False


def queue_picker(db) -> str:
    modes = [m for m in QUEUE_MODES if m != "most_uncertain" or catalogue.active_model_id(db) is not None]
    return st.segmented_control("Queue", modes, format_func=QUEUE_TITLES.get, default="unlabelled_by_me",
                                required=True, key="label_mode", on_change=_reset_queue) or "unlabelled_by_me"


@st.fragment
def label_fragment(labeller: str, mode: str) -> None:
    """The label view: its saves and moves rerun this fragment alone, never the page."""
    db = connect()
    label_view.render(db, labeller=labeller, mode=mode, questions=questionnaire.list_questions(db))


def main() -> None:
    st.title("Label")
    db = connect()
    if "label_nav" not in st.session_state and not catalogue.has_tracks(db):
        st.info("Nothing to label yet: import music on the Library page (or run `haverford demo`).")
        return
    labeller = st.session_state.get("app_labeller", "").strip()
    if not labeller:
        st.warning("Enter your name in the sidebar first: every answer is stored with it.")
        return
    mode = queue_picker(db)
    if "label_nav" not in st.session_state and not open_deep_link(db):  # the page's first run in this session
        move_to(queues.next_segment(db, mode=mode, labeller=labeller, skipped=skipped()))
    label_fragment(labeller, mode)


main()
