"""Moved music: pointing every track under an old folder at the same file under a new one."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from haverford.core import analyse, audio
from haverford.core.errors import HaverfordError
from haverford.core.roles import require

if TYPE_CHECKING:
    from haverford.core.home import Home


def relocate(home: Home, old_dir: str | os.PathLike, new_dir: str | os.PathLike) -> dict:
    """Point every track under ``old_dir`` at the same relative path under ``new_dir``.

    A track moves only when the new file exists and holds the same content (its hash is
    checked); the others are listed. Returns ``{"moved", "missing", "changed", "seconds"}``.

    Raises
    ------
    HaverfordError
        When ``new_dir`` is not a folder, is ``old_dir``, or no track of the library is under ``old_dir``.
    AccessDenied
        For anyone but an admin (with accounts on).
    """
    from haverford.db import tracks as tracks_db

    require(home, "relocate", detail=f"{old_dir} -> {new_dir}")
    started = time.perf_counter()
    old, new = Path(os.path.abspath(Path(old_dir).expanduser())), Path(os.path.abspath(Path(new_dir).expanduser()))
    if not new.is_dir():
        raise HaverfordError(f"new folder not found: {audio.display_path(new)}; give the folder the music is in now")
    if new == old:
        raise HaverfordError(f"the old and the new folder are the same ({audio.display_path(new)}); "
                             f"give the folder the music was imported from, then where it is now")
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

