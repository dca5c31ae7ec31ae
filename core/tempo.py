"""The tempo suggestion offered for "How many beats per minute?": librosa's estimate of a clip,
computed in a background process so the Label page never waits for it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from haverford.core.config import SR


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


WorkerLost = BrokenProcessPool  # a job's error when the worker process died under it
WORKER_NICENESS = 5  # below the server and the browser: its first job is seconds of CPU (see warm)
TEMPO_JOBS_KEPT = 256  # segments whose tempo estimate is kept (a few KB in all)
_tempo_pool: ProcessPoolExecutor | None = None
_tempo_jobs: OrderedDict[tuple[str, float, float], Future] = OrderedDict()
_tempo_lock = threading.Lock()


def tempo_job(path: str, *, offset: float, duration: float) -> Future:
    """The tempo estimate of a segment (``suggest_tempo``), computed in a background process.

    The first call starts it; later calls return the same ``Future``, so a page can show the
    clip at once and the suggestion when ``done()``. The first job pays librosa's import and
    numba's compilation of its code (seconds of CPU). In a thread that work held Python's GIL
    and stalled every rerun of the server meanwhile, so it runs in one spawned worker process.
    Its ``result()`` is BPM or None, or raises ``HaverfordError`` when the audio cannot be read,
    or ``WorkerLost`` when the worker died under it (killed, out of memory): the next call for
    that segment starts a new worker and asks again.
    """
    key = (str(path), float(offset), float(duration))
    with _tempo_lock:
        job = _tempo_jobs.get(key)
        if job is None or (job.done() and isinstance(job.exception(), WorkerLost)):
            job = _tempo_jobs[key] = _submit(_segment_tempo, *key)
            while len(_tempo_jobs) > TEMPO_JOBS_KEPT:
                _tempo_jobs.popitem(last=False)
        return job


def _submit(fn, *args) -> Future:
    """Submit to the worker, starting a new one when the last has died (the lock is held)."""
    global _tempo_pool
    try:
        return _pool().submit(fn, *args)
    except WorkerLost:
        _tempo_pool = None
        return _pool().submit(fn, *args)


def warm() -> Future:
    """Start the worker process and make it estimate one generated click track, so that librosa's
    import and numba's compilation are done before the first clip asks for a tempo."""
    with _tempo_lock:
        return _submit(_warm_up)


def _warm_up() -> float | None:
    y = np.zeros(3 * SR, dtype=np.float32)
    y[:: SR // 2] = 1.0  # a click every half second: 120 BPM
    return suggest_tempo(y)


def _pool() -> ProcessPoolExecutor:
    global _tempo_pool
    if _tempo_pool is None:  # spawned, not forked: the server has threads running
        _tempo_pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_start_worker, initargs=(os.getpid(),))
    return _tempo_pool


PARENT_CHECK_S = 1.0


def _start_worker(parent_pid: int) -> None:
    """In the worker: lower its priority, and end it when its parent is gone.

    A worker of ``ProcessPoolExecutor`` waits on a queue whose writing end it holds itself, so it
    never sees its parent die: a server killed with SIGKILL (or a test process that leaves with
    ``os._exit``) left the worker running, 300 MB each, for good. It now checks every
    ``PARENT_CHECK_S`` seconds that its parent is still its parent. Ctrl-C in the terminal of
    ``haverford serve`` reaches the whole process group: the worker ignores it (it printed a
    20-line ``KeyboardInterrupt`` traceback) and ends with the server."""
    os.nice(WORKER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="tempo-parent-watch", daemon=True).start()


def _segment_tempo(path: str, offset: float, duration: float) -> float | None:
    from haverford.core import audio

    return suggest_tempo(audio.load(path, offset=offset, duration=duration))
