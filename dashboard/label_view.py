"""The Label page's clip and questionnaire: one custom component that labels at the speed of listening.

Streamlit reruns a page for every widget event, and on a 2-core machine that rerun alone took
longer than a labeller's key press should (``bench/README.md``). So the clip view, the audio, the
questionnaire, the track strip and every key live in the browser, in one component
(``label_view.js``), which holds the clip shown and the next ``AHEAD`` clips of the queue, each
already fetched. A verdict key saves nothing itself: the browser shows the next clip at once and
puts the answers in its *outbox*, a state value it sends to the server; every run here saves the
outbox's records it has not saved yet (by their ids, so a record sent twice is saved once) and
sends their ids back (``acked``), and the browser drops them. A rerun that Streamlit coalesces
with a later one loses nothing: the outbox holds every record until it is acknowledged.

Who moves the view: the browser (a verdict, Skip, ← / →, a strip cell; it counts its moves in
``seq``) or this module (the page opened, a ``?segment=`` link, another queue; it counts in
``nav``). The latest move wins.

Data sent to the browser (``data``)::

    nav, seq_base        the server's move count; the browser's last move the server has seen
    clips                the clip shown first, then the queue ahead (see ``clip_data``)
    strips               track id → the track strip's cells
    questions            Haverford's test without its verdict question (``ask_when`` evaluated there)
    acked, errors        outbox records saved; record id → the one-line error that refused one
    decision             Haverford's algorithm on the draft answers of the clip shown
    pending              clips of the queue still being prepared: the browser asks again soon
    done                 the one-line message when the queue has no further segment

State sent back (``client``)::

    seq, at, after       the browser's move count; the clip it shows (None: the one after ``after``)
    outbox               [{id, segment, answers, verdict, whole_track}]
    skipped              segments skipped in this browser session
    draft                {segment, answers}: the answers typed so far, for the live verdict
    feature, want_tempo  the spectrogram picked; a segment whose tempo suggestion is wanted now
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import streamlit as st
from streamlit import runtime

from haverford.core import audio, catalogue, features, labelling, questionnaire, queues, tempo
from haverford.core.config import SR
from haverford.core.errors import HaverfordError
from haverford.core.vocabulary import VERDICT_NAMES
from haverford.dashboard import charts, clip

AHEAD = 3  # clips of the queue held ready in the browser after the one shown
TEMPO_WAIT_S = 60  # the first estimate after a start imports librosa in the worker
FEATURE_TITLES = {"log_stft": "Seed log STFT", "log_mel": "Log-mel", "percussive_mel": "Percussive log-mel"}
STATE_KEY = "label_view"
SCALE_CSS = "linear-gradient(to right, " + ", ".join(f"{c} {100 * p:.1f}%" for p, c in charts.SPECTROGRAM_COLORS) + ")"
_HERE = Path(__file__).parent
_log = logging.getLogger(__name__)

_component = st.components.v2.component(
    "haverford_label_view",
    html='<div class="hv-label"></div>',
    css=(_HERE / "label_view.css").read_text(encoding="utf-8"),
    js=(_HERE / "label_view.js").read_text(encoding="utf-8"),
    isolate_styles=False,  # in the page's own document: its keys, tests and the bench find it
)


class _Prepared:
    """Clip media prepared for the browser (WAV bytes, spectrogram picture, axes), most recent
    ``size`` kept; filled by the script thread and by the background thread that prepares the
    queue ahead. ``get`` never computes, so a run can ask what is ready without waiting."""

    def __init__(self, size: int = 48) -> None:
        self._items: OrderedDict[tuple, dict] = OrderedDict()
        self._running: set[tuple] = set()
        self._lock = threading.Lock()
        self._size = size
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="haverford-label-prepare")

    def get(self, key: tuple) -> dict | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def compute(self, key: tuple) -> dict:
        item = self.get(key)
        if item is None:
            item = _media(*key)
            with self._lock:
                self._items[key] = item
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        return item

    def submit(self, key: tuple) -> None:
        """Prepare ``key`` in the background unless it is ready or already being prepared."""
        with self._lock:
            if key in self._items or key in self._running:
                return
            self._running.add(key)
        self._pool.submit(self._background, key)

    def _background(self, key: tuple) -> None:
        try:
            self.compute(key)
        except HaverfordError:
            pass  # audio that cannot be read: the view says so when the clip is opened (``clip_data``)
        except Exception:
            _log.exception("preparing the clip %s failed", key)
        finally:
            with self._lock:
                self._running.discard(key)


_prepared = _Prepared()


def _media(path: str, offset: float, duration: float, feature: str) -> dict:
    """The WAV bytes, the spectrogram picture and the waveform envelope of one segment
    (``charts.clip_picture``); raises ``HaverfordError`` for audio that cannot be read."""
    y = clip.segment_audio(path, offset=offset, duration=duration)
    S_db = features.compute(feature, y)[0]
    freqs = None if feature == "log_stft" else clip.mel_centres()
    return {"wav": clip.segment_wav(path, offset=offset, duration=duration),
            **charts.clip_picture(y, S_db, freqs=freqs, start_s=offset)}


def warm() -> None:
    """Prepare one generated clip (a second of clicks): the first clip after a start then pays
    no first-use costs (Pillow's PNG writer, FFT plans, the WAV writer), about 0.1 s of its run."""
    y = np.zeros(SR, dtype=np.float32)
    y[:: SR // 4] = 0.5
    charts.clip_picture(y, features.compute("log_stft", y)[0])
    sf.write(io.BytesIO(), y, SR, format="WAV", subtype="PCM_16")


def _key(segment: dict, feature: str) -> tuple:
    return (segment["path"], float(segment["start_s"]), float(segment["end_s"] - segment["start_s"]), feature)


def _url(data: bytes, mimetype: str, slot: str) -> str:
    """A URL the browser can fetch ``data`` from: Streamlit's media store, as ``st.audio`` uses,
    one entry per slot of the view, so a clip that leaves the view is dropped from memory."""
    return runtime.get_instance().media_file_mgr.add(data, mimetype, f"{STATE_KEY}.{slot}")


def clip_data(db, segment: dict, *, labeller: str, feature: str, slot: int, wait: bool) -> dict | None:
    """One clip as the browser shows it; None when it is not prepared yet and ``wait`` is False.

    Keys: ``id``, ``track_id``, ``title``, ``idx``, ``n_segments``, ``start_s``, ``end_s``
    (seconds in the track), ``silent``, ``prev_id``/``next_id`` (neighbours in the track),
    ``saved`` (this labeller's latest answers, question key → value), ``audio`` and
    ``picture`` (URLs), ``freq_ticks``, ``env`` (waveform envelope, see ``charts.clip_picture``),
    ``tempo`` (the BPM suggestion: a number, ``"none"`` when none could be made, or None while it
    is being estimated) and ``error`` (the one-line reason the audio cannot be played).
    """
    key = _key(segment, feature)
    out = {k: segment[k] for k in ("id", "track_id", "title", "idx", "n_segments", "start_s", "end_s")}
    out["title"] = str(out["title"])
    out["silent"] = bool(segment.get("silent"))
    out["prev_id"], out["next_id"] = catalogue.neighbours(db, segment["id"])
    out["saved"] = labelling.my_answers(db, segment["id"], labeller)
    try:
        media = _prepared.compute(key) if wait else _prepared.get(key)
    except HaverfordError as exc:
        return out | {"error": f"Cannot play {audio.display_path(segment['path'])}: {exc}"}
    if media is None:
        _prepared.submit(key)
        return None
    out |= {"audio": _url(media["wav"], "audio/wav", f"{slot}.wav"),
            "picture": _url(media["png"], "image/png", f"{slot}.png"),
            "freq_ticks": media["freq_ticks"], "env": media["env"], "t0": media["t0"], "t1": media["t1"],
            "title_feature": charts.SPECTROGRAM_TITLES[feature], "tempo": _tempo(segment), "error": None}
    return out


def _tempo(segment: dict) -> float | str | None:
    job = tempo.tempo_job(segment["path"], offset=segment["start_s"], duration=segment["end_s"] - segment["start_s"])
    if not job.done():
        return None
    try:
        bpm = job.result()
    except (HaverfordError, tempo.WorkerLost):
        return "none"
    return "none" if bpm is None else round(float(bpm), 1)


def _wait_for_tempo(segment: dict) -> str | None:
    """Wait for the segment's tempo estimate (the labeller pressed T before it was ready); the
    one-line reason when there is none."""
    job = tempo.tempo_job(segment["path"], offset=segment["start_s"], duration=segment["end_s"] - segment["start_s"])
    try:
        bpm = job.result(timeout=TEMPO_WAIT_S)
    except tempo.WorkerLost:
        return "No tempo suggestion: its worker process stopped; press T again to start a new one."
    except (HaverfordError, TimeoutError) as exc:
        return f"No tempo suggestion: {exc or 'the estimate took too long'}"
    return None if bpm is not None else "No tempo could be estimated from the audio."


def window(db, first: int, *, mode: str, labeller: str, skipped: set[int], seeds: dict) -> list[int]:
    """``first`` and the next ``AHEAD`` segments of the queue after it (fewer at its end).

    ``seeds`` (segment id → the random queue's draw after it) is kept by the caller, so the
    queue ahead is the same from one run to the next."""
    ids = [first]
    while len(ids) <= AHEAD:
        after = ids[-1]
        seed = seeds.setdefault(after, float(np.random.default_rng().random()))
        nxt = queues.next_segment(db, mode=mode, labeller=labeller, after=after, seed=seed,
                                  skipped=skipped | set(ids))
        if nxt is None or nxt in ids:
            break
        ids.append(nxt)
    return ids


def save_outbox(db, outbox: list[dict], *, labeller: str, questions: list[dict], saved: set[str]) -> dict[str, str]:
    """Save every outbox record whose id is not in ``saved`` (and add it there).

    A record is ``{id, segment, answers, verdict, whole_track}``: ``answers`` question key →
    value, ``verdict`` the verdict key's value (None: answers only), ``whole_track`` stores the
    verdict alone for every segment of the segment's track. Returns record id → the one-line
    error of each record refused (it counts as handled: the browser shows the error).
    """
    errors: dict[str, str] = {}
    verdict_key = questionnaire.verdict_key(questions)
    for record in outbox:
        rid = str(record.get("id"))
        if rid in saved:
            continue
        saved.add(rid)
        try:
            segment = catalogue.get_segment(db, int(record["segment"]))
            if segment is None:
                raise HaverfordError(f"segment {record['segment']} is no longer in this library")
            answers = dict(record.get("answers") or {})
            ids = [segment["id"]]
            if record.get("whole_track"):
                ids = catalogue.segment_ids(db, segment["track_id"])
                answers = {}
            if record.get("verdict") and verdict_key:
                answers[verdict_key] = record["verdict"]
            labelling.save_form(db, ids, labeller, answers, questions)
        except (HaverfordError, KeyError, TypeError, ValueError) as exc:
            errors[rid] = f"Segment {record.get('segment')} not saved: {exc}"
    return errors


def save_pending(db, *, labeller: str) -> None:
    """Save what the label view sent and no run has saved yet: called by every page's run, so
    answers sent just before the labeller left the Label page are not lost with its state."""
    ss = st.session_state
    outbox = _client(ss.get(STATE_KEY) or {}).get("outbox") or []
    saved = ss.get("label_saved_records", set())
    if labeller and any(str(r.get("id")) not in saved for r in outbox):
        errors = save_outbox(db, outbox, labeller=labeller, questions=questionnaire.list_questions(db),
                             saved=ss.setdefault("label_saved_records", set()))
        ss.setdefault("label_record_errors", {}).update(errors)


def move_to(segment_id: int | None) -> None:
    """The server moves the view to ``segment_id`` (None: the queue's end): a queue chosen, a link.

    A move of the browser's that reached the server in the same run (a key pressed just before
    the click) is older than this one: it is taken as seen, so it does not undo this move."""
    ss = st.session_state
    ss["label_segment"] = segment_id
    ss["label_nav"] = ss.get("label_nav", 0) + 1
    ss["label_seq"] = max(ss.get("label_seq", 0), int(_client(ss.get(STATE_KEY) or {}).get("seq") or 0))


def _client(state: dict) -> dict:
    client = state.get("client") if isinstance(state, dict) else None
    return client if isinstance(client, dict) else {}


def render(db, *, labeller: str, mode: str, questions: list[dict]) -> None:
    """Mount the label view (call it inside a fragment: its events rerun that fragment alone).

    ``st.session_state["label_segment"]`` is the segment to show when this module moves the
    view (bump ``label_nav`` with it); the browser's own moves are read back into it.
    """
    ss = st.session_state
    client = _client(ss.get(STATE_KEY) or {})
    saved_ids: set[str] = ss.setdefault("label_saved_records", set())
    skipped: set[int] = ss.setdefault("label_skipped", set())
    errors: dict[str, str] = ss.setdefault("label_record_errors", {})
    outbox = client.get("outbox") or []
    errors.update(save_outbox(db, outbox, labeller=labeller, questions=questions, saved=saved_ids))
    skipped.update(int(s) for s in client.get("skipped") or [])
    if client.get("feature") in FEATURE_TITLES:
        ss["clip_feature"] = client["feature"]
    feature = ss.get("clip_feature") or "log_stft"
    seeds: dict = ss.setdefault("label_seeds", {})

    seq = int(client.get("seq") or 0)
    if seq > ss.get("label_seq", 0):  # the browser moved since the last run
        ss["label_seq"] = seq
        if client.get("at") is not None:
            ss["label_segment"] = int(client["at"])
        else:
            after = client.get("after")
            ss["label_segment"] = queues.next_segment(db, mode=mode, labeller=labeller, skipped=skipped,
                                                      after=int(after) if after is not None else None,
                                                      seed=seeds.get(after))
    first = ss.get("label_segment")
    ids = window(db, first, mode=mode, labeller=labeller, skipped=skipped - {first}, seeds=seeds) if first else []

    clips, segments, pending = [], [], False
    for slot, sid in enumerate(ids):
        segment = catalogue.get_segment(db, sid)
        if segment is None:
            break
        segments.append(segment)
        data = clip_data(db, segment, labeller=labeller, feature=feature, slot=slot, wait=slot == 0)
        if data is None:  # the queue ahead is being prepared: send what is ready, in order
            pending = True
            for later in ids[slot + 1:]:
                later_segment = catalogue.get_segment(db, later)
                if later_segment is not None:
                    _prepared.submit(_key(later_segment, feature))
            break
        clips.append(data)
    pending = pending or any(c.get("tempo") is None and not c.get("error") for c in clips[:1])

    tempo_error = None
    want = client.get("want_tempo")
    if clips and want is not None and int(want) == clips[0]["id"] and clips[0].get("tempo") is None:
        tempo_error = _wait_for_tempo(segments[0])
        clips[0]["tempo"] = _tempo(segments[0])

    verdict_key = questionnaire.verdict_key(questions)
    draft = client.get("draft") or {}
    decision = None
    if clips:  # on the answers typed so far, or those this labeller saved before (the form shows them)
        typed = draft.get("answers") if draft.get("segment") == clips[0]["id"] else None
        answers = typed if typed else {k: v for k, v in clips[0]["saved"].items() if k != verdict_key}
        decision = _decision(answers, questions) | {"segment": clips[0]["id"]}

    strips = {}
    for c in clips:
        if c["track_id"] not in strips:
            strips[c["track_id"]] = [{"id": r["id"], "start_s": r["start_s"], "state": charts.strip_state(r),
                                      "p": r.get("p_banger")} for r in catalogue.strip(db, c["track_id"])]
    data = {
        "nav": ss.get("label_nav", 0), "seq_base": ss.get("label_seq", 0), "labeller": labeller,
        "clips": clips, "strips": strips, "acked": sorted(saved_ids & {str(r.get("id")) for r in outbox}),
        "errors": {k: v for k, v in errors.items() if k in {str(r.get("id")) for r in outbox}},
        "questions": [_question(q) for q in questions if q.get("role") != "verdict"],
        "verdict_key": verdict_key,
        "decision": decision, "pending": pending, "tempo_error": tempo_error, "feature": feature,
        "features": FEATURE_TITLES,
        "scale_css": SCALE_CSS,
        "colours": {str(k): v for k, v in charts.VERDICT_COLOURS.items()},
        "verdict_names": {str(k): v for k, v in charts.VERDICT_NAMES.items()},
        "done": None if first else ("Nothing left in this queue. Pick another queue above"
                                    + (" (segments you skipped come back after a reload)." if skipped else ".")),
    }
    _component(key=STATE_KEY, data=data, default={"client": {}}, on_client_change=lambda: None)
    show_in_url(clips[0]["id"] if clips else None)


def _question(q: dict) -> dict:
    return {k: q.get(k) for k in ("key", "text", "kind", "options", "ask_when", "help")}


def _decision(answers: dict, questions: list[dict]) -> dict:
    """Haverford's algorithm on the draft answers, as the line the view shows under the form."""
    given = {k: v for k, v in answers.items() if v is not None and v != ""}
    decision = labelling.live_decision(given, questions)
    if decision.verdict:
        return {"verdict": decision.verdict,
                "text": f"Haverford's algorithm says: {VERDICT_NAMES[decision.verdict]} ({'; '.join(decision.reasons)})"}
    return {"verdict": None, "text": f"Haverford's algorithm needs: {', '.join(decision.missing) or 'its rules'}"}


SEGMENT_PARAM = "segment"


def show_in_url(segment_id: int | None) -> None:
    """The URL names the segment shown (none at the queue's end), so a reload or a bookmark opens it
    again. The view sets it as it moves; this follows a step behind."""
    if segment_id is None:
        if SEGMENT_PARAM in st.query_params:
            del st.query_params[SEGMENT_PARAM]
    elif st.query_params.get(SEGMENT_PARAM) != str(segment_id):
        st.query_params[SEGMENT_PARAM] = str(segment_id)
