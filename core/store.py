"""The feature store: one float16 ``.npy`` file per track and feature, read back in batches.

Files are named by the track's content hash, written to a temporary name and renamed into
place, so a crash never leaves a half-written file under the final name. Reading memory-maps
each track's file and copies only the rows asked for: no audio is decoded again.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from haverford.core.errors import HaverfordError
from haverford.core.features import get_feature

DTYPE = np.float16


class FeatureStore:
    """Feature files under ``root`` (the home's ``features/`` folder)."""

    def __init__(self, root: str | os.PathLike, *, max_open: int = 64):
        self.root = Path(root)
        self.max_open = max_open
        self._open: OrderedDict[str, np.ndarray] = OrderedDict()

    def relpath(self, feature: str, content_hash: str) -> str:
        """Path of a track's feature file relative to the store root."""
        return f"{feature}/{content_hash[:2]}/{content_hash}.npy"

    def write(self, feature: str, content_hash: str, values: np.ndarray) -> dict:
        """Write ``values`` [shape=(n_segments, n_bins, n_frames)] atomically; return its row for the DB."""
        n_bins, n_frames = get_feature(feature).shape
        if values.ndim != 3 or values.shape[1:] != (n_bins, n_frames):
            raise ValueError(f"{feature} must have shape (n, {n_bins}, {n_frames}), got {values.shape}")
        rel = self.relpath(feature, content_hash)
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, values.astype(DTYPE, copy=False))
        os.replace(tmp, final)
        self._open.pop(rel, None)
        return {"feature": feature, "path": rel, "n_segments": len(values), "n_bins": n_bins,
                "n_frames": n_frames}

    def track(self, rel: str) -> np.ndarray:
        """The memory-mapped array of one track's feature file."""
        if rel in self._open:
            self._open.move_to_end(rel)
            return self._open[rel]
        try:
            array = np.load(self.root / rel, mmap_mode="r")
        except FileNotFoundError:
            raise HaverfordError(f"feature file missing from the store: {rel}; "
                                 f"run 'haverford features' to rebuild it") from None
        self._open[rel] = array
        while len(self._open) > self.max_open:
            self._open.popitem(last=False)
        return array

    def read(self, locations: list[dict], feature: str) -> np.ndarray:
        """Features of segments located by ``db.tracks.segment_locations``, in the same order.

        Returns
        -------
        np.ndarray [shape=(len(locations), n_bins, n_frames), dtype=float16]
        """
        out = np.empty((len(locations), *get_feature(feature).shape), dtype=DTYPE)
        by_path: dict[str, list[tuple[int, int]]] = {}
        for pos, loc in enumerate(locations):
            if loc["path"] is None:
                raise HaverfordError(f"segment {loc['segment_id']} has no {feature} features yet; "
                                     f"run 'haverford features --feature {feature}'")
            by_path.setdefault(loc["path"], []).append((pos, loc["idx"]))
        for rel, items in by_path.items():
            positions, rows = zip(*items, strict=False)
            out[list(positions)] = self.track(rel)[list(rows)]
        return out

    def bytes_used(self, feature: str | None = None) -> int:
        """Bytes on disk of the store (or of one feature)."""
        base = self.root / feature if feature else self.root
        return sum(p.stat().st_size for p in base.rglob("*.npy")) if base.exists() else 0
