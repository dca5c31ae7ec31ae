"""The ingest workflow: files and folders in, tracks, segments, features and folder labels out.

Each file is decoded, resampled, cut and turned into features in a worker process (one per
core); the main process alone writes the database, one short transaction per track. One bad
file never stops the others: its error is collected and reported.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from core import audio, features
from core.config import DEFAULT_FEATURE, LABELS, SEGMENT_SECONDS
from core.errors import AudioError, HaverfordError
from core.home import Home
from core.store import FeatureStore
from db import answers as answers_db
from db import questions as questions_db
from db import tracks as tracks_db
from db import write

AUDIO_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                    ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64"}
BATCH_SEGMENTS = 32

Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    """What an ingest did, as the CLI's JSON reports it."""

    tracks_added: int = 0
    segments_added: int = 0
    skipped: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0
    track_ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    """A file to import and the label its folder (or ``--label``) gives it."""

    path: Path
    label: str | None


def folder_label(path: Path) -> str | None:
    """The label of the nearest enclosing folder named ``banger`` or ``not_a_banger``."""
    for parent in path.parents:
        if parent.name in LABELS:
            return parent.name
    return None


def discover(paths: Iterable[str | os.PathLike], *, label: str | None = None) -> tuple[list[Candidate], list[dict]]:
    """Expand files and folders (recursively, audio extensions only) into candidates.

    Returns the candidates and an error entry for each path that does not exist.
    """
    if label is not None and label not in LABELS:
        raise HaverfordError(f"unknown label {label!r}; use one of: {', '.join(LABELS)}")
    found: list[Candidate] = []
    errors: list[dict] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        elif path.is_file():
            files = [path]
        else:
            errors.append({"path": str(raw), "error": "no such file or folder"})
            continue
        found.extend(Candidate(f.resolve(), label or folder_label(f.resolve())) for f in files)
    return found, errors


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the same audio under another name is the same track."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def analyse_file(path: Path, *, store_root: str, feature_names: tuple[str, ...],
                 skip_hashes: frozenset[str] = frozenset()) -> dict:
    """Decode, validate, segment and featurise one file; write its features to the store.

    Runs in a worker process. Returns the track row (or ``{"duplicate": hash}``); raises
    ``AudioError`` for a file that cannot be used.
    """
    digest = content_hash(path)
    if digest in skip_hashes:
        return {"duplicate": digest}
    info = audio.probe(path)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in feature_names}
    n_segments = 0
    for batch in audio.iter_segments(path, batch=BATCH_SEGMENTS, info=info):
        for name, values in features.compute_many(list(feature_names), batch).items():
            parts[name].append(values.astype(np.float16))
        n_segments += len(batch)
    store = FeatureStore(store_root)
    rows = [store.write(name, digest, np.concatenate(parts[name])) for name in feature_names]
    track = {"path": str(path), "content_hash": digest, "title": path.stem, "duration_s": info.duration_s,
             "orig_sr": info.sr, "orig_channels": info.channels, "n_segments": n_segments,
             "size_bytes": path.stat().st_size}
    return {"track": track, "features": rows}


def warm_up() -> None:
    """Load the FFT and mel tables once, before the workers fork, so that none loads them again."""
    features.compute_many([DEFAULT_FEATURE], np.zeros((1, 4096), dtype=np.float32))


def _worker_init() -> None:
    # One BLAS thread per worker: the workers already use every core.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _pool(workers: int) -> Executor:
    """Workers for ingest: forked processes when this process has no other threads (the CLI,
    tests), else threads. Forking a threaded server such as Streamlit can deadlock, and spawned
    or fork-server workers would re-run the page script that is ``__main__`` there; decoding,
    resampling and FFTs release the GIL, so threads still use both cores.
    """
    if threading.active_count() > 1:
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")
    warm_up()
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_worker_init)


def default_workers() -> int:
    """One worker per core this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def ingest(home: Home, paths: Iterable[str | os.PathLike], *, label: str | None = None,
           labeller: str = "import", feature_names: Iterable[str] = (DEFAULT_FEATURE,),
           source: str = "import", workers: int | None = None, progress: Progress | None = None) -> IngestReport:
    """Import audio files and folders into ``home``; see DESIGN.md for the contract."""
    started = time.perf_counter()
    feature_names = tuple(dict.fromkeys(feature_names))
    for name in feature_names:
        features.get_feature(name)
    candidates, missing = discover(paths, label=label)
    report = IngestReport(errors=missing)
    db = home.connect()
    known = frozenset(tracks_db.known_hashes(db))
    workers = max(1, min(workers or default_workers(), len(candidates) or 1))
    jobs = sorted(candidates, key=lambda c: -c.path.stat().st_size)
    total = len(jobs)
    if progress:
        progress(0, total, "")
    with _pool(workers) as pool:
        futures = {pool.submit(analyse_file, c.path, store_root=str(home.store.root),
                               feature_names=feature_names, skip_hashes=known): c for c in jobs}
        for done, future in enumerate(as_completed(futures), start=1):
            candidate = futures[future]
            _record(db, report, candidate, future, labeller=labeller, source=source)
            if progress:
                progress(done, total, str(candidate.path))
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _record(db, report: IngestReport, candidate: Candidate, future, *, labeller: str, source: str) -> None:
    """Store one worker's result (or its error) in the database and the report."""
    path = str(candidate.path)
    try:
        result = future.result()
    except AudioError as exc:
        report.errors.append({"path": path, "error": str(exc)})
        return
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others; cause kept
        report.errors.append({"path": path, "error": f"{type(exc).__name__}: {exc}"})
        return
    if "duplicate" in result or tracks_db.track_id_by_hash(db, result["track"]["content_hash"]):
        report.skipped.append({"path": path, "reason": "already in the library (same content)"})
        return
    track_id = store_track(db, result, label=candidate.label, labeller=labeller, source=source)
    report.tracks_added += 1
    report.segments_added += result["track"]["n_segments"]
    report.audio_seconds += result["track"]["duration_s"]
    report.track_ids.append(track_id)


def store_track(db, result: dict, *, label: str | None, labeller: str, source: str) -> int:
    """Insert a track with its segments and features, and its label as verdict answers: one transaction."""
    with write(db):
        track_id = tracks_db.insert_track(db, {**result["track"], "source": source},
                                          segment_s=SEGMENT_SECONDS, features=result["features"])
        if label:
            verdict_q = questions_db.verdict_question_id(db)
            answers_db.save_answers(db, tracks_db.segment_ids(db, track_id), labeller, {verdict_q: label},
                                    note=f"label given at {source}")
    return track_id


def compute_missing(home: Home, feature: str, *, workers: int | None = None,
                    progress: Progress | None = None) -> IngestReport:
    """Compute ``feature`` for every track that lacks it, decoding each track's audio once more."""
    started = time.perf_counter()
    features.get_feature(feature)
    db = home.connect()
    todo = tracks_db.tracks_missing_feature(db, feature)
    report = IngestReport()
    if progress:
        progress(0, len(todo), "")
    with _pool(max(1, min(workers or default_workers(), len(todo) or 1))) as pool:
        futures = {pool.submit(analyse_file, Path(t["path"]), store_root=str(home.store.root),
                               feature_names=(feature,)): t for t in todo}
        for done, future in enumerate(as_completed(futures), start=1):
            track = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - reported per track, the others go on
                report.errors.append({"path": track["path"], "error": f"{type(exc).__name__}: {exc}"})
            else:
                _add_recomputed(db, report, track, result)
            if progress:
                progress(done, len(todo), track["path"])
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _add_recomputed(db, report: IngestReport, track: dict, result: dict) -> None:
    if result["track"]["content_hash"] != track["content_hash"]:
        report.errors.append({"path": track["path"], "error": "file changed since import (content hash differs)"})
        return
    tracks_db.add_features(db, track["id"], result["features"])
    report.segments_added += result["track"]["n_segments"]
    report.track_ids.append(track["id"])
