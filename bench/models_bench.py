"""The other models and a tuned preset against the ConvNet, holding out whole *sources* (issue 15).

On real music (the devmusic set: 25 tracks from 12 Debian game-music packages), tracks of one
package share composer, instruments and mastering, so a split by track still lets a model learn
"sounds like naev". Here folds hold out whole packages (``GroupKFold`` on the package, ``--folds``
folds, stratification impossible with 12 groups): each fold trains the ConvNet (a preset) and the
three ``core.classic`` models on the other packages' tracks and scores the held-out ones, with
the same ``core.metrics.metrics`` and ``track_results`` as the product. Prints one row per model
and fold, then the means, as JSON lines and a table.

    bench/devmusic/fetch_devmusic.sh /work/devmusic
    python bench/models_bench.py build --audio /work/devmusic --home /tmp/models-bench-home
    python bench/models_bench.py loso --home /tmp/models-bench-home --presets fast
    haverford tune --home /tmp/models-bench-home --preset fast --minutes 8 --save-as fast-tuned
    python bench/models_bench.py loso --home /tmp/models-bench-home --presets fast-tuned --no-classic
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from haverford.core import classic
from haverford.core.crosscheck import labelled_arrays
from haverford.core.home import Home
from haverford.core.metrics import as_pred_probs, metrics, track_results
from haverford.core.presets import TrainConfig
from haverford.core.split import Subset
from haverford.core.vocabulary import TEST, TRAIN, VALIDATION
from haverford.db import tracks as tracks_db


def build(audio: Path, home_dir: Path) -> None:
    """Import the devmusic folders (labelled by folder) with both features the models read."""
    from haverford.core.ingest import ingest

    started = time.perf_counter()
    report = ingest(Home(home_dir), [audio], feature_names=("log_mel", "percussive_mel"))
    print(f"imported {len(report.track_ids)} tracks, {report.segments_added} segments in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)


def sources(home: Home, track_ids: np.ndarray, manifest: Path) -> np.ndarray:
    """The Debian package of each segment's track (from the devmusic manifest, by file name)."""
    package = {Path(r["file"]).name: r["package"] for r in csv.DictReader(manifest.open())}
    db = home.connect()
    by_track = {int(t): package[Path(tracks_db.get_track(db, int(t))["path"]).name] for t in np.unique(track_ids)}
    return np.array([by_track[int(t)] for t in track_ids])


def row(name: str, fold: int, labels, p_banger, track_ids, fit_s: float, held: list[str]) -> dict:
    """One model on one fold's held-out packages, through the product's metrics functions."""
    probs = as_pred_probs(p_banger)
    m = metrics(labels, probs)
    _, tl, tp = track_results(labels, probs, track_ids)
    return {"model": name, "fold": fold, "held_out": held, "segments": m.n, "tracks": len(tl),
            "accuracy": m.accuracy, "balanced_accuracy": m.balanced_accuracy, "roc_auc": m.roc_auc,
            "track_accuracy": metrics(tl, tp).accuracy, "fit_seconds": round(fit_s, 3)}


def convnet_fold(home: Home, preset_name: str, train: Subset, test: Subset, *, seed: int) -> tuple[np.ndarray, float]:
    from haverford.core.inference import predict_subset
    from haverford.core.train import SilentReporter, fit_model

    preset = TrainConfig(preset=preset_name).resolved(db=home.connect())
    empty = Subset(*(np.zeros(0, dtype=np.int64),) * 3)
    started = time.perf_counter()
    model, _, _ = fit_model(home, {TRAIN: train, VALIDATION: empty, TEST: empty}, preset=preset, seed=seed,
                            reporter=SilentReporter())
    fit_s = time.perf_counter() - started
    return predict_subset(home, model, test, feature=preset.feature), fit_s


def loso(home: Home, *, presets: list[str], with_classic: bool, folds: int, manifest: Path, seed: int) -> list[dict]:
    data = labelled_arrays(home.connect())
    groups = sources(home, data["track_ids"], manifest)
    X = classic.pooled_features(home, data["segment_ids"]) if with_classic else None
    rows = []
    for fold, (tr, te) in enumerate(GroupKFold(n_splits=folds).split(X if X is not None else data["labels"],
                                                                    data["labels"], groups)):
        train, test = (Subset(data["segment_ids"][i], data["labels"][i], data["track_ids"][i]) for i in (tr, te))
        held = sorted(set(groups[te]))
        for name in presets:
            p, fit_s = convnet_fold(home, name, train, test, seed=seed)
            rows.append(row(f"ConvNet {name}", fold, test.labels, p, test.track_ids, fit_s, held))
            print(json.dumps(rows[-1]), flush=True)
        for spec in classic.MODELS if with_classic else ():
            pipeline, fit_s = classic.fit_pipeline(spec.key, X[tr], train, seed=seed)
            rows.append(row(spec.name, fold, test.labels, classic.p_banger(pipeline, X[te]), test.track_ids,
                            fit_s, held))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def summary(rows: list[dict]) -> str:
    """Mean (and min–max) over folds per model, as a Markdown table."""
    lines = ["| model | accuracy | balanced accuracy | ROC AUC | track accuracy | fit seconds |",
             "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        cells = []
        for key in ("accuracy", "balanced_accuracy", "roc_auc", "track_accuracy", "fit_seconds"):
            v = [r[key] for r in mine if r[key] is not None]
            cells.append(f"{np.mean(v):.3f} ({min(v):.2f}–{max(v):.2f})" if v else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--audio", type=Path, required=True)
    b.add_argument("--home", type=Path, required=True)
    lo = sub.add_parser("loso")
    lo.add_argument("--home", type=Path, required=True)
    lo.add_argument("--presets", nargs="+", default=["fast"])
    lo.add_argument("--no-classic", dest="with_classic", action="store_false")
    lo.add_argument("--folds", type=int, default=4)
    lo.add_argument("--seed", type=int, default=0)
    lo.add_argument("--manifest", type=Path, default=Path("/work/devmusic/manifest.csv"))
    args = parser.parse_args()
    if args.cmd == "build":
        build(args.audio, args.home)
        return
    rows = loso(Home(args.home, create=False), presets=args.presets, with_classic=args.with_classic,
                folds=args.folds, manifest=args.manifest, seed=args.seed)
    print(summary(rows))


if __name__ == "__main__":
    main()
