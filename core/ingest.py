"""The ingest workflows: files and folders in, tracks, segments, features and folder labels out
(``ingest``), and a feature computed for every track that lacks it (``compute_missing``).

Each file is decoded, resampled, cut and turned into features in a worker (``analyse``, run by
``pool``, one per core); this process finds the files (``discover``), hashes each just before
handing it out, skips what the library already holds, and alone writes the database, one
short transaction per track (``intake``). One bad file never stops the others: its error is
collected and reported (``ingest_report``).

Finding files, relocating, uploads and the report live in their own modules
(``core.discover``, ``core.relocate``, ``core.uploads``, ``core.ingest_report``); import from those.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from haverford.core import audio, features, pool
from haverford.core.config import DEFAULT_FEATURE
from haverford.core.discover import conflicting_hashes, discover, file_size
from haverford.core.errors import AudioError
from haverford.core.ingest_report import IngestReport
from haverford.core.intake import Intake, hash_or_error
from haverford.core.roles import require

if TYPE_CHECKING:
    from haverford.core.home import Home


Progress = Callable[[int, int, str], None]


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


def ingest(home: Home, paths: Iterable[str | os.PathLike], *, label: str | None = None,
           labeller: str = "import", feature_names: Iterable[str] = (DEFAULT_FEATURE,),
           source: str = "import", workers: int | None = None, progress: Progress | None = None,
           titles: dict[str, str] | None = None) -> IngestReport:
    """Import audio files and folders into ``home``; see DESIGN.md for the contract.

    ``titles`` maps a path to the title to store instead of its file name (uploads).
    Raises ``AccessDenied`` for anyone but an admin (with accounts on).
    """
    require(home, "import")
    started = time.perf_counter()
    feature_names = tuple(dict.fromkeys(feature_names))
    for name in feature_names:
        features.stored_feature(name)
    candidates, ignored, missing = discover(paths, label=label, titles=titles)
    report = IngestReport(skipped=ignored, errors=missing)
    intake = Intake(home, report, feature_names, conflicting_hashes(candidates), labeller=labeller,
                    source=source)
    largest_first = sorted(candidates, key=lambda c: -file_size(c.path))
    workers = pool.worker_count(workers, len(candidates))
    tick = _Ticker(progress, len(candidates))
    with pool.worker_pool(workers) as executor:
        jobs = pool.Pipeline(executor, largest_first, intake.prepare, lambda c: tick(c.path), depth=2 * workers)
        if not home.db_path.exists():  # a new library has nothing to skip: decode while it is created
            jobs.fill(workers)
        intake.open_library()
        for candidate, future in jobs.completed():
            intake.finish(candidate, future)
            tick(candidate.path)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def compute_missing(home: Home, feature: str, *, workers: int | None = None,
                    progress: Progress | None = None) -> IngestReport:
    """Compute ``feature`` for every track that lacks it, decoding each track's audio once more."""
    from haverford.db import tracks as tracks_db

    started = time.perf_counter()
    features.stored_feature(feature)
    db = home.connect()
    todo = tracks_db.tracks_missing_feature(db, feature)
    report = IngestReport()
    tick = _Ticker(progress, len(todo))

    def prepare(track: dict) -> dict | None:
        path = Path(track["path"])
        digest = hash_or_error(path, report)
        if digest is not None and digest != track["content_hash"]:
            report.errors.append({"path": track["path"], "error": "file changed since import (content hash differs)"})
            digest = None
        if not digest:
            return None
        return {"path": path, "digest": digest, "store_root": str(home.store.root), "feature_names": (feature,)}

    workers = pool.worker_count(workers, len(todo))
    with pool.worker_pool(workers) as executor:
        jobs = pool.Pipeline(executor, todo, prepare, lambda t: tick(t["path"]), depth=2 * workers)
        for track, future in jobs.completed():
            try:
                result = future.result()
            except (AudioError, OSError) as exc:  # reported per track, the others go on
                report.errors.append({"path": audio.display_path(track["path"]), "error": str(exc)})
            else:
                tracks_db.add_features(db, track["id"], result["features"])
                report.segments_added += result["track"]["n_segments"]
                report.track_ids.append(track["id"])
            tick(track["path"])
    report.seconds = round(time.perf_counter() - started, 3)
    return report
