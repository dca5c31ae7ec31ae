"""Training benchmark (bench/README.md, "Training").

    # a labelled library of >= 1,000 segments from >= 40 tracks, features in the store
    haverford demo --tracks 128 --no-serve --no-train --home /tmp/bench-home
    python bench/train_bench.py retrain --home /tmp/bench-home      # fast preset, whole Retrain
    python bench/train_bench.py seed --home /tmp/bench-home --steps 20
    python bench/train_bench.py grow --home /tmp/bench-home --factor 10   # memory when 10x bigger
    python bench/train_bench.py experiments --home /tmp/bench-home   # the sizing experiments

Each mode prints one JSON line per measurement. Retrains run ``haverford train`` as a child
process on a scratch copy of the home, so wall time includes Python and TensorFlow start-up and
peak memory is the child's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPERIMENTS = {
    "fast (chosen)": {},
    "no input pooling": {"pool_input": None},
    "input pool 4x2": {"pool_input": [4, 2]},
    "2 conv blocks": {"conv": [[16, 3], [32, 3]]},
    "5x5 kernels": {"conv": [[16, 5], [32, 5], [32, 3]]},
    "no batch norm": {"batch_norm": False},
    "flatten (no global pool)": {"global_pool": False},
    "lr 1e-3": {"learning_rate": 1e-3},
    "lr 1e-4 (seed's)": {"learning_rate": 1e-4},
    "patience 2": {"patience": 2},
    "patience 8": {"patience": 8},
}


def scratch_copy(home: Path) -> Path:
    """A throwaway copy of the home (database and feature store) to train in."""
    target = Path(tempfile.mkdtemp(prefix="haverford-bench-")) / "home"
    shutil.copytree(home, target, ignore=shutil.ignore_patterns("models", "demo-audio", "logs"),
                    symlinks=True)
    return target


def run_cli(args: list[str]) -> dict:
    """Run ``haverford ARGS --json`` in a child; add wall seconds and the child's peak RSS (MiB)."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "haverford.core.cli", *args, "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"haverford {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout)
    out["wall_s"] = round(wall, 2)
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return out


def retrain(home: Path, *, preset: str = "fast", extra: list[str] = ()) -> dict:
    """One whole Retrain (split, fit, evaluate, save, score the library, activate)."""
    work = scratch_copy(home)
    out = run_cli(["train", "--home", str(work), "--preset", preset, *extra])
    out.update(_model_facts(work, out["model_id"]))
    shutil.rmtree(work.parent)
    return out


def _model_facts(home: Path, model_id: int) -> dict:
    from haverford.core.home import Home
    from haverford.db import models as models_db
    from haverford.db import runs as runs_db

    db = Home(home).connect()
    row = models_db.get_model(db, model_id)
    run = runs_db.get_run(db, row["run_id"])
    return {"epochs_run": len(row["curves"].get("loss", [])), "roc_auc": row["metrics"].get("roc_auc"),
            "track_accuracy": row["metrics"].get("track_accuracy"),
            "run_started": run["started_at"], "run_finished": run["finished_at"]}


def seed_steps(home: Path, *, steps: int) -> dict:
    """The seed preset for ``steps`` steps (log_stft computed first if missing); time per step."""
    work = scratch_copy(home)
    from haverford.core.home import Home
    from haverford.core.ingest import compute_missing

    started = time.perf_counter()
    compute_missing(Home(work), "log_stft")
    feature_s = time.perf_counter() - started
    out = run_cli(["train", "--home", str(work), "--preset", "seed", "--max-steps", str(steps)])
    short = run_cli(["train", "--home", str(work), "--preset", "seed", "--max-steps", "1"])
    per_step = (out["seconds"] - short["seconds"]) / max(1, steps - 1)
    out.update({"log_stft_seconds": round(feature_s, 1), "seconds_per_step": round(per_step, 2),
                "extrapolated_1000_steps_min": round(per_step * 1000 / 60, 1)})
    shutil.rmtree(work.parent)
    return out


def grow(home: Path, *, factor: int) -> dict:
    """Clone every labelled track ``factor - 1`` times (same feature files), then Retrain."""
    work = scratch_copy(home)
    clone_library(work, factor=factor)
    out = run_cli(["train", "--home", str(work), "--preset", "fast"])
    out["factor"] = factor
    shutil.rmtree(work.parent)
    return out


def clone_library(home: Path, *, factor: int) -> None:
    """Add ``factor - 1`` copies of each track (new hash, shared feature files, same verdicts)."""
    from haverford.core.features import get_feature
    from haverford.core.home import Home
    from haverford.db import answers as answers_db
    from haverford.db import library as library_db
    from haverford.db import models as models_db
    from haverford.db import questions as questions_db
    from haverford.db import tracks as tracks_db

    db = Home(home).connect()
    verdict_q = questions_db.verdict_question_id(db)
    verdicts = {r["segment_id"]: r["verdict"] for r in models_db.labelled_segments(db)}
    originals = [tracks_db.get_track(db, t["id"]) for t in library_db.tracks_overview(db)]
    n_bins, n_frames = get_feature("log_mel").shape
    for copy in range(1, factor):
        for t in originals:
            track = {k: v for k, v in t.items() if k not in ("id", "imported_at")}
            track["content_hash"] = f"{t['content_hash']}-copy{copy}"
            old_ids = tracks_db.segment_ids(db, t["id"])
            path = tracks_db.segment_locations(db, old_ids[:1], "log_mel")[0]["path"]
            f = {"feature": "log_mel", "path": path, "n_segments": t["n_segments"], "n_bins": n_bins,
                 "n_frames": n_frames}
            new_id = tracks_db.insert_track(db, track, segment_s=5.0, features=[f])
            for old, new in zip(old_ids, tracks_db.segment_ids(db, new_id), strict=False):
                if old in verdicts:
                    answers_db.save_answers(db, [new], "import", {verdict_q: verdicts[old]})


def experiments(home: Path, *, names: list[str] | None) -> None:
    """Train the fast preset and variants on the same stored split, in this process."""
    from haverford.core.home import Home
    from haverford.core.train import TrainConfig, train

    work = scratch_copy(home)
    for name, overrides in EXPERIMENTS.items():
        if names and name not in names:
            continue
        started = time.perf_counter()
        result = train(Home(work), TrainConfig(preset="fast", overrides=overrides))
        row = result.row
        print(json.dumps({"experiment": name, "overrides": overrides,
                          "test_accuracy": round(row["metrics"]["accuracy"], 3),
                          "track_accuracy": round(row["metrics"]["track_accuracy"], 3),
                          "roc_auc": round(row["metrics"]["roc_auc"], 3),
                          "best_val_loss": round(min(row["curves"].get("val_loss", [float("nan")])), 3),
                          "epochs": len(row["curves"]["loss"]),
                          "train_s": round(time.perf_counter() - started, 1)}), flush=True)
    shutil.rmtree(work.parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("retrain", "seed", "grow", "experiments"))
    parser.add_argument("--home", type=Path, default=Path("/tmp/bench-home"))
    parser.add_argument("--steps", type=int, default=20, help="seed: steps to time")
    parser.add_argument("--factor", type=int, default=10, help="grow: library size multiple")
    parser.add_argument("--only", action="append", help="experiments: run only these")
    parser.add_argument("--preset", default="fast", help="retrain: preset")
    args = parser.parse_args()
    if args.mode == "retrain":
        print(json.dumps(retrain(args.home, preset=args.preset)))
    elif args.mode == "seed":
        print(json.dumps(seed_steps(args.home, steps=args.steps)))
    elif args.mode == "grow":
        print(json.dumps(grow(args.home, factor=args.factor)))
    else:
        experiments(args.home, names=args.only)


if __name__ == "__main__":
    main()
