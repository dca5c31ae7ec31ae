"""Constants of the seed's science and where a library of music lives on disk."""

from __future__ import annotations

import os
from pathlib import Path

SR = 22050
SEGMENT_SECONDS = 5.0
SEGMENT_SAMPLES = int(SR * SEGMENT_SECONDS)  # 110,250
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
TOP_DB = 80.0
FRAMES_PER_SEGMENT = 1 + SEGMENT_SAMPLES // HOP_LENGTH  # 216 with center=True

LABELS = ("banger", "not_a_banger")  # the verdicts a folder or --label may give (vocabulary.CLASSES)
DEFAULT_FEATURE = "log_mel"
DEFAULT_HOME = "haverford-data"
HOME_ENV = "HAVERFORD_HOME"
UPLOAD_LIMIT_ENV = "HAVERFORD_MAX_UPLOAD_MB"
CACHE_ENV = "HAVERFORD_CACHE"


def max_upload_mb() -> int:
    """The largest file the dashboard accepts for upload, in MB (``$HAVERFORD_MAX_UPLOAD_MB``, 200)."""
    try:
        return max(1, int(os.environ.get(UPLOAD_LIMIT_ENV, "200")))
    except ValueError:
        return 200


def cache_dir() -> Path:
    """Where work derived from shipped files is kept between processes (the converted pretrained
    network): ``$HAVERFORD_CACHE``, else ``$XDG_CACHE_HOME/haverford``, else ``~/.cache/haverford``
    (the XDG base directory convention). Deleting it only costs the work again."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "haverford"


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """The data home: ``home`` if given, else ``$HAVERFORD_HOME``, else ``./haverford-data``."""
    chosen = home or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()
