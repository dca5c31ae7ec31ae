"""One audio file in, its features in the store out: the part of ingest that runs in workers.

Nothing here touches the database. The workers are forked before the parent process has
loaded it (sqlite-utils imports pandas, 0.35 s of start-up), and they never load it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from haverford.core import audio, features
from haverford.core.config import DEFAULT_FEATURE, TOP_DB
from haverford.core.errors import AudioError
from haverford.core.store import FeatureStore

BATCH_SEGMENTS = 32
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt(3) parameters


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the same audio under another name is the same track."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def featurise(path: Path, feature_names: tuple[str, ...], *, info: audio.AudioInfo,
              decoding: audio.Decoding) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """The features of each batch of segments of ``path``, with which segments are silent.

    A silent segment (``audio.SILENCE_DBFS``) gets every feature at the floor, -80 dB: its
    spectrum, scaled to its own maximum, would otherwise be noise or DC blown up to 0 dB.

    Yields
    ------
    (dict of name → np.ndarray [shape=(k, n_bins, 216), dtype=float32], np.ndarray [shape=(k,), bool])

    Raises
    ------
    AudioError
        When no segment is audible (the message says why: zeros, DC, cancelling channels).
    """
    audible = False
    for batch in audio.iter_segments(path, batch=BATCH_SEGMENTS, info=info, decoding=decoding):
        silent = audio.silent_segments(batch)
        values = features.compute_many(list(feature_names), batch)
        for array in values.values():
            array[silent] = -TOP_DB
        audible = audible or not silent.all()
        yield values, silent
    if not audible:
        raise AudioError(f"{audio.why_silent(path)}; nothing to label")


def analyse_file(path: Path, *, digest: str, store_root: str, feature_names: tuple[str, ...]) -> dict:
    """Decode, validate, segment and featurise one file; write its features to the store.

    ``digest`` is the file's content hash, which names its feature files. Returns the track
    row, which segments are silent, why decoding stopped early (``truncated``, or None) and
    the feature rows for the database; raises ``AudioError`` for a file that cannot be used.
    """
    info = audio.probe(path)
    decoding = audio.Decoding()
    parts: dict[str, list[np.ndarray]] = {name: [] for name in feature_names}
    silent: list[bool] = []
    for values, mask in featurise(path, feature_names, info=info, decoding=decoding):
        for name, array in values.items():
            parts[name].append(array.astype(np.float16))
        silent.extend(bool(s) for s in mask)
    store = FeatureStore(store_root)
    rows = [store.write(name, digest, np.concatenate(parts[name])) for name in feature_names]
    track = {"path": str(path), "content_hash": digest, "title": audio.display_path(path.stem),
             "duration_s": decoding.duration_s, "orig_sr": info.sr, "orig_channels": info.channels,
             "n_segments": len(silent), "size_bytes": path.stat().st_size}
    return {"track": track, "silent": silent, "truncated": decoding.truncated, "features": rows}


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
