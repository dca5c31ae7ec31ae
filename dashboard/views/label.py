"""Label page: one segment at a time, Haverford's test as widgets, B / N save and move on.

Every step can be done from the keyboard (the key map is shown on the page): Streamlit's
``shortcut=`` on the buttons, and ``dashboard/keys.js`` for playing the clip and answering the
questions. ``?segment=ID`` opens a segment; the URL always names the segment shown.
"""

import random
from pathlib import Path

import streamlit as st

from haverford.core import catalogue, labelling, questionnaire, queues, tempo
from haverford.core.errors import HaverfordError
from haverford.core.haverford import as_bool, is_asked
from haverford.core.vocabulary import AMBIGUOUS, BANGER, NOT_A_BANGER, QUEUE_MODES, QUEUE_TITLES, VERDICT_NAMES
from haverford.dashboard import clip
from haverford.dashboard.context import connect

KEYS_JS = (Path(__file__).parents[1] / "keys.js").read_text(encoding="utf-8")
# st.html's sanitiser (DOMPurify) drops a <script> whose text holds "<" before a letter, "/" or "!"
# (tests/test_labelux.py keeps keys.js free of them).
SEGMENT_PARAM = "segment"
TEMPO_WAIT_S = 60  # the first estimate after a start imports librosa in the worker


def widget_key(segment_id: int, key: str) -> str:
    return f"label_{segment_id}_{key}"


def form_answers(segment_id: int, questions: list[dict]) -> dict:
    """The values currently in the form's widgets, question key → value."""
    return {q["key"]: st.session_state.get(widget_key(segment_id, q["key"])) for q in questions
            if q.get("role") != "verdict"}


def _advance(db, segment_id: int, labeller: str) -> None:
    mode = st.session_state.get("label_mode") or "unlabelled_by_me"
    st.session_state["label_segment"] = queues.next_segment(db, mode=mode, labeller=labeller, after=segment_id,
                                                               skipped=skipped(), seed=_next_seed())


def _next_seed() -> float:
    """Where the random queue goes after the segment shown: drawn once per segment, so that the
    clip prepared in the background (``prefetch_next``) is the one shown next."""
    return st.session_state.setdefault("label_next_seed", random.random())


def prefetch_next(segment_id: int, labeller: str) -> None:
    """Prepare the next clip of the queue while the labeller listens to this one."""
    st.session_state.pop("label_next_seed", None)
    mode = st.session_state.get("label_mode") or "unlabelled_by_me"
    after, skip, seed = segment_id, skipped() | {segment_id}, _next_seed()

    def find() -> dict | None:
        db = connect()  # this runs in the prefetch thread: a connection of its own
        nxt = queues.next_segment(db, mode=mode, labeller=labeller, after=after, skipped=skip, seed=seed)
        return catalogue.get_segment(db, nxt) if nxt is not None else None

    clip.prefetch(find)


def skipped() -> set[int]:
    """The segments skipped in this browser session: no queue offers them again."""
    return st.session_state.setdefault("label_skipped", set())


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
    """Button callback: move on without saving; the segment leaves the queue for this session."""
    skipped().add(int(segment_id))
    _advance(connect(), segment_id, st.session_state.get("app_labeller", "").strip())


def _reset_queue() -> None:
    """A queue was chosen: jump to its first segment."""
    db = connect()
    mode = st.session_state.get("label_mode") or "unlabelled_by_me"
    labeller = st.session_state.get("app_labeller", "").strip()
    st.session_state["label_segment"] = queues.next_segment(db, mode=mode, labeller=labeller, skipped=skipped())


def render_question(q: dict, segment_id: int, saved: dict, segment: dict) -> None:
    """One widget for one question, prefilled with this labeller's latest answer.

    Its container is keyed ``hvq_<key>``: ``keys.js`` finds the questions by that class.
    """
    with st.container(key=f"hvq_{q['key']}"):
        _question_widget(q, segment_id, saved, segment)


def _question_widget(q: dict, segment_id: int, saved: dict, segment: dict) -> None:
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
                             key=key, help=help_, width="stretch")
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
    """librosa's tempo estimate as a one-key suggestion (``T``).

    The estimate starts in a background worker process when the clip is shown and the page never
    waits for it; only pressing ``T`` (or the button) waits for the estimate, if it is still running
    (the first one after a server start pays librosa's import and compilation, seconds).
    """
    job = _tempo_job(segment)
    bpm = _finished_tempo(job)
    if job.done() and bpm is None:
        st.caption("No tempo could be estimated from the audio.")
        return
    label = f"Use suggested {cast(round(bpm)):g} BPM" if bpm else "Suggest the tempo"
    st.button(f"{label} (librosa's estimate)", key=f"{key}_suggest", shortcut="T", on_click=_use_tempo,
              args=(key, segment, cast))


def _tempo_job(segment: dict):
    return tempo.tempo_job(segment["path"], offset=segment["start_s"],
                           duration=segment["end_s"] - segment["start_s"])


def _finished_tempo(job) -> float | None:
    """The estimate when it is ready (None while running, for silence or an unreadable file)."""
    if not job.done():
        return None
    try:
        return job.result()
    except HaverfordError:
        return None


def _use_tempo(key: str, segment: dict, cast) -> None:
    """Button callback: put the estimate into the BPM box (waiting for it if need be)."""
    try:
        bpm = _tempo_job(segment).result(timeout=TEMPO_WAIT_S)
    except (HaverfordError, TimeoutError) as exc:
        st.session_state["label_error"] = f"No tempo suggestion: {exc or 'the estimate took too long'}"
        return
    if bpm is None:
        st.session_state["label_error"] = "No tempo could be estimated from the audio."
        return
    st.session_state[key] = cast(round(bpm))


def render_form(segment: dict, labeller: str) -> None:
    """Haverford's test for the segment, the live verdict of Haverford's algorithm and the buttons.

    The questions are a fragment: answering one reruns the questionnaire alone, not the clip view
    above it (its figure, audio player and track strip stay as they are, and a playing clip plays
    on). The verdict buttons are outside it: saving moves the whole page to the next clip.
    """
    questions_fragment(segment, labeller)
    _buttons(segment["id"])


@st.fragment
def questions_fragment(segment: dict, labeller: str) -> None:
    """The questions asked so far, prefilled with this labeller's latest answers, and the live verdict."""
    db = connect()
    questions = questionnaire.list_questions(db)
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


KEY_MAP = [("B / N / A", "save the verdict (banger / not a banger / ambiguous) and go to the next clip"),
           ("S", "skip (it leaves the queue until you reload)"), ("← / →", "previous / next segment of the track"),
           ("Space", "play / pause the clip"), ("R", "replay from the start"),
           ("Q or Tab / Shift+Tab", "go to the next / previous question (Esc leaves the questions)"),
           ("0–9 then Enter", "a number (a digit with no question chosen starts at the first)"),
           ("Y / N, 1 / 0", "yes / no while a yes/no question is outlined"),
           ("1–9, 0 = 10", "a rating; choices by their position"), ("T", "use the suggested tempo")]


def key_map(segment_id: int) -> None:
    """The keys of this page, and the script that makes them work (once per browser tab)."""
    rows = "".join(f"<tr><td><kbd>{k}</kbd></td><td>{v}</td></tr>" for k, v in KEY_MAP)
    with st.expander("Keyboard", icon=":material/keyboard:"):
        st.html(f'<div id="hv-keymap" data-segment="{int(segment_id)}"><table>{rows}</table></div>')
    st.html("<style>.hv-active{outline:2px solid #ff4b4b;outline-offset:6px;border-radius:4px}</style>"
            f"<script>{KEYS_JS}</script>", unsafe_allow_javascript=True, width=1)


def open_deep_link(db) -> None:
    """``?segment=ID`` in the URL opens that segment (once: moving on updates the URL)."""
    wanted = st.query_params.get(SEGMENT_PARAM)
    if wanted is None or wanted == st.session_state.get("label_url_segment"):
        return
    st.session_state["label_url_segment"] = wanted
    if wanted.isdigit() and catalogue.get_segment(db, int(wanted)) is not None:
        st.session_state["label_segment"] = int(wanted)
    else:
        st.error(f"No segment {clip.plain(wanted)} in this library: pick one on the Library page.")


def show_in_url(segment_id: int) -> None:
    """The URL names the segment shown, so a reload or a bookmark opens it again."""
    st.session_state["label_url_segment"] = str(segment_id)
    if st.query_params.get(SEGMENT_PARAM) != str(segment_id):
        st.query_params[SEGMENT_PARAM] = str(segment_id)


def queue_picker(db) -> str:
    modes = [m for m in QUEUE_MODES if m != "most_uncertain" or catalogue.active_model_id(db) is not None]
    left, right = st.columns([4, 1])
    mode = left.segmented_control("Queue", modes, format_func=QUEUE_TITLES.get, default="unlabelled_by_me",
                                  required=True, key="label_mode", on_change=_reset_queue)
    right.toggle("Autoplay", key="label_autoplay", help="Play each clip as soon as it is shown")
    return mode


def flash() -> None:
    for kind in ("label_flash", "label_error"):
        if st.session_state.get(kind):
            (st.success if kind == "label_flash" else st.error)(st.session_state.pop(kind))


def main() -> None:
    st.title("Label")
    db = connect()
    # counting 100,000 segments on every key press cost ~10 ms: once a segment is shown there are some
    if st.session_state.get("label_segment") is None and catalogue.counts(db)["tracks"] == 0:
        st.info("Nothing to label yet: import music on the Library page (or run `haverford demo`).")
        return
    labeller = st.session_state.get("app_labeller", "").strip()
    if not labeller:
        st.warning("Enter your name in the sidebar first: every answer is stored with it.")
        return
    open_deep_link(db)
    mode = queue_picker(db)
    flash()
    if st.session_state.get("label_segment") is None:
        st.session_state["label_segment"] = queues.next_segment(db, mode=mode, labeller=labeller,
                                                                   skipped=skipped())
    if st.session_state["label_segment"] is None:
        st.success("Nothing left in this queue. Pick another queue above"
                   + (" (segments you skipped come back after a reload)." if skipped() else "."))
        return
    show_in_url(st.session_state["label_segment"])
    key_map(st.session_state["label_segment"])
    left, right = st.columns([3, 2], gap="large")
    with left:
        segment = clip.render(db, "label_segment", autoplay=st.session_state.get("label_autoplay", False))
    if segment is not None:
        with right:
            render_form(segment, labeller)
        if st.session_state.get("label_prefetched") != segment["id"]:
            st.session_state["label_prefetched"] = segment["id"]
            prefetch_next(segment["id"], labeller)


main()
