"""The labelling queues: which segment a labeller sees next (``vocabulary.QUEUE_MODES``)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import sqlite_utils

from haverford.core.errors import HaverfordError
from haverford.core.vocabulary import QUEUE_MODES
from haverford.db import questions as questions_db
from haverford.db import queues as queues_db


def next_segment(db: sqlite_utils.Database, *, mode: str, labeller: str, after: int | None = None,
                 seed: float | None = None, skipped: Iterable[int] = ()) -> int | None:
    """The next segment of the queue ``mode`` (see ``QUEUE_MODES``) after ``after``.

    Segments in ``skipped`` (the labeller skipped them in this session) are never offered again,
    so no queue bounces between two skipped segments.
    """
    if mode not in QUEUE_MODES:
        raise HaverfordError(f"unknown queue mode {mode!r}; use one of: {', '.join(QUEUE_MODES)}")
    seed = float(np.random.default_rng().random()) if seed is None else seed
    return queues_db.next_segment(db, mode=mode, labeller=labeller, after=after, seed=seed, skipped=skipped,
                                     verdict_question=questions_db.verdict_question_id(db))
