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

import contextlib
import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from haverford.core import analyse, audio, features
from haverford.core.config import DEFAULT_FEATURE, LABELS, SEGMENT_SECONDS
from haverford.core.errors import AudioError, HaverfordError
from haverford.core.roles import require

if TYPE_CHECKING:
    from haverford.core.home import Home

# Extensions looked for inside folders: what libsndfile or FFmpeg decodes (a file named on the
# command line is tried whatever its extension).
AUDIO_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".mp2", ".aif", ".aiff",
                    ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", ".m4a", ".m4b", ".mp4", ".aac",
                    ".alac", ".wma", ".asf", ".webm", ".weba", ".mka", ".ac3", ".eac3", ".dts", ".ape",
                    ".wv", ".tta", ".mpc", ".amr", ".3gp", ".spx"}
SAME_CONTENT = "already in the library (same content)"
CONFLICT = ("the same content is under both banger/ and not_a_banger/: imported once, unlabelled; "
            "label it in the dashboard")

Progress = Callable[[int, int, str], None]
Item = TypeVar("Item")


@dataclass
class IngestReport:
    """What an ingest did, as the CLI's JSON reports it.

    ``truncated``: files that stopped decoding part way, imported with what decoded;
    ``moved``: known files found at a new place whose old file is gone (path updated);
    ``conflicts``: the same content under both ``banger/`` and ``not_a_banger/``.
    """

    tracks_added: int = 0
    segments_added: int = 0
    skipped: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0
    silent_segments: int = 0
    truncated: list[dict] = field(default_factory=list)
    moved: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    track_ids: list[int] = field(default_factory=list)
    known: int = 0  # files found already in the library

    def to_json(self) -> dict:
        return asdict(self)

    def add_track(self, track_id: int, result: dict, *, conflict: bool) -> None:
        """Count a stored track (``analyse.analyse_file``'s result), its truncation and conflict."""
        track = result["track"]
        path = audio.display_path(track["path"])
        self.tracks_added += 1
        self.segments_added += track["n_segments"]
        self.silent_segments += sum(result["silent"])
        self.audio_seconds += track["duration_s"]
        self.track_ids.append(track_id)
        if result["truncated"]:
            self.truncated.append({"path": path, "reason": result["truncated"],
                                   "decoded_s": round(track["duration_s"], 3)})
        if conflict:
            self.conflicts.append({"path": path, "reason": CONFLICT})

    @property
    def processed(self) -> int:
        """Files imported, or recognised as already in the library: 0 means nothing was done."""
        return self.tracks_added + self.known


@dataclass(frozen=True)
class Candidate:
    """A file to import, the label its folder (or ``--label``) gives it, and its title."""

    path: Path
    label: str | None
    title: str | None = None


def folder_label(path: Path) -> str | None:
    """The label of the nearest enclosing folder named ``banger`` or ``not_a_banger``.

    ``path`` is where the user's folder holds the file, not where a symlink points: a link
    under ``banger/`` is a banger wherever its target lives.
    """
    for parent in path.parents:
        if parent.name in LABELS:
            return parent.name
    return None


def walk_audio(folder: Path) -> tuple[list[Path], list[dict]]:
    """Files under ``folder``, following symlinked folders but never one twice (no loops).

    Returns the audio files (by extension, sorted) and a skipped entry for every other file.
    """
    found, skipped, seen = [], [], set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.stat(root)
        if (real.st_dev, real.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((real.st_dev, real.st_ino))
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.suffix.lower() in AUDIO_EXTENSIONS:
                found.append(path)
            else:
                skipped.append({"path": audio.display_path(path),
                                "reason": f"not an audio file extension ({path.suffix or 'none'}); "
                                          f"give the file by name to try it anyway"})
    return found, skipped


def discover(paths: Iterable[str | os.PathLike], *, label: str | None = None,
             titles: dict[str, str] | None = None) -> tuple[list[Candidate], list[dict], list[dict]]:
    """Expand files and folders (recursively, audio extensions only) into candidates.

    Paths are made absolute without resolving symlinks, so a link keeps its own folder's
    label. ``titles`` maps a path to the title to store (an upload's original name).
    Returns the candidates, the files skipped by extension, and an error for each path that
    does not exist.
    """
    if label is not None and label not in LABELS:
        raise HaverfordError(f"unknown label {label!r}; use one of: {', '.join(LABELS)}")
    titles = {os.path.abspath(k): v for k, v in (titles or {}).items()}
    found: list[Candidate] = []
    skipped: list[dict] = []
    errors: list[dict] = []
    for raw in paths:
        path = Path(os.path.abspath(Path(raw).expanduser()))
        if path.is_dir():
            files, ignored = walk_audio(path)
            skipped.extend(ignored)
        elif path.is_file():
            files = [path]
        else:
            errors.append({"path": audio.display_path(raw), "error": "no such file or folder"})
            continue
        found.extend(Candidate(f, label or folder_label(f), titles.get(str(f))) for f in files)
    return list({c.path: c for c in found}.values()), skipped, errors


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
                future = self.pool.submit(analyse.analyse_file, **job)
                future.digest = job["digest"]  # type: ignore[attr-defined]  # read back in finish()
                self.running[future] = item

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
        report.errors.append({"path": audio.display_path(path),
                              "error": f"cannot read the file ({exc.strerror or exc})"})
        return None


def conflicting_hashes(candidates: list[Candidate]) -> set[str]:
    """Content hashes found under both labels. Same content means same size, so only files
    whose size occurs under both labels are hashed here (usually none)."""
    sizes: dict[int, set[str]] = {}
    for c in candidates:
        if c.label:
            sizes.setdefault(c.path.stat().st_size, set()).add(c.label)
    labels: dict[str, set[str]] = {}
    for c in candidates:
        if c.label and len(sizes[c.path.stat().st_size]) > 1:
            with contextlib.suppress(OSError):
                labels.setdefault(analyse.content_hash(c.path), set()).add(c.label)
    return {digest for digest, found in labels.items() if len(found) > 1}


class _Run:
    """One ingest's bookkeeping: which content is known, in flight, failed or in conflict.

    A file is decoded once per content: copies met while it is in flight wait for its
    outcome, and share it. Only content that imported is ever "already in the library": a
    file that fails to decode is an error, and so is each of its copies.
    """

    def __init__(self, home: Home, report: IngestReport, feature_names: tuple[str, ...], conflicts: set[str]):
        self.home, self.report, self.feature_names, self.conflicts = home, report, feature_names, conflicts
        self.known: dict[str, str] = {}  # content hash → stored path
        self.in_flight: dict[str, list[Candidate]] = {}
        self.failed: dict[str, str] = {}
        self.db = None

    def prepare(self, candidate: Candidate) -> dict | None:
        digest = _hash(candidate.path, self.report)
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
        """Known content: skipped, and if its stored file is gone, the track now points here."""
        self.report.known += 1
        old = self.known[digest]
        if self.db is not None and old != str(candidate.path) and not os.path.exists(old):
            from haverford.db import tracks as tracks_db

            track = tracks_db.track_by_hash(self.db, digest)
            tracks_db.set_path(self.db, track["id"], str(candidate.path))
            self.known[digest] = str(candidate.path)
            self.report.moved.append({"from": audio.display_path(old), "to": audio.display_path(candidate.path)})
            return
        self.report.skipped.append({"path": audio.display_path(candidate.path), "reason": SAME_CONTENT})

    def finish(self, candidate: Candidate, future: Future, *, labeller: str, source: str) -> None:
        """Store one worker's result (or its error), then settle the copies that waited for it."""
        digest = future.digest  # type: ignore[attr-defined]  # set when submitted (see _Pipeline)
        try:
            result = future.result()
        except AudioError as exc:
            self.failed[digest] = str(exc)
        except OSError as exc:  # the file went away or became unreadable while it was decoded
            self.failed[digest] = f"cannot read the file ({exc.strerror or exc})"
        else:
            self.record(candidate, result, labeller=labeller, source=source)
        if digest in self.failed:
            self.error(candidate, self.failed[digest])
        for copy in self.in_flight.pop(digest, []):
            if digest in self.failed:
                self.error(copy, self.failed[digest])
            else:
                self.already_known(copy, digest)

    def record(self, candidate: Candidate, result: dict, *, labeller: str, source: str) -> None:
        track = result["track"]
        digest = track["content_hash"]
        label = None if digest in self.conflicts else candidate.label
        if candidate.title:
            track["title"] = candidate.title
        track_id = store_track(self.db, result, label=label, labeller=labeller, source=source)
        self.known[digest] = track["path"]
        if track_id is None:  # another process stored it meanwhile
            self.already_known(candidate, digest)
            return
        self.report.add_track(track_id, result, conflict=digest in self.conflicts)


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
        features.get_feature(name)
    candidates, ignored, missing = discover(paths, label=label, titles=titles)
    report = IngestReport(skipped=ignored, errors=missing)
    run = _Run(home, report, feature_names, conflicting_hashes(candidates))
    largest_first = sorted(candidates, key=lambda c: -c.path.stat().st_size)
    workers = analyse.worker_count(workers, len(candidates))
    tick = _Ticker(progress, len(candidates))
    with analyse.worker_pool(workers) as pool:
        jobs = _Pipeline(pool, largest_first, run.prepare, lambda c: tick(c.path), depth=2 * workers)
        if not home.db_path.exists():  # a new library has nothing to skip: decode while it is created
            jobs.fill(workers)
        run.db = home.connect()
        run.known.update(_known_paths(run.db))
        for candidate, future in jobs.completed():
            run.finish(candidate, future, labeller=labeller, source=source)
            tick(candidate.path)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _known_paths(db) -> dict[str, str]:
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
        if not digest:
            return None
        return {"path": path, "digest": digest, "store_root": str(home.store.root), "feature_names": (feature,)}

    workers = analyse.worker_count(workers, len(todo))
    with analyse.worker_pool(workers) as pool:
        for track, future in _Pipeline(pool, todo, prepare, lambda t: tick(t["path"]), depth=2 * workers).completed():
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


def relocate(home: Home, old_dir: str | os.PathLike, new_dir: str | os.PathLike) -> dict:
    """Point every track under ``old_dir`` at the same relative path under ``new_dir``.

    A track moves only when the new file exists and holds the same content (its hash is
    checked); the others are listed. Returns ``{"moved", "missing", "changed", "seconds"}``.

    Raises
    ------
    HaverfordError
        When ``new_dir`` is not a folder or no track of the library is under ``old_dir``.
    AccessDenied
        For anyone but an admin (with accounts on).
    """
    from haverford.db import tracks as tracks_db

    require(home, "relocate", detail=f"{old_dir} -> {new_dir}")
    started = time.perf_counter()
    old, new = Path(os.path.abspath(Path(old_dir).expanduser())), Path(os.path.abspath(Path(new_dir).expanduser()))
    if not new.is_dir():
        raise HaverfordError(f"new folder not found: {audio.display_path(new)}; give the folder the music is in now")
    db = home.connect()
    under = [t for t in tracks_db.tracks_paths(db) if Path(t["path"]).is_relative_to(old)]
    if not under:
        raise HaverfordError(f"no track of the library is under {audio.display_path(old)}; "
                             f"give the folder the music was imported from")
    moved, missing, changed = 0, [], []
    for track in under:
        target = new / Path(track["path"]).relative_to(old)
        if not target.is_file():
            missing.append(audio.display_path(target))
        elif analyse.content_hash(target) != track["content_hash"]:
            changed.append(audio.display_path(target))
        else:
            tracks_db.set_path(db, track["id"], str(target))
            moved += 1
    return {"moved": moved, "missing": missing, "changed": changed,
            "seconds": round(time.perf_counter() - started, 3)}


def save_upload(home: Home, name: str, data: bytes) -> tuple[Path, str]:
    """Save an uploaded file in the home's ``uploads/`` under a safe, unique name; return its path
    and the original title. Importing is an admin's action: uploading is checked the same way.

    The file is named by its content (``upload-<sha256[:16]><ext>``, the extension kept when it
    is plain ASCII), so no browser-supplied name reaches the file system and the same bytes
    uploaded twice share one file. The title is the original name without its extension.

    Raises
    ------
    AccessDenied
        For anyone but an admin (with accounts on).
    HaverfordError
        When the file is over the upload limit (``HAVERFORD_MAX_UPLOAD_MB``).
    """
    from haverford.core.config import UPLOAD_LIMIT_ENV, max_upload_mb

    require(home, "import", detail=f"upload {Path(name or 'upload').name}")
    folder = home.uploads_dir

    original = Path(name or "upload").name
    limit = max_upload_mb()
    if len(data) > limit * 1024 * 1024:
        raise HaverfordError(f"{original} is {len(data) / 2**20:.1f} MB, over the {limit} MB upload limit "
                             f"(set {UPLOAD_LIMIT_ENV} to change it)")
    suffix = Path(original).suffix.lower()
    suffix = suffix if suffix.isascii() and suffix[1:].isalnum() else ""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"upload-{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    if not target.exists():
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target, Path(original).stem or original
