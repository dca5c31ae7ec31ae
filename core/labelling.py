"""Labelling workflows: the queue, saving a labelling form, tempo suggestions, question edits.

The dashboard's labelling page is a thin layer over these functions, so that the same rules
(which questions are asked, what a saved form writes) hold in tests and scripts.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import sqlite_utils

from haverford.core.config import SR
from haverford.core.errors import HaverfordError
from haverford.core.haverford import Decision, decide, is_asked
from haverford.core.roles import require
from haverford.core.vocabulary import QUEUE_MODES, consensus
from haverford.db import answers as answers_db
from haverford.db import labelling as labelling_db
from haverford.db import questions as questions_db

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def check_labeller(labeller: str | None) -> str:
    """The labeller's name, stripped; raise ``HaverfordError`` when it is empty."""
    name = (labeller or "").strip()
    if not name:
        raise HaverfordError("enter your name in the sidebar first: every answer is stored with it")
    return name


def asked_values(answers: Mapping[str, object], questions: list[Mapping]) -> dict[str, object]:
    """The answers that count: given (not None or empty) to active questions that are asked."""
    out = {}
    for q in questions:
        value = answers.get(q["key"])
        if q.get("active", True) and value not in (None, "") and is_asked(q, answers):
            out[q["key"]] = value
    return out


def save_form(db: sqlite_utils.Database, segment_ids: list[int], labeller: str,
              answers: Mapping[str, object], questions: list[Mapping]) -> int:
    """Save one labelling form (question key → value) for ``segment_ids``: one transaction.

    Questions not asked (e.g. dopeness when there are no drops) and blank answers are left out;
    earlier answers stay in the history. Returns the number of answer rows written.
    """
    name = check_labeller(labeller)
    require(db, "label", as_name=name)
    ids = {q["key"]: q["id"] for q in questions}
    values = {ids[k]: v for k, v in asked_values(answers, questions).items()}
    if not values:
        raise HaverfordError("nothing to save: answer at least one question")
    return answers_db.save_answers(db, segment_ids, name, values)


def my_answers(db: sqlite_utils.Database, segment_id: int, labeller: str) -> dict[str, object]:
    """``labeller``'s latest answers for a segment, question key → value."""
    return {r["key"]: r["value"] for r in answers_db.current_answers(db, segment_id, labeller=labeller)}


def live_decision(answers: Mapping[str, object], questions: list[Mapping]) -> Decision:
    """Haverford's algorithm on the answers given so far (verdict None until complete)."""
    return decide(asked_values(answers, questions), questions)


def algorithm_verdicts(rows: list[Mapping], questions: list[Mapping]) -> dict[int, str | None]:
    """Haverford's algorithm per segment: each labeller's answers decided, then the consensus rule
    (``vocabulary.consensus``) over those verdicts, as for people's own verdicts.

    ``rows`` come from ``db.labelling.latest_answers``. A tie or no complete answers gives None.
    """
    by_person: dict[tuple[int, str], dict] = {}
    for r in rows:
        by_person.setdefault((r["segment_id"], r["labeller"]), {})[r["key"]] = r["value"]
    votes: dict[int, list[str | None]] = {}
    for (segment_id, _), answers in by_person.items():
        votes.setdefault(segment_id, []).append(decide(answers, questions).verdict)
    return {s: consensus(v) for s, v in votes.items()}


def next_segment(db: sqlite_utils.Database, *, mode: str, labeller: str, after: int | None = None,
                 seed: float | None = None, skipped: Iterable[int] = ()) -> int | None:
    """The next segment of the queue ``mode`` (see ``QUEUE_MODES``) after ``after``.

    Segments in ``skipped`` (the labeller skipped them in this session) are never offered again,
    so no queue bounces between two skipped segments.
    """
    if mode not in QUEUE_MODES:
        raise HaverfordError(f"unknown queue mode {mode!r}; use one of: {', '.join(QUEUE_MODES)}")
    seed = float(np.random.default_rng().random()) if seed is None else seed
    return labelling_db.next_segment(db, mode=mode, labeller=labeller, after=after, seed=seed, skipped=skipped,
                                     verdict_question=questions_db.verdict_question_id(db))


def suggest_tempo(y: np.ndarray, *, sr: int = SR) -> float | None:
    """A tempo estimate in BPM for a clip (``librosa.feature.tempo``), None for silence.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], mono audio at ``sr`` Hz
    """
    import librosa

    if len(y) < sr or float(np.abs(y).max(initial=0.0)) < 1e-6:
        return None
    onset = librosa.onset.onset_strength(y=y, sr=sr)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=sr, aggregate=np.median)
    value = float(np.atleast_1d(tempo)[0])
    return round(value, 1) if value > 0 else None


TEMPO_JOBS_KEPT = 256  # segments whose tempo estimate is kept (a few KB in all)
_tempo_pool: ProcessPoolExecutor | None = None
_tempo_jobs: OrderedDict[tuple[str, float, float], Future] = OrderedDict()
_tempo_lock = threading.Lock()


def tempo_job(path: str, *, start_s: float, duration_s: float) -> Future:
    """The tempo estimate of a segment (``suggest_tempo``), computed in a background process.

    The first call starts it; later calls return the same ``Future``, so a page can show the
    clip at once and the suggestion when ``done()``. The first job pays librosa's import and
    numba's compilation of its code (seconds of CPU). In a thread that work held Python's GIL
    and stalled every rerun of the server meanwhile, so it runs in one spawned worker process.
    Its ``result()`` is BPM or None, or raises ``HaverfordError`` when the audio cannot be read.
    """
    key = (str(path), float(start_s), float(duration_s))
    with _tempo_lock:
        job = _tempo_jobs.get(key)
        if job is None:
            job = _tempo_jobs[key] = _pool().submit(_segment_tempo, *key)
            while len(_tempo_jobs) > TEMPO_JOBS_KEPT:
                _tempo_jobs.popitem(last=False)
        return job


def _pool() -> ProcessPoolExecutor:
    global _tempo_pool
    if _tempo_pool is None:  # spawned, not forked: the server has threads running
        _tempo_pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _tempo_pool


def _segment_tempo(path: str, start_s: float, duration_s: float) -> float | None:
    from haverford.core import audio

    return suggest_tempo(audio.load(path, start_s=start_s, duration_s=duration_s))


def check_new_question(db: sqlite_utils.Database, *, key: str, text: str, kind: str) -> None:
    """Validate a question about to be added; the error says what to change."""
    if not KEY_PATTERN.match(key or ""):
        raise HaverfordError(f"key {key!r} must be lower-case letters, digits and _ (start with a letter)")
    if questions_db.get_question(db, key) is not None:
        raise HaverfordError(f"a question with key {key!r} already exists (retired questions keep their key)")
    if not (text or "").strip():
        raise HaverfordError("the question needs a text")
    if kind not in questions_db.KINDS:
        raise HaverfordError(f"unknown kind {kind!r}; use one of: {', '.join(questions_db.KINDS)}")


def default_options(kind: str, *, lo: float | None = None, hi: float | None = None,
                    choices: list[str] | None = None) -> dict:
    """The ``options`` of a question of ``kind`` (range for numbers, list for choices)."""
    if kind == "choice":
        clean = [c.strip() for c in (choices or []) if c.strip()]
        if len(clean) < 2:
            raise HaverfordError("a choice question needs at least two choices, one per line")
        return {"choices": clean}
    if kind in ("number", "count", "rating"):
        lo = {"rating": 1, "count": 0}.get(kind, 0) if lo is None else lo
        hi = {"rating": 10, "count": 20}.get(kind, 100) if hi is None else hi
        if lo >= hi:
            raise HaverfordError(f"minimum {lo:g} must be below maximum {hi:g}")
        return {"min": lo, "max": hi}
    return {}


