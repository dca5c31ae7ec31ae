"""Files uploaded from the dashboard, saved under a safe, unique name in the home's ``uploads/``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from haverford.core.errors import HaverfordError
from haverford.core.roles import require

if TYPE_CHECKING:
    from haverford.core.home import Home


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
