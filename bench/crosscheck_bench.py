"""Cross-check benchmark (bench/README.md, "Demo"): which fold model ranks label errors first, and how long it takes.

    python bench/crosscheck_bench.py DEMO_HOME ...                 # K = the demo's wrong labels (demo-truth.json)
    python bench/crosscheck_bench.py REAL_HOME --plant 0 1 2       # plant flips in a labelled home's labels
    python bench/crosscheck_bench.py HOME --models knn logistic_regression convnet:fast convnet:transfer

A demo home knows its wrong labels (``core.demo.wrong_labels``). In any other labelled home the
bench plants them, in memory only (the home is not written, except that stored features a model
needs are computed once): for each ``--plant`` seed, two whole tracks flipped (a file in the
wrong folder) and 8 % of the other segments (as the demo plants them). For each model, out-of-fold
scores come from ``core.crosscheck.out_of_fold`` (3 folds by track, the cross-check's default),
segments are ranked by self-confidence, lowest first, and the bench prints how many of the K
wrong labels rank in the top K, and the seconds it took. ``classic-knn`` is ``core.classic``'s kNN
(15 neighbours, Euclidean), the one fitted beside each Retrain, for comparison.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import numpy as np


def planted(data: dict, seed: int) -> np.ndarray:
    """A mask of segments whose label is flipped: two whole tracks and 8 % of the rest."""
    rng = np.random.default_rng(seed)
    flip = np.isin(data["track_ids"], rng.choice(np.unique(data["track_ids"]), 2, replace=False))
    others = np.flatnonzero(~flip)
    flip[rng.choice(others, int(0.08 * len(others)), replace=False)] = True
    return flip


def scores(home, data: dict, folds: np.ndarray, model: str) -> np.ndarray:
    from haverford.core import classic
    from haverford.core.crosscheck import CrossCheckConfig, classic_features, out_of_fold
    from haverford.core.split import Subset
    from haverford.core.train import SilentReporter

    if model == "classic-knn":
        features = classic_features(home.connect(), CrossCheckConfig())
        X = classic.pooled_features(home, data["segment_ids"], features)
        p = np.full(len(folds), np.nan)
        for fold in np.unique(folds):
            held = folds == fold
            train = Subset(data["segment_ids"][~held], data["labels"][~held], data["track_ids"][~held])
            p[held] = classic.p_banger(classic.fit_pipeline("knn", X[~held], train)[0], X[held])
        return p
    name, _, preset = model.partition(":")
    config = CrossCheckConfig(model=name)
    if preset:
        config = replace(config, preset=preset, epochs=6 if preset == "fast" else None)
    return out_of_fold(home, data, folds, config, reporter=SilentReporter())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("homes", nargs="+")
    parser.add_argument("--plant", type=int, nargs="*", default=None, help="seeds of planted flips (homes without a truth file)")
    parser.add_argument("--models", nargs="+", default=["knn", "classic-knn", "logistic_regression"])
    args = parser.parse_args()

    from haverford.core.crosscheck import labelled_arrays, plan_folds, score_rows
    from haverford.core.demo import truth_path, wrong_labels
    from haverford.core.home import Home

    print(f"load average {os.getloadavg()[0]:.1f}; K wrong labels, found = how many rank in the top K")
    for path in args.homes:
        home = Home(path, create=False)
        data0 = labelled_arrays(home.connect())
        if truth_path(home).exists():
            draws = [("demo truth", np.isin(data0["segment_ids"], list(wrong_labels(home))), data0)]
        else:
            draws = []
            for seed in args.plant or [0]:
                flip = planted(data0, seed)
                labels = np.where(flip, 1 - data0["labels"], data0["labels"])
                draws.append((f"planted, seed {seed}", flip, {**data0, "labels": labels}))
        for what, flip, data in draws:
            k_wrong = int(flip.sum())
            folds = plan_folds(data["labels"], data["track_ids"], k=3, seed=0)
            for model in args.models:
                started = time.perf_counter()
                p = scores(home, data, folds, model)
                seconds = time.perf_counter() - started
                rows, _ = score_rows(data, folds, p)
                order = np.argsort([r["self_confidence"] for r in rows], kind="stable")
                found = int(flip[order[:k_wrong]].sum())
                print(f"{path} | {what} | {len(flip)} segments | {model} | K {k_wrong} | found {found} "
                      f"({found / k_wrong:.3f}) | {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
