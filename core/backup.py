"""Backups of a data home taken while people work, restoring them, and checking a home.

A backup is a folder::

    OUT/haverford.db       the database, copied with SQLite's online backup API (db.backup)
    OUT/models/...         every model file the copied database names
    OUT/features/...       every feature file it names (unless ``features=False``)
    OUT/manifest.json      what was copied: path, size and SHA-256 of each file

The database is copied first, in one step, so it is the library exactly as it was at that
moment; the files are then the ones *that copy* names. Feature and model files are written
under a temporary name and renamed into place and never rewritten, so a file named by the
database is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlite_utils

import haverford.db as dbm
from haverford.core.errors import HaverfordError
from haverford.core.home import Home
from haverford.db import backup as backup_db

MANIFEST = "manifest.json"
FORMAT = 1
Progress = Callable[[int, int, str], None]


def backup(home: Home, out: str | os.PathLike, *, features: bool = True,
           progress: Progress | None = None) -> dict:
    """Write a consistent backup of ``home`` to the new or empty folder ``out``.

    Returns the manifest (also written to ``out/manifest.json``) plus ``seconds``.

    Raises
    ------
    HaverfordError
        ``out`` is a file or a folder that is not empty.
    """
    started = time.perf_counter()
    out = _empty_folder(Path(out))
    db = home.connect_private()
    try:
        backup_db.online_copy(db.conn, out / "haverford.db")
    finally:
        db.close()
    with _open(out / "haverford.db") as copy:
        named, counts, schema = backup_db.named_files(copy), _counts(copy), dbm.migrations.version(copy)
    files, missing = _copy_files(home, out, named, features=features, progress=progress)
    manifest = {"format": FORMAT, "created_at": dbm.now(), "source_home": str(home.path),
                "schema_version": schema, "counts": counts, "database": _entry(out, "haverford.db", "database"),
                "files": files, "missing": missing, "features_copied": features}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return {**manifest, "path": str(out), "seconds": round(time.perf_counter() - started, 3)}


def _empty_folder(out: Path) -> Path:
    if out.is_file():
        raise HaverfordError(f"{out} is a file; name a new folder for the backup")
    if out.exists() and any(out.iterdir()):
        raise HaverfordError(f"backup folder {out} exists and is not empty; name a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a parent folder should be, no such device, no permission
        raise HaverfordError(f"cannot make the backup folder {out}: {exc.strerror}; name a folder you can write") from None
    return out.resolve()


@contextlib.contextmanager
def _open(path: Path) -> Iterator[sqlite_utils.Database]:
    db = dbm.connect(path, migrate=False)
    try:
        yield db
    finally:
        db.close()


def _counts(db: sqlite_utils.Database) -> dict:
    return {table: db[table].count for table in ("tracks", "segments", "answers", "models")}


def _sources(home: Home, named: dict[str, list[str]]) -> list[tuple[str, str, Path]]:
    """(kind, path inside the backup, source file) for every file the database names."""
    return ([("feature", f"features/{rel}", home.store.root / rel) for rel in named["features"]]
            + [("model", rel, home.path / rel) for rel in named["models"]])


def _copy_files(home: Home, out: Path, named: dict, *, features: bool, progress: Progress | None):
    files, missing = [], []
    todo = _sources(home, named)
    for i, (kind, rel, src) in enumerate(todo, 1):
        if not src.exists():
            missing.append({"kind": kind, "path": rel})
        elif kind == "model" or features:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out / rel)
            files.append(_entry(out, rel, kind))
        else:
            files.append({"kind": kind, "path": rel, "size": src.stat().st_size, "sha256": None})
        if progress:
            progress(i, len(todo), rel)
    return files, missing


def _entry(root: Path, rel: str, kind: str) -> dict:
    path = root / rel
    return {"kind": kind, "path": rel, "size": path.stat().st_size, "sha256": sha256(path)}


def sha256(path: Path) -> str:
    """The SHA-256 of a file, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- restore ----------------------------------------------------------------------------------

def read_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a backup folder; raises ``HaverfordError`` when it is not a backup."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise HaverfordError(f"{folder} is not a Haverford backup (no {MANIFEST}); "
                             f"give the folder 'haverford backup' wrote") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HaverfordError(f"{path} is damaged ({exc}); use another backup") from None
    if manifest.get("format") != FORMAT:
        raise HaverfordError(f"{path} has format {manifest.get('format')!r}, this Haverford reads {FORMAT}")
    return manifest


def verify_backup(folder: Path, manifest: dict) -> list[str]:
    """The problems of a backup folder: files missing or whose SHA-256 differs from the manifest."""
    problems = []
    for entry in [manifest["database"], *manifest["files"]]:
        path = folder / entry["path"]
        if entry.get("sha256") is None:
            continue
        if not path.exists():
            problems.append(f"{entry['path']} is missing")
        elif sha256(path) != entry["sha256"]:
            problems.append(f"{entry['path']} differs from the manifest")
    return problems


def restore(folder: str | os.PathLike, home: Home, *, replace: bool = False,
            progress: Progress | None = None) -> dict:
    """Bring back the library of the backup ``folder`` into ``home``.

    The backup is verified first (every SHA-256, then ``PRAGMA integrity_check``). A home that
    already holds a library is refused unless ``replace``; its database is then first copied
    to ``backups/replaced-<time>.db`` inside the home. Stop ``haverford serve`` on the home
    before restoring: a running server keeps the replaced database open.
    """
    started = time.perf_counter()
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    problems = verify_backup(folder, manifest)
    if problems:
        raise HaverfordError(f"backup {folder} is damaged: {problems[0]} ({len(problems)} problem(s)); "
                             f"use another backup")
    _check_integrity(folder / "haverford.db")
    kept = _set_aside(home, replace=replace)
    restored = _restore_files(folder, home, manifest, progress=progress)
    _install_database(folder / "haverford.db", home)
    rebuild = _forget_absent_features(home, manifest)
    return {"home": str(home.path), "backup": str(folder), "counts": manifest["counts"],
            "files_restored": restored, "replaced_database_kept_at": kept, "features_to_rebuild": rebuild,
            "seconds": round(time.perf_counter() - started, 3)}


def _check_integrity(path: Path) -> None:
    with _open(path) as db:
        errors = backup_db.integrity_errors(db)
    if errors:
        raise HaverfordError(f"the database in the backup fails integrity_check: {errors[0]}; use another backup")


def _set_aside(home: Home, *, replace: bool) -> str | None:
    if not home.db_path.exists():
        return None
    if not replace:
        raise HaverfordError(f"{home.path} already holds a library; restore into a new folder, or pass "
                             f"--replace (its database is kept in {home.path / backup_db.BACKUP_DIR})")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    db = home.connect_private()
    try:
        kept = backup_db.online_copy(db.conn, home.path / backup_db.BACKUP_DIR / f"replaced-{stamp}.db")
    finally:
        db.close()
    return str(kept)


def _restore_files(folder: Path, home: Home, manifest: dict, *, progress: Progress | None) -> int:
    todo = [f for f in manifest["files"] if f["sha256"] is not None]
    for i, entry in enumerate(todo, 1):
        target = _home_path(home, entry)
        if not (target.exists() and sha256(target) == entry["sha256"]):
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.restore")
            shutil.copy2(folder / entry["path"], tmp)
            os.replace(tmp, target)
        if progress:
            progress(i, len(todo), entry["path"])
    return len(todo)


def _home_path(home: Home, entry: dict) -> Path:
    if entry["kind"] == "feature":
        return home.store.root / entry["path"].removeprefix("features/")
    return home.path / entry["path"]


def _forget_absent_features(home: Home, manifest: dict) -> list[str]:
    """Feature files neither copied nor on disk are forgotten so that ``haverford features``
    computes them again; returns the feature names to compute (one command each)."""
    absent = [e["path"].removeprefix("features/") for e in [*manifest["files"], *manifest["missing"]]
              if e["kind"] == "feature" and not _home_path(home, e).exists()]
    if absent:
        db = home.connect_private()
        try:
            backup_db.forget_feature_files(db, absent)
        finally:
            db.close()
    return sorted({rel.split("/", 1)[0] for rel in absent})


def _install_database(copy: Path, home: Home) -> None:
    """Put the backup's database in place; a stale WAL of the old one must not survive it."""
    tmp = home.db_path.with_name(".haverford.db.restore")
    shutil.copy2(copy, tmp)
    for suffix in ("-wal", "-shm"):
        Path(f"{home.db_path}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, home.db_path)


# --- check ------------------------------------------------------------------------------------

def check(home: Home) -> dict:
    """``PRAGMA integrity_check`` and every feature and model file the database names.

    Returns ``{"ok", "integrity", "missing_features", "missing_models", "features", "models"}``.
    """
    db = home.connect_private()
    try:
        errors, named = backup_db.integrity_errors(db), backup_db.named_files(db)
    finally:
        db.close()
    missing_features = [rel for rel in named["features"] if not (home.store.root / rel).exists()]
    missing_models = [rel for rel in named["models"] if not (home.path / rel).exists()]
    return {"ok": not (errors or missing_features or missing_models), "integrity": errors or ["ok"],
            "missing_features": missing_features, "missing_models": missing_models,
            "features": len(named["features"]), "models": len(named["models"])}
