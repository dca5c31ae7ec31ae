"""The last leave-one-source-out benchmark on real music, as recorded by ``bench/loso_bench.py``.

``core/benchmarks.json`` ships with the package and holds one entry per preset and feature that
the benchmark measured (figures, date, machine and the command that produced them). The Train
page and ``haverford train --json`` name the winner: the shipped preset (no overrides) with the
best pooled segment accuracy, track accuracy breaking ties. No TensorFlow here.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

BENCHMARKS_FILE = "benchmarks.json"
ABOUT = ("leave-one-source-out cross-validation on the two devmusic sets of real game music, one fold per "
         "Debian package (bench/loso_bench.py; bench/README.md, 'Real music: leave one source out')")


def _path() -> Path:
    return Path(str(resources.files("haverford.core").joinpath(BENCHMARKS_FILE)))


def load() -> list[dict]:
    """Every recorded benchmark run (empty when none was recorded)."""
    path = _path()
    if not path.exists():
        return []
    return json.loads(path.read_text())["runs"]


def record(result: dict) -> Path:
    """Store ``result`` (a pooled ``loso_bench`` line), replacing the run of the same variant.

    Returns the path written. Meant for the benchmark script, not for a running server.
    """
    runs = [r for r in load() if r["variant"] != result["variant"]] + [result]
    runs.sort(key=lambda r: (r["preset"], r["feature"], r["variant"]))
    path = _path()
    path.write_text(json.dumps({"about": ABOUT, "runs": runs}, indent=1) + "\n")
    return path


def winner(runs: list[dict] | None = None) -> dict | None:
    """The shipped preset and feature that did best, or None before any benchmark.

    Only runs of a preset without overrides count: they are what a user can choose on the Train
    page (a run of one of ``core.classic``'s models, ``"kind": "classic"``, does not).
    """
    runs = load() if runs is None else runs
    shipped = [r for r in runs if not r.get("overrides") and r.get("kind", "convnet") == "convnet"]
    if not shipped:
        return None
    return max(shipped, key=lambda r: (r["segment_accuracy"], r["track_accuracy"]))


def winner_summary(runs: list[dict] | None = None) -> dict | None:
    """The winner's headline figures and a sentence to show, for the CLI's JSON and the Train page."""
    runs = load() if runs is None else runs
    best = winner(runs)
    if best is None:
        return None
    measured = len({r["preset"] for r in runs if not r.get("overrides") and r.get("kind", "convnet") == "convnet"})
    keys = ("preset", "feature", "segment_accuracy", "track_accuracy", "majority_segments",
            "majority_tracks", "folds", "segments", "tracks", "date", "machine", "command")
    text = (f"Last leave-one-source-out benchmark on real music ({best['date']}, {best['folds']} sources "
            f"held out in turn): preset '{best['preset']}' on '{best['feature']}' won with segment accuracy "
            f"{best['segment_accuracy']:.3f} and track accuracy {best['track_accuracy']:.3f} "
            f"(majority baseline {best['majority_segments']:.3f} / {best['majority_tracks']:.3f}); "
            + ("the only preset measured so far." if measured == 1 else f"best of {measured} presets measured."))
    return {**{k: best.get(k) for k in keys}, "text": text}
