"""Finding the files to import: folders walked (symlinked folders followed, each once), audio
told by its extension, and each file's label read from the folder the user's path puts it in.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
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


def _folder_label_of(folder: Path) -> str | None:
    """The label ``folder`` gives the files directly in it: its own name, or an enclosing one."""
    return folder.name if folder.name in LABELS else folder_label(folder)


def _not_importable(path: Path) -> str | None:
    """Why ``path`` cannot be read as an audio file (a link to nothing, a link loop, a named pipe,
    a device or a socket), or None for a regular file. Follows symlinks; never opens the file, so
    a named pipe cannot block."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a symbolic link to a file that does not exist (its target was moved or deleted)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that points back to itself (a link loop)"
        return f"cannot read the file ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device file"
    return f"not a regular file ({kind}): give a file that holds the audio"


def walk_audio(folder: Path) -> tuple[list[Path], list[dict], list[dict]]:
    """Files under ``folder``, following symlinked folders, loop-safe.

    A folder is walked once per label it gives its files (its own or an enclosing ``banger`` or
    ``not_a_banger`` name): a link loop ends, and a folder linked under the other label folder is
    still read at its real place, so content under both labels is found as a conflict.

    Returns the audio files (by extension, sorted), a skipped entry for every other file or for
    one that is not a regular file (a named pipe would block the import), and an error entry for
    a symlink that leads nowhere.
    """
    found: list[Path] = []
    skipped: list[dict] = []
    errors: list[dict] = []
    seen: set[tuple[int, int, str | None]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.stat(root)
        key = (real.st_dev, real.st_ino, _folder_label_of(Path(root)))
        if key in seen:
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.suffix.lower() not in AUDIO_EXTENSIONS:
                skipped.append({"path": audio.display_path(path),
                                "reason": f"not an audio file extension ({path.suffix or 'none'}); "
                                          f"give the file by name to try it anyway"})
            elif (why := _not_importable(path)) is None:
                found.append(path)
            elif why.startswith("not a regular file"):
                skipped.append({"path": audio.display_path(path), "reason": why})
            else:
                errors.append({"path": audio.display_path(path), "error": why})
    return found, skipped, errors


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
            files, ignored, broken = walk_audio(path)
            skipped.extend(ignored)
            errors.extend(broken)
        elif not os.path.lexists(path):
            errors.append({"path": audio.display_path(raw), "error": "no such file or folder"})
            continue
        elif (why := _not_importable(path)) is not None:
            errors.append({"path": audio.display_path(raw), "error": why})
            continue
        else:
            files = [path]
        found.extend(Candidate(f, label or folder_label(f), titles.get(str(f))) for f in files)
    candidates = list({c.path: c for c in found}.values())
    named = {audio.display_path(c.path) for c in candidates}  # a file named and also met in a folder
    return candidates, [s for s in skipped if s["path"] not in named], errors


def conflicting_hashes(candidates: list[Candidate]) -> set[str]:
    """Content hashes found under both labels. Same content means same size, so only files
    whose size occurs under both labels are hashed here (usually none)."""
    sizes: dict[int, set[str]] = {}
    for c in candidates:
        if c.label:
            sizes.setdefault(file_size(c.path), set()).add(c.label)
    labels: dict[str, set[str]] = {}
    for c in candidates:
        if c.label and len(sizes[file_size(c.path)]) > 1:
            with contextlib.suppress(OSError):
                labels.setdefault(analyse.content_hash(c.path), set()).add(c.label)
    return {digest for digest, found in labels.items() if len(found) > 1}


def file_size(path: Path) -> int:
    """Bytes in ``path``, or 0 when it went away since it was found (its import then reports it)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0
