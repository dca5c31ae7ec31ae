"""Label page: one segment at a time, Haverford's test as widgets, B / N save and move on."""

import streamlit as st

from haverford.core import catalogue, labelling, questionnaire
from haverford.core.errors import HaverfordError
from haverford.core.haverford import as_bool, is_asked
from haverford.core.vocabulary import AMBIGUOUS, BANGER, NOT_A_BANGER, QUEUE_MODES, QUEUE_TITLES, VERDICT_NAMES
from haverford.dashboard import clip
from haverford.dashboard.context import connect


@st.cache_data(max_entries=64, show_spinner=False)
def tempo_suggestion(path: str, start_s: float, duration_s: float) -> float | None:
    """librosa's tempo estimate for a segment (cached per segment)."""
    return labelling.suggest_tempo(clip.segment_audio(path, start_s, duration_s))


def widget_key(segment_id: int, key: str) -> str:
    return f"label_{segment_id}_{key}"


def form_answers(segment_id: int, questions: list[dict]) -> dict:
    """The values currently in the form's widgets, question key → value."""
    return {q["key"]: st.session_state.get(widget_key(segment_id, q["key"])) for q in questions
            if q.get("role") != "verdict"}


def _advance(db, segment_id: int, labeller: str) -> None:
    mode = st.session_state.get("label_mode") or "unlabelled_by_me"
    st.session_state["label_segment"] = labelling.next_segment(db, mode=mode, labeller=labeller, after=segment_id)


def save(segment_id: int, verdict: str | None, *, whole_track: bool = False) -> None:
    """Button callback: save the form (with ``verdict``) in one transaction, then move on."""
    db = connect()
    labeller = st.session_state.get("app_labeller", "")
    questions = questionnaire.list_questions(db)
    answers = form_answers(segment_id, questions)
    verdict_key = next((q["key"] for q in questions if q.get("role") == "verdict"), None)
    if verdict and verdict_key:
        answers[verdict_key] = verdict
    try:
        ids = [segment_id]
        if whole_track:
            ids = catalogue.segment_ids(db, catalogue.get_segment(db, segment_id)["track_id"])
            answers = {verdict_key: verdict}
        n = labelling.save_form(db, ids, labeller, answers, questions)
        _advance(db, segment_id, labeller.strip())
        st.session_state["label_flash"] = (f"Saved {n} answer{'s' if n != 1 else ''} "
                                           f"({VERDICT_NAMES.get(verdict, 'no verdict')}).")
    except HaverfordError as exc:
        st.session_state["label_error"] = str(exc)


def skip(segment_id: int) -> None:
    """Button callback: move on without saving."""
    _advance(connect(), segment_id, st.session_state.get("app_labeller", "").strip())


def _reset_queue() -> None:
    st.session_state["label_segment"] = None


def render_question(q: dict, segment_id: int, saved: dict, segment: dict) -> None:
    """One widget for one question, prefilled with this labeller's latest answer."""
    key, opts = widget_key(segment_id, q["key"]), q["options"]
    if key not in st.session_state and saved.get(q["key"]) is not None:
        st.session_state[key] = _prefill(q, saved[q["key"]])
    label, help_ = q["text"], q.get("help")
    kind = q["kind"]
    if kind == "yes_no":
        st.segmented_control(label, [1, 0], format_func=lambda v: "yes" if v else "no", key=key, help=help_)
    elif kind in ("number", "count"):
        _number(q, key, label, help_, segment)
    elif kind == "rating":
        st.segmented_control(label, list(range(int(opts.get("min", 1)), int(opts.get("max", 10)) + 1)),
                             key=key, help=help_)
    elif kind == "choice":
        st.segmented_control(label, opts.get("choices", []), key=key, help=help_)
    else:
        st.text_input(label, key=key, help=help_, max_chars=500)


def _prefill(q: dict, value):
    if q["kind"] == "yes_no":
        return int(bool(as_bool(value)))
    if q["kind"] in ("count", "rating"):
        return int(float(value))
    if q["kind"] == "number":
        return float(value)
    return value


def _number(q: dict, key: str, label: str, help_: str | None, segment: dict) -> None:
    opts = q["options"]
    is_count = q["kind"] == "count"
    cast = int if is_count else float
    st.number_input(label, min_value=cast(opts.get("min", 0)), max_value=cast(opts.get("max", 1e9)),
                    step=cast(opts.get("step", 1)), value=None, key=key, help=help_,
                    placeholder="type a number")
    if opts.get("suggest") == "tempo":
        _tempo_hint(key, segment, cast)


def _tempo_hint(key: str, segment: dict, cast) -> None:
    try:
        bpm = tempo_suggestion(segment["path"], segment["start_s"], segment["end_s"] - segment["start_s"])
    except HaverfordError:
        return
    if bpm is None:
        st.caption("No tempo could be estimated from the audio.")
        return
    value = cast(round(bpm))
    st.button(f"Use suggested {value:g} BPM (librosa's estimate)", key=f"{key}_suggest",
              on_click=st.session_state.__setitem__, args=(key, value))


def render_form(db, segment: dict, labeller: str, questions: list[dict]) -> None:
    """Haverford's test for the segment, the live verdict of Haverford's algorithm and the buttons."""
    saved = labelling.my_answers(db, segment["id"], labeller)
    answers: dict = {}
    for q in questions:
        if q.get("role") == "verdict" or not is_asked(q, answers):
            continue
        render_question(q, segment["id"], saved, segment)
        answers[q["key"]] = st.session_state.get(widget_key(segment["id"], q["key"]))
    decision = labelling.live_decision(answers, questions)
    if decision.verdict:
        st.info(f"Haverford's algorithm says: {VERDICT_NAMES[decision.verdict]} ({'; '.join(decision.reasons)})")
    else:
        st.caption(f"Haverford's algorithm needs: {', '.join(decision.missing) or 'its rules'}")
    mine = saved.get(next((q["key"] for q in questions if q.get("role") == "verdict"), ""), None)
    if mine:
        st.caption(f"Your verdict so far: {VERDICT_NAMES.get(mine, mine)}. "
                   "Answering again keeps the old one in history.")
    _buttons(segment["id"])


def _buttons(segment_id: int) -> None:
    row = st.container(horizontal=True)
    row.button("Banger", key="label_banger", type="primary", shortcut="B", on_click=save,
               args=(segment_id, BANGER), icon=":material/local_fire_department:")
    row.button("Not a banger", key="label_not", type="secondary", shortcut="N", on_click=save,
               args=(segment_id, NOT_A_BANGER), icon=":material/block:")
    row.button("Ambiguous", key="label_ambiguous", shortcut="A", on_click=save, args=(segment_id, AMBIGUOUS),
               help="Neither clearly: counted as labelled, left out of training")
    row.button("Skip", key="label_skip", shortcut="S", on_click=skip, args=(segment_id,))
    st.button("Save answers without a verdict", key="label_save_only", on_click=save, args=(segment_id, None))
    with st.expander("Label the whole track at once (the seed labelled by track)"):
        st.caption("Stores the verdict for every segment of this track; earlier answers stay in the history.")
        x, y = st.columns(2)
        x.button("Whole track: banger", key="label_track_banger", on_click=save,
                 args=(segment_id, BANGER), kwargs={"whole_track": True})
        y.button("Whole track: not a banger", key="label_track_not", on_click=save,
                 args=(segment_id, NOT_A_BANGER), kwargs={"whole_track": True})


def main() -> None:
    st.title("Label")
    db = connect()
    if catalogue.counts(db)["tracks"] == 0:
        st.info("Nothing to label yet: import music on the Library page (or run `haverford demo`).")
        return
    labeller = st.session_state.get("app_labeller", "").strip()
    if not labeller:
        st.warning("Enter your name in the sidebar first: every answer is stored with it.")
        return
    modes = [m for m in QUEUE_MODES if m != "most_uncertain" or catalogue.active_model_id(db) is not None]
    mode = st.segmented_control("Queue", modes, format_func=QUEUE_TITLES.get,
                                default="unlabelled_by_me", required=True, key="label_mode",
                                on_change=_reset_queue)
    for kind in ("label_flash", "label_error"):
        if st.session_state.get(kind):
            (st.success if kind == "label_flash" else st.error)(st.session_state.pop(kind))
    if st.session_state.get("label_segment") is None:
        st.session_state["label_segment"] = labelling.next_segment(db, mode=mode, labeller=labeller)
    if st.session_state["label_segment"] is None:
        st.success("Nothing left in this queue. Pick another queue mode above.")
        return
    left, right = st.columns([3, 2], gap="large")
    with left:
        segment = clip.render(db, "label_segment")
    if segment is not None:
        with right:
            render_form(db, segment, labeller, questionnaire.list_questions(db))


main()
