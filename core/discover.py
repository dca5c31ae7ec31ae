"""Finding the files to import: folders walked (symlinked folders followed, each once), audio
told by its extension, and each file's label read from the folder the user's path puts it in.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from haverford.core import analyse, audio
from haverford.core.config import LABELS
from haverford.core.errors import HaverfordError

# Extensions looked for inside folders: what libsndfile or FFmpeg decodes (a file named on the
# command line is tried whatever its extension).
AUDIO_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".mp2", ".aif", ".aiff",
                    ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", ".m4a", ".m4b", ".mp4", ".aac",
                    ".alac", ".wma", ".asf", ".webm", ".weba", ".mka", ".ac3", ".eac3", ".dts", ".ape",
                    ".wv", ".tta", ".mpc", ".amr", ".3gp", ".spx"}


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

    Raises
    ------
    HaverfordError
        For a ``label`` that is not one of ``config.LABELS``.
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
