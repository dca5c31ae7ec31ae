"""The ingest workflow: files and folders in, tracks, segments, features and folder labels out.

Each file is decoded, resampled, cut and turned into features in a worker (``core.analyse``,
one per core); this process hashes each file just before handing it out, skips what the
library already holds, and alone writes the database, one short transaction per track. One
bad file never stops the others: its error is collected and reported.

The database layer is imported inside the functions: into a new library, the first files are
handed out before it loads. sqlite-utils imports pandas, 0.35 s of start-up that the workers
need not wait for (a tenth of an ingest of an hour of music).
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, TypeVar

from haverford.core import analyse, features
from haverford.core.config import DEFAULT_FEATURE, LABELS, SEGMENT_SECONDS
from haverford.core.errors import AudioError, HaverfordError
from haverford.core.roles import require

if TYPE_CHECKING:
    from haverford.core.home import Home

AUDIO_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                    ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64"}
SAME_CONTENT = "already in the library (same content)"

Progress = Callable[[int, int, str], None]
Item = TypeVar("Item")


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


class _Pipeline(Generic[Item]):
    """Hands items to a worker pool a few at a time and yields them back as their jobs finish.

    ``prepare`` runs here, just before an item's job is submitted: it returns the job's
    keyword arguments for ``analyse.analyse_file``, or ``None`` when it dealt with the item
    itself (a known file, an unreadable one). Keeping only a job or two queued per worker
    means a file is never decoded when an earlier one turns out to hold the same audio.
    """

    def __init__(self, pool: Executor, items: Iterable[Item], prepare: Callable[[Item], dict | None],
                 on_skip: Callable[[Item], None], *, depth: int):
        self.pool, self.items, self.prepare, self.on_skip, self.depth = pool, deque(items), prepare, on_skip, depth
        self.running: dict[Future, Item] = {}

    def fill(self, depth: int | None = None) -> None:
        while self.items and len(self.running) < (depth or self.depth):
            item = self.items.popleft()
            job = self.prepare(item)
            if job is None:
                self.on_skip(item)
            else:
                self.running[self.pool.submit(analyse.analyse_file, **job)] = item

    def completed(self) -> Iterator[tuple[Item, Future]]:
        while True:
            self.fill()
            if not self.running:
                return
            finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
            for future in finished:
                yield self.running.pop(future), future


class _Ticker:
    """Counts finished files for the progress callback."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.done = progress, total, 0
        if progress:
            progress(0, total, "")

    def __call__(self, path: Any) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total, str(path))


def _hash(path: Path, report: IngestReport) -> str | None:
    """The file's content hash, or ``None`` with an error entry when it cannot be read."""
    try:
        return analyse.content_hash(path)
    except OSError as exc:
        report.errors.append({"path": str(path), "error": f"cannot read the file ({exc.strerror or exc})"})
        return None


def ingest(home: Home, paths: Iterable[str | os.PathLike], *, label: str | None = None,
           labeller: str = "import", feature_names: Iterable[str] = (DEFAULT_FEATURE,),
           source: str = "import", workers: int | None = None, progress: Progress | None = None) -> IngestReport:
    """Import audio files and folders into ``home``; see DESIGN.md for the contract."""
    require(home, "import")
    started = time.perf_counter()
    feature_names = tuple(dict.fromkeys(feature_names))
    for name in feature_names:
        features.get_feature(name)
    candidates, missing = discover(paths, label=label)
    report = IngestReport(errors=missing)
    largest_first = sorted(candidates, key=lambda c: -c.path.stat().st_size)
    workers = analyse.worker_count(workers, len(candidates))
    tick = _Ticker(progress, len(candidates))
    seen: set[str] = set()  # in the library, or handed out in this run

    def prepare(candidate: Candidate) -> dict | None:
        digest = _hash(candidate.path, report)
        if digest is None:
            return None
        if digest in seen:
            report.skipped.append({"path": str(candidate.path), "reason": SAME_CONTENT})
            return None
        seen.add(digest)
        return {"path": candidate.path, "digest": digest, "store_root": str(home.store.root),
                "feature_names": feature_names}

    with analyse.worker_pool(workers) as pool:
        jobs = _Pipeline(pool, largest_first, prepare, lambda c: tick(c.path), depth=2 * workers)
        if not home.db_path.exists():  # a new library has nothing to skip: decode while it is created
            jobs.fill(workers)
        from haverford.db import tracks as tracks_db

        db = home.connect()
        seen.update(tracks_db.known_hashes(db))  # _record checks anything handed out before this
        for candidate, future in jobs.completed():
            _record(db, report, candidate, future, labeller=labeller, source=source)
            tick(candidate.path)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _record(db, report: IngestReport, candidate: Candidate, future: Future, *, labeller: str, source: str) -> None:
    """Store one worker's result (or its error) in the database and the report."""
    from haverford.db import tracks as tracks_db

    path = str(candidate.path)
    try:
        result = future.result()
    except AudioError as exc:
        report.errors.append({"path": path, "error": str(exc)})
        return
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others; cause kept
        report.errors.append({"path": path, "error": f"{type(exc).__name__}: {exc}"})
        return
    if tracks_db.track_id_by_hash(db, result["track"]["content_hash"]):
        report.skipped.append({"path": path, "reason": SAME_CONTENT})
        return
    track_id = store_track(db, result, label=candidate.label, labeller=labeller, source=source)
    report.tracks_added += 1
    report.segments_added += result["track"]["n_segments"]
    report.audio_seconds += result["track"]["duration_s"]
    report.track_ids.append(track_id)


def store_track(db, result: dict, *, label: str | None, labeller: str, source: str) -> int:
    """Insert a track with its segments and features, and its label as verdict answers: one transaction."""
    from haverford.db import answers as answers_db
    from haverford.db import questions as questions_db
    from haverford.db import tracks as tracks_db
    from haverford.db import write

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
    from haverford.db import tracks as tracks_db

    started = time.perf_counter()
    features.get_feature(feature)
    db = home.connect()
    todo = tracks_db.tracks_missing_feature(db, feature)
    report = IngestReport()
    tick = _Ticker(progress, len(todo))

    def prepare(track: dict) -> dict | None:
        path = Path(track["path"])
        digest = _hash(path, report)
        if digest is not None and digest != track["content_hash"]:
            report.errors.append({"path": track["path"], "error": "file changed since import (content hash differs)"})
            digest = None
        return digest and {"path": path, "digest": digest, "store_root": str(home.store.root),
                           "feature_names": (feature,)}

    workers = analyse.worker_count(workers, len(todo))
    with analyse.worker_pool(workers) as pool:
        for track, future in _Pipeline(pool, todo, prepare, lambda t: tick(t["path"]), depth=2 * workers).completed():
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - reported per track, the others go on
                report.errors.append({"path": track["path"], "error": f"{type(exc).__name__}: {exc}"})
            else:
                tracks_db.add_features(db, track["id"], result["features"])
                report.segments_added += result["track"]["n_segments"]
                report.track_ids.append(track["id"])
            tick(track["path"])
    report.seconds = round(time.perf_counter() - started, 3)
    return report
