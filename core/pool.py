"""The worker pool that ingest hands files to: how many workers, how they start, and how files
are handed out a few at a time and collected as they finish.

The workers run ``analyse.analyse_file``. They are forked (in the CLI and tests) once the FFT
and mel tables are loaded, so that no worker loads them again.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from haverford.core import analyse, features
from haverford.core.config import DEFAULT_FEATURE

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt(3) parameters
Item = TypeVar("Item")


def warm_up() -> None:
    """Load the FFT and mel tables once, before the workers fork, so that none loads them again."""
    features.compute_many([DEFAULT_FEATURE], np.zeros((1, 4096), dtype=np.float32))


def default_workers() -> int:
    """One worker per core this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def worker_count(requested: int | None, jobs: int) -> int:
    """``requested`` workers (default: one per core), but no more than there are jobs."""
    return max(1, min(requested or default_workers(), jobs or 1))


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of handing it back to the kernel.

    Every batch allocates and frees the same few arrays of 1 to 14 MB; by default glibc maps
    and unmaps them each time, and the kernel zero-fills every 4 KB page on first touch again:
    50,000 page faults and 2 % of an ingest. Forked workers inherit the setting. A no-op
    where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 64 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 512 << 20)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[Executor]:
    """Workers for ``analyse_file``: forked processes when this process has no other threads
    (the CLI, tests), else threads. Forking a threaded server such as Streamlit can deadlock,
    and spawned or fork-server workers would re-run the page script that is ``__main__``
    there; decoding, resampling and FFTs release the GIL, so threads still use both cores.

    BLAS is held to one thread meanwhile, in this process and so in the forked children: the
    workers already use every core, and OpenBLAS threads inherited across a fork spin instead
    of working (measured: 50 % more CPU time for the same ingest).

    Threads too once TensorFlow is loaded (a Retrain computing the ``musicnn`` embedding): a
    child forked from a process whose TensorFlow thread pools exist hangs on its first op.
    """
    with threadpool_limits(1):
        if threading.active_count() > 1 or "tensorflow" in sys.modules:  # a forked TensorFlow can deadlock
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
                yield pool
            return
        warm_up()
        _keep_freed_memory()
        gc.freeze()  # keep the collector off the inherited heap, so its pages stay shared
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
                yield pool
        finally:
            gc.unfreeze()


class Pipeline(Generic[Item]):
    """Hands items to a worker pool a few at a time and yields them back as their jobs finish.

    ``prepare`` runs here, just before an item's job is submitted: it returns the job's
    keyword arguments for ``analyse.analyse_file``, or ``None`` when it dealt with the item
    itself (a known file, an unreadable one). Keeping only a job or two queued per worker
    means a file is never decoded when an earlier one turns out to hold the same audio.
    Each future carries the job's ``digest``, the content hash it was submitted with.
    """

    def __init__(self, pool: Executor, items: Iterable[Item], prepare: Callable[[Item], dict | None],
                 on_skip: Callable[[Item], None], *, depth: int):
        self.pool, self.items, self.prepare, self.on_skip, self.depth = pool, deque(items), prepare, on_skip, depth
        self.running: dict[Future, Item] = {}

    def fill(self, depth: int | None = None) -> None:
        """Submit jobs until ``depth`` (default: the pipeline's) are running or none are left."""
        while self.items and len(self.running) < (depth or self.depth):
            item = self.items.popleft()
            job = self.prepare(item)
            if job is None:
                self.on_skip(item)
            else:
                future = self.pool.submit(analyse.analyse_file, **job)
                future.digest = job["digest"]  # type: ignore[attr-defined]  # read back by the caller
                self.running[future] = item

    def completed(self) -> Iterator[tuple[Item, Future]]:
        """Each item with its finished job, in the order they finish; keeps the pool fed."""
        while True:
            self.fill()
            if not self.running:
                return
            finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
            for future in finished:
                yield self.running.pop(future), future
