"""One audio file in, its features in the store out: the part of ingest that runs in workers
(``pool``), and the content hash that names a file's features.

Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from haverford.core import audio, features
from haverford.core.config import TOP_DB
from haverford.core.errors import AudioError
from haverford.core.store import FeatureStore

BATCH_SEGMENTS = 32


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the same audio under another name is the same track."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def featurise(path: Path, feature_names: tuple[str, ...], *, info: audio.AudioInfo,
              decoding: audio.Decoding) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """The features of each batch of segments of ``path``, with which segments are silent.

    A silent segment (``audio.SILENCE_DBFS``) gets every feature at the floor, -80 dB: its
    spectrum, scaled to its own maximum, would otherwise be noise or DC blown up to 0 dB.

    Yields
    ------
    (dict of name → np.ndarray [shape=(k, n_bins, 216), dtype=float32], np.ndarray [shape=(k,), bool])

    Raises
    ------
    AudioError
        When no segment is audible (the message says why: zeros, DC, cancelling channels).
    """
    audible = False
    for batch in audio.iter_segments(path, batch=BATCH_SEGMENTS, info=info, decoding=decoding):
        silent = audio.silent_segments(batch)
        values = features.compute_many(list(feature_names), batch)
        for array in values.values():
            array[silent] = -TOP_DB
        audible = audible or not silent.all()
        yield values, silent
    if not audible:
        raise AudioError(f"{audio.why_silent(path)}; nothing to label or score")


def analyse_file(path: Path, *, digest: str, store_root: str, feature_names: tuple[str, ...]) -> dict:
    """Decode, validate, segment and featurise one file; write its features to the store.

    ``digest`` is the file's content hash, which names its feature files. Returns the track
    row, which segments are silent, why decoding stopped early (``truncated``, or None) and
    the feature rows for the database; raises ``AudioError`` for a file that cannot be used.
    """
    info = audio.probe(path)
    decoding = audio.Decoding()
    parts: dict[str, list[np.ndarray]] = {name: [] for name in feature_names}
    silent: list[bool] = []
    for values, mask in featurise(path, feature_names, info=info, decoding=decoding):
        for name, array in values.items():
            parts[name].append(array.astype(np.float16))
        silent.extend(bool(s) for s in mask)
    store = FeatureStore(store_root)
    rows = [store.write(name, digest, np.concatenate(parts[name])) for name in feature_names]
    track = {"path": str(path), "content_hash": digest, "title": audio.display_path(path.stem),
             "duration_s": decoding.duration_s, "orig_sr": info.sr, "orig_channels": info.channels,
             "n_segments": len(silent), "size_bytes": path.stat().st_size}
    return {"track": track, "silent": silent, "truncated": decoding.truncated, "features": rows}
