"""Taking analysed files into the library: which content is known, in flight or failed, and
storing each new track with its segments, features and folder label in one transaction.

The database layer is imported inside the functions: into a new library, the first files are
handed to the workers before it loads.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from haverford.core import analyse, audio
from haverford.core.config import SEGMENT_SECONDS
from haverford.core.discover import Candidate
from haverford.core.errors import AudioError
from haverford.core.ingest_report import SAME_CONTENT, IngestReport, conflict_with_library

if TYPE_CHECKING:
    import sqlite_utils

    from haverford.core.home import Home

def hash_or_error(path: Path, report: IngestReport) -> str | None:
    """The file's content hash, or ``None`` with an error entry when it cannot be read."""
    try:
        return analyse.content_hash(path)
    except OSError as exc:
        report.errors.append({"path": audio.display_path(path),
                              "error": f"cannot read the file ({exc.strerror or exc})"})
        return None


def known_paths(db) -> dict[str, str]:
    """Content hash → stored path of every track in the library."""
    from haverford.db import tracks as tracks_db

    return {row["content_hash"]: row["path"] for row in tracks_db.tracks_paths(db)}


def store_track(db, result: dict, *, label: str | None, labeller: str, source: str) -> int | None:
    """Insert a track with its segments and features, and its label as verdict answers on its
    audible segments: one transaction. Returns None when the library already holds its content."""
    from haverford.db import answers as answers_db
    from haverford.db import questions as questions_db
    from haverford.db import tracks as tracks_db
    from haverford.db import write

    with write(db):
        track_id = tracks_db.insert_track(db, {**result["track"], "source": source}, segment_s=SEGMENT_SECONDS,
                                          features=result["features"], silent=result["silent"])
        if label and track_id is not None:
            verdict_q = questions_db.verdict_question_id(db)
            answers_db.save_answers(db, tracks_db.segment_ids(db, track_id, audible_only=True), labeller,
                                    {verdict_q: label}, note=f"label given at {source}")
    return track_id


class Intake:
    """One ingest's bookkeeping: which content is known, in flight, failed or in conflict.

    A file is decoded once per content: copies met while it is in flight wait for its
    outcome, and share it. Only content that imported is ever "already in the library": a
    file that fails to decode is an error, and so is each of its copies.
    """

    def __init__(self, home: Home, report: IngestReport, feature_names: tuple[str, ...], conflicts: set[str], *,
                 labeller: str = "import", source: str = "import"):
        self.home, self.report, self.feature_names, self.conflicts = home, report, feature_names, conflicts
        self.labeller, self.source = labeller, source  # whose folder labels it stores; where the tracks came from
        self.known: dict[str, str] = {}  # content hash → stored path
        self.in_flight: dict[str, list[Candidate]] = {}
        self.failed: dict[str, str] = {}
        self.db: sqlite_utils.Database | None = None

    def open_library(self) -> None:
        """Connect to the library (creating it if new) and learn the content it holds."""
        self.db = self.home.connect()
        self.known.update(known_paths(self.db))

    def prepare(self, candidate: Candidate) -> dict | None:
        """The worker job for a file whose content is new, else ``None`` (settled here or later)."""
        digest = hash_or_error(candidate.path, self.report)
        if digest is None:
            return None
        if digest in self.failed:
            self.error(candidate, self.failed[digest])
        elif digest in self.in_flight:
            self.in_flight[digest].append(candidate)  # settled by ``finish``
        elif digest in self.known:
            self.already_known(candidate, digest)
        else:
            self.in_flight[digest] = []
            return {"path": candidate.path, "digest": digest, "store_root": str(self.home.store.root),
                    "feature_names": self.feature_names}
        return None

    def error(self, candidate: Candidate, message: str) -> None:
        self.report.errors.append({"path": audio.display_path(candidate.path), "error": message})

    def already_known(self, candidate: Candidate, digest: str) -> None:
        """Known content: skipped, and if its stored file is gone, the track now points here. A
        folder label that an earlier import's label of the same content contradicts is a conflict."""
        self.report.known += 1
        self.check_label(candidate, digest)
        old = self.known[digest]
        if self.db is not None and old != str(candidate.path) and not os.path.exists(old):
            from haverford.db import tracks as tracks_db

            track = tracks_db.track_by_hash(self.db, digest)
            assert track is not None  # its hash is in self.known, read from the library
            tracks_db.set_path(self.db, track["id"], str(candidate.path))
            self.known[digest] = str(candidate.path)
            self.report.moved.append({"from": audio.display_path(old), "to": audio.display_path(candidate.path)})
            return
        self.report.skipped.append({"path": audio.display_path(candidate.path), "reason": SAME_CONTENT})

    def check_label(self, candidate: Candidate, digest: str) -> None:
        """Report a conflict when ``candidate``'s folder label differs from the import labels the
        library already holds for its content (labels stay as they are: people decide)."""
        if not candidate.label or digest in self.conflicts or self.db is None:
            return
        from haverford.db import answers as answers_db
        from haverford.db import tracks as tracks_db

        track_id = tracks_db.track_id_by_hash(self.db, digest)
        existing = answers_db.track_verdicts(self.db, track_id, self.labeller) if track_id is not None else set()
        if existing and existing != {candidate.label}:
            self.report.conflicts.append({"path": audio.display_path(candidate.path),
                                          "reason": conflict_with_library(existing, candidate.label)})

    def finish(self, candidate: Candidate, future: Future) -> None:
        """Store one worker's result (or its error), then settle the copies that waited for it."""
        digest = future.digest  # type: ignore[attr-defined]  # set when submitted (see pool.Pipeline)
        try:
            result = future.result()
        except AudioError as exc:
            self.failed[digest] = str(exc)
        except OSError as exc:  # the file went away or became unreadable while it was decoded
            self.failed[digest] = f"cannot read the file ({exc.strerror or exc})"
        else:
            self.record(candidate, result)
        if digest in self.failed:
            self.error(candidate, self.failed[digest])
        for copy in self.in_flight.pop(digest, []):
            if digest in self.failed:
                self.error(copy, self.failed[digest])
            else:
                self.already_known(copy, digest)

    def record(self, candidate: Candidate, result: dict) -> None:
        """Store a new track, unlabelled when its content is in conflict, and count it."""
        track = result["track"]
        digest = track["content_hash"]
        label = None if digest in self.conflicts else candidate.label
        if candidate.title:
            track["title"] = candidate.title
        track_id = store_track(self.db, result, label=label, labeller=self.labeller, source=self.source)
        self.known[digest] = track["path"]
        if track_id is None:  # another process stored it meanwhile
            self.already_known(candidate, digest)
            return
        self.report.add_track(track_id, result, conflict=digest in self.conflicts)
