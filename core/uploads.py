"""Files uploaded from the dashboard, saved under a safe, unique name in the home's ``uploads/``."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from haverford.core.errors import HaverfordError
from haverford.core.ingest_report import IngestReport
from haverford.core.roles import require

if TYPE_CHECKING:
    from haverford.core.home import Home

# The HTML standard's multipart/form-data encoding of a file name: a browser sends '"' as %22
# and CR, LF as %0D, %0A (https://html.spec.whatwg.org/multipage/form-control-infrastructure.html
# #multipart-form-data); nothing else is escaped, so only these three are undone.
_FORM_ESCAPES = {"%22": '"', "%0D": "\r", "%0A": "\n"}


def save_upload(home: Home, name: str, data: bytes) -> tuple[Path, str]:
    """Save an uploaded file in the home's ``uploads/`` under a safe, unique name; return its path
    and the original title. Importing is an admin's action: uploading is checked the same way.

    The file is named by its content (``upload-<sha256[:16]><ext>``, the extension kept when it
    is plain ASCII), so no browser-supplied name reaches the file system and the same bytes
    uploaded twice share one file. The title is the original name (``browser_name``) without its
    extension.

    Raises
    ------
    AccessDenied
        For anyone but an admin (with accounts on).
    HaverfordError
        When the file is over the upload limit (``HAVERFORD_MAX_UPLOAD_MB``).
    """
    from haverford.core.config import UPLOAD_LIMIT_ENV, max_upload_mb

    original = browser_name(name)
    require(home, "import", detail=f"upload {original}")
    folder = home.uploads_dir

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


def browser_name(name: str | None) -> str:
    """The file name the user chose, from the name a browser sent with its upload: the last part of
    the path, with the form encoding's %22, %0D and %0A turned back into '"', CR and LF."""
    original = Path(name or "upload").name or "upload"
    for escape, char in _FORM_ESCAPES.items():
        original = original.replace(escape, char)
    return original


def import_uploads(home: Home, files: Iterable[tuple[str, bytes]], *, label: str | None = None,
                   labeller: str = "import", progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
    """Save uploaded ``(browser name, bytes)`` files (``save_upload``) and import them.

    The report names every file as the user did (``browser_name``), never by its saved name;
    a file refused at upload is one of its ``errors``. A saved file that no track points at after
    the import (it failed, or its content was in the library already) is deleted from ``uploads/``.
    Raises ``AccessDenied`` as ``ingest`` does.
    """
    from haverford.core.ingest import ingest

    saved: dict[str, str] = {}
    refused = []
    for name, data in files:
        try:
            path, _ = save_upload(home, name, data)
        except HaverfordError as exc:
            refused.append({"path": browser_name(name), "error": str(exc)})
        else:
            saved[str(path)] = browser_name(name)
    titles = {path: Path(original).stem or original for path, original in saved.items()}
    report = ingest(home, list(saved), label=label, labeller=labeller, progress=progress,
                    titles=titles) if saved else IngestReport()
    report.errors[:0] = refused
    report.rename(saved | {str(Path(p).resolve()): n for p, n in saved.items()})
    _remove_unused(home, saved)
    return report


def _remove_unused(home: Home, saved: Iterable[str]) -> None:
    """Delete each saved upload that no track points at (its import failed or was a duplicate)."""
    from haverford.db import tracks as tracks_db

    saved = list(saved)
    if not saved:
        return
    db = home.connect()
    for path in saved:
        if all(tracks_db.track_id_by_path(db, p) is None for p in {path, str(Path(path).resolve())}):
            Path(path).unlink(missing_ok=True)
