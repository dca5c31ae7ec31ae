"""Leave-one-source-out benchmark (bench/README.md, "Real music: leave one source out").

    bench/devmusic/fetch_devmusic.sh /work/devmusic              # 25 tracks, 12 sources
    bench/devmusic/fetch_devmusic_more.sh /work/devmusic-more    # 39 tracks, 9 sources
    haverford ingest /work/devmusic /work/devmusic-more --home /work/bench-homes/devmusic-all
    python bench/loso_bench.py --home /work/bench-homes/devmusic-all --preset fast
    python bench/loso_bench.py --home H --preset fast --set epochs=5 --variant "fast, 5 epochs"
    python bench/loso_bench.py --home H --preset fast --write    # record it in core/benchmarks.json
    python bench/loso_bench.py --record run.jsonl                # or record a saved full run's stdout later
    python bench/loso_bench.py --home H --preset transfer --classic musicnn --classic log_mel+percussive_mel
    python bench/loso_bench.py --home H --preset transfer-tuned   # a preset saved by `haverford tune --save-as`
    python bench/loso_bench.py --home H --no-convnet --classic musicnn     # the other models only (seconds)
    python bench/loso_bench.py --table run1.jsonl run2.jsonl    # saved runs as one Markdown table
    python bench/loso_bench.py --home H --preset transfer-rhythm --probs p.npz   # held-out p(banger) per segment

A track's source is the part of its file name before ``__`` (the Debian package it came from).
For each source: its tracks are the test side; of the other sources' tracks, a seeded, class-
stratified eighth is the validation side (early stopping, as in a Retrain) and the rest train.
The model is fitted with ``core.train.fit_model`` and scored with ``core.inference.predict_subset``;
figures come from ``core.evaluate`` (``metrics``, ``track_results``, ``majority_baseline``).
``--classic F1+F2`` also fits ``core.classic``'s three models (issue 15) in every fold, on the same
training side as the ConvNet, on the pooled summaries of those stored features (``musicnn`` is
pooled already). Progress goes to stderr; stdout gets one JSON line per fold and variant and one
pooled line per variant (``"folds"`` set); only the ConvNet's is recorded by ``--write``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from haverford.core import benchmarks, classic
from haverford.core.baselines import majority_baseline
from haverford.core.home import Home
from haverford.core.inference import predict_subset
from haverford.core.metrics import as_pred_probs, metrics, track_results
from haverford.core.presets import TrainConfig
from haverford.core.split import Subset, labelled_subsets
from haverford.core.train import SilentReporter, fit_model, prepare_features
from haverford.core.vocabulary import CLASSES, TEST, TRAIN, VALIDATION
from haverford.db import models as models_db
from haverford.db import tracks as tracks_db

VALIDATION_SHARE = 0.125


def source_of(path: str) -> str:
    """The package name before ``__`` in a devmusic file name (the whole stem if there is none)."""
    return Path(path).stem.split("__")[0]


def track_sources(db) -> dict[int, tuple[str, str]]:
    """Labelled track id → (source, track label)."""
    return {t["track_id"]: (source_of(tracks_db.get_track(db, t["track_id"])["path"]), t["verdict"])
            for t in models_db.labelled_tracks(db)}


def fold_sides(tracks: dict[int, tuple[str, str]], held_out: list[str], *, seed: int) -> dict[int, str]:
    """Test = the held-out sources' tracks; validation = a class-stratified eighth of the rest."""
    rng = np.random.default_rng([seed, *(sum(map(ord, s)) for s in held_out)])
    sides = {t: TEST for t, (source, _) in tracks.items() if source in held_out}
    for verdict in CLASSES:
        rest = sorted(t for t, (source, v) in tracks.items() if source not in held_out and v == verdict)
        n_val = max(1, round(VALIDATION_SHARE * len(rest))) if len(rest) > 2 else 0
        picked = set(rng.choice(rest, size=n_val, replace=False).tolist()) if n_val else set()
        sides.update({t: VALIDATION if t in picked else TRAIN for t in rest})
    return sides


def held_out_groups(sources: list[str], *, groups: int | None) -> list[list[str]]:
    """One source per fold, or with ``groups`` K: fold i holds out sources i, i + K, i + 2K, …"""
    if not groups:
        return [[s] for s in sources]
    return [sources[i::groups] for i in range(groups)]


def run_fold(home: Home, subsets: dict[str, Subset], *, preset, seed: int, probs: list | None = None) -> dict:
    """Fit on the training side, score the test side: segment/track accuracy and baselines.

    ``probs``, when given, gets ``(test subset, p_banger)`` appended (for ``--probs``).
    """
    started = time.perf_counter()
    model, curves, _ = fit_model(home, subsets, preset=preset, seed=seed, reporter=SilentReporter())
    fit_s = time.perf_counter() - started
    test = subsets[TEST]
    p = predict_subset(home, model, test, feature=preset.feature)
    if probs is not None:
        probs.append((test, p))
    return {**fold_figures(test, p, subsets[TRAIN].labels, db=home.connect()), "fit_s": round(fit_s, 1),
            "epochs": len(curves.get("loss", []))}


def classic_folds(home: Home, subsets: dict[str, Subset], *, features: tuple[str, ...], seed: int,
                  cache: dict) -> dict[str, dict]:
    """Each of ``core.classic.MODELS`` fitted on the training side and scored on the test side.

    ``cache`` keeps the pooled features of every segment read so far (they do not change between
    folds). Returns variant name → fold figures with ``fit_s`` (scaling and fitting, seconds).
    """
    def pooled(subset: Subset) -> np.ndarray:
        missing = [int(s) for s in subset.segment_ids if int(s) not in cache]
        if missing:
            cache.update(zip(missing, classic.pooled_features(home, np.array(missing), features), strict=True))
        return np.stack([cache[int(s)] for s in subset.segment_ids])

    train, test = subsets[TRAIN], subsets[TEST]
    X_train, X_test = pooled(train), pooled(test)
    out = {}
    for spec in classic.MODELS:
        pipeline, fit_s = classic.fit_pipeline(spec.key, X_train, train, seed=seed)
        out[f"{spec.key} on {'+'.join(features)}"] = {
            **fold_figures(test, classic.p_banger(pipeline, X_test), train.labels, db=home.connect()),
            "fit_s": round(fit_s, 2)}
    return out


def fold_figures(test: Subset, p: np.ndarray, train_labels: np.ndarray, *, db=None) -> dict:
    """Accuracy of segments and tracks, and the training majority's accuracy on both; given the
    database, also the file names of the tracks called wrong (``wrong_tracks``)."""
    probs = as_pred_probs(p)
    rows, track_labels, track_probs = track_results(test.labels, probs, test.track_ids)
    wrong = ([Path(tracks_db.get_track(db, r["track_id"])["path"]).stem for r in rows if r["correct"] is False]
             if db is not None else [])
    counts = {c: int(np.sum(train_labels == i)) for i, c in enumerate(CLASSES)}
    base = majority_baseline(test.labels, counts, tracks=len(track_labels))
    track_base = majority_baseline(track_labels, counts, tracks=len(track_labels))
    track_accuracy = metrics(track_labels, track_probs).accuracy
    return {"segments": len(test), "tracks": len(track_labels),
            "segment_accuracy": metrics(test.labels, probs).accuracy, "track_accuracy": track_accuracy,
            "majority_segments": base["accuracy"], "majority_tracks": track_base["accuracy"],
            "track_correct": int(round(track_accuracy * len(track_labels))),
            **({"wrong_tracks": wrong} if db is not None else {})}


def pooled(folds: list[dict]) -> dict:
    """Pooled figures: every held-out segment and track counted once, over all folds."""
    seg = sum(f["segments"] for f in folds)
    trk = sum(f["tracks"] for f in folds)

    def weighted(key: str, size: str) -> float:
        return round(sum(f[key] * f[size] for f in folds) / max(1, sum(f[size] for f in folds)), 4)

    wrong = [t for f in folds for t in f.get("wrong_tracks", [])]
    return {"folds": len(folds), "segments": seg, "tracks": trk, **({"wrong_tracks": wrong} if wrong else {}),
            "segment_accuracy": weighted("segment_accuracy", "segments"),
            "track_accuracy": weighted("track_accuracy", "tracks"),
            "majority_segments": weighted("majority_segments", "segments"),
            "majority_tracks": weighted("majority_tracks", "tracks"),
            "mean_fit_s": round(float(np.mean([f["fit_s"] for f in folds])), 2),
            **({"mean_epochs": round(float(np.mean([f["epochs"] for f in folds])), 1)} if "epochs" in folds[0] else {})}


def save_probs(path: str, probs: list) -> None:
    """Write ``(source, test subset, p_banger)`` of every fold as one ``.npz`` of flat arrays."""
    np.savez(path, source=np.concatenate([[s] * len(t) for s, t, _ in probs]),
             segment_id=np.concatenate([t.segment_ids for _, t, _ in probs]),
             track_id=np.concatenate([t.track_ids for _, t, _ in probs]),
             label=np.concatenate([t.labels for _, t, _ in probs]),
             p_banger=np.concatenate([p for _, _, p in probs]))


def record_saved(path: str, parser: argparse.ArgumentParser) -> None:
    """Record the pooled ConvNet line of a saved run, refusing a partial one (``--groups``,
    ``--sources``, ``--no-convnet``), as ``--write`` would."""
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    pooled_lines = [line for line in lines if "folds" in line and line.get("kind", "convnet") == "convnet"]
    if len(pooled_lines) != 1:
        parser.error(f"{path}: expected one pooled ConvNet line, found {len(pooled_lines)}")
    result = pooled_lines[0]
    words = shlex.split(result["command"])
    if any(flag in words for flag in ("--groups", "--sources", "--no-convnet")):
        parser.error(f"{path} is a partial run ({result['command']}); only full runs are recorded")
    print(f"recorded in {benchmarks.record(result)}", file=sys.stderr)


def machine() -> str:
    """CPU model, usable cores and memory of this machine, in one line."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{len(os.sched_getaffinity(0))} cores, {model}, {mem:.0f} GiB, no GPU"


def parse_overrides(items: list[str]) -> dict:
    """``key=json`` pairs (``epochs=5``, ``conv=[[16,3],[32,3]]``) → preset overrides."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = json.loads(value)
    return out


def markdown_table(paths: list[str]) -> str:
    """Per-fold and pooled figures of saved runs (this script's stdout), side by side, as Markdown."""
    lines_of = [[json.loads(line) for line in Path(p).read_text().splitlines() if line.strip()] for p in paths]
    runs = []  # one list per variant: its folds, then its pooled line
    for lines in lines_of:
        names = list(dict.fromkeys(line.get("variant") for line in lines if "folds" in line))
        if len(names) == 1:  # runs saved before fold lines named their variant
            lines = [{**line, "variant": line.get("variant", names[0])} for line in lines]
        for name in names:
            runs.append([line for line in lines if line.get("variant") == name and "folds" not in line]
                        + [next(line for line in lines if line.get("variant") == name and "folds" in line)])
    names = [r[-1]["variant"] for r in runs]
    head = "| held-out source | tracks | segments | majority seg / tracks | " + " | ".join(
        f"{n}: seg / tracks" for n in names) + " |"
    lines = [head, "|" + "---|" * (4 + len(names))]
    for fold in runs[0][:-1]:
        others = [next((f for f in r[:-1] if f["source"] == fold["source"]), None) for r in runs]
        cells = [f"{f['segment_accuracy']:.3f} / {f['track_correct']}/{f['tracks']}" if f else "—" for f in others]
        lines.append(f"| {fold['source']} | {fold['tracks']} | {fold['segments']} | "
                     f"{fold['majority_segments']:.3f} / {fold['majority_tracks']:.2f} | " + " | ".join(cells) + " |")
    last = runs[0][-1]
    lines.append(f"| **pooled** | {last['tracks']} | {last['segments']} | {last['majority_segments']:.3f} / "
                 f"{last['majority_tracks']:.3f} | " + " | ".join(
                     f"**{r[-1]['segment_accuracy']:.3f} / {r[-1]['track_accuracy']:.3f}**" for r in runs) + " |")
    return "\n".join(lines)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="a home with both devmusic sets ingested")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--feature", default=None, help="override the preset's feature")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override a preset field, e.g. epochs=5 (repeatable)")
    parser.add_argument("--variant", default=None, help="a name for this variant in the output")
    parser.add_argument("--sources", default=None, help="comma-separated sources to hold out (default: all)")
    parser.add_argument("--groups", type=int, default=None,
                        help="quick variant: K folds that each hold out every K-th source (default: one source per fold)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classic", action="append", default=[], metavar="F1+F2",
                        help="also fit the three other models on these stored features' pooled summaries "
                             "(repeatable), e.g. musicnn or log_mel+percussive_mel")
    parser.add_argument("--no-convnet", dest="convnet", action="store_false", help="only the other models")
    parser.add_argument("--write", action="store_true", help="record the pooled result in core/benchmarks.json")
    parser.add_argument("--probs", metavar="NPZ", help="save the ConvNet's held-out p(banger) per segment (source, "
                        "segment_id, track_id, label, p_banger) for offline analysis")
    parser.add_argument("--record", metavar="JSONL",
                        help="record a saved full run's pooled ConvNet line in core/benchmarks.json (as --write "
                             "would have), then exit")
    parser.add_argument("--table", nargs="+", metavar="JSONL",
                        help="print saved runs (this script's stdout) as one Markdown table, then exit")
    return parser


def run_folds(home: Home, preset, groups: list[list[str]] | None, *, n_groups: int | None, seed: int,
              classic_sets: list[tuple[str, ...]] = (), convnet: bool = True,
              variant: str | None = None, probs: list | None = None) -> dict[str, list[dict]]:
    """Train and score one fold per held-out group of sources; one JSON line per fold and variant on stdout.

    Returns variant name → its folds (the ConvNet's variant is ``variant``, else the preset's name).
    """
    db = home.connect()
    tracks = track_sources(db)
    sources = sorted({s for s, _ in tracks.values()})
    held = held_out_groups(groups or sources, groups=n_groups)
    print(f"{len(tracks)} tracks from {len(sources)} sources; labels {Counter(v for _, v in tracks.values())}",
          file=sys.stderr)
    folds: dict[str, list[dict]] = {}
    caches: dict[tuple[str, ...], dict] = {f: {} for f in classic_sets}
    for i, group in enumerate(held, 1):
        subsets = labelled_subsets(db, fold_sides(tracks, group, seed=seed))
        results = {}
        if convnet:
            results[variant or preset.name] = run_fold(home, subsets, preset=preset, seed=seed, probs=probs)
            if probs is not None:
                probs[-1] = ("+".join(group), *probs[-1])  # (source, test subset, p_banger)
        for features in classic_sets:
            results.update(classic_folds(home, subsets, features=features, seed=seed, cache=caches[features]))
        for name, figures in results.items():
            fold = {"variant": name, "source": "+".join(group), **figures}
            folds.setdefault(name, []).append(fold)
            print(f"[{i}/{len(held)}] {name}, {fold['source']}: seg {fold['segment_accuracy']:.3f} "
                  f"tracks {fold['track_correct']}/{fold['tracks']} ({fold['fit_s']} s)", file=sys.stderr)
            print(json.dumps(fold), flush=True)
    return folds


def main(argv: list[str] | None = None) -> None:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(args.table))
        return
    if args.record:
        record_saved(args.record, parser)
        return
    if args.write and (args.groups or args.sources or not args.convnet):
        parser.error("--write records full leave-one-source-out runs of a ConvNet only (no --groups, --sources, --no-convnet)")
    if not args.home:
        parser.error("--home is required (a home with both devmusic sets ingested)")
    home = Home(args.home, create=False)
    config = TrainConfig(preset=args.preset, feature=args.feature, seed=args.seed,
                         overrides=parse_overrides(args.set) or None)
    preset = config.resolved(db=home.connect())  # a saved tuned preset too
    classic_sets = [tuple(f.split("+")) for f in args.classic]
    needed = {preset.feature} if args.convnet else set()
    for name in dict.fromkeys([*sorted(needed), *(f for fs in classic_sets for f in fs)]):
        prepare_features(home, name, reporter=SilentReporter())
    probs: list = []
    folds = run_folds(home, preset, args.sources.split(",") if args.sources else None,
                      n_groups=args.groups, seed=args.seed, classic_sets=classic_sets, convnet=args.convnet,
                      variant=args.variant, probs=probs if args.probs else None)
    if args.probs and probs:
        save_probs(args.probs, probs)
    common = {"seed": args.seed, "date": dt.date.today().isoformat(), "machine": machine(),
              "command": "python bench/loso_bench.py " + shlex.join(argv if argv is not None else sys.argv[1:])}
    for variant, variant_folds in folds.items():
        is_convnet = args.convnet and variant == (args.variant or preset.name)
        result = {"variant": variant,
                  "preset": preset.name if is_convnet else variant.split(" on ")[0],
                  "feature": preset.feature if is_convnet else variant.split(" on ")[1],
                  "overrides": (config.overrides or {}) if is_convnet else {},
                  **({} if is_convnet else {"kind": "classic"}), **pooled(variant_folds), **common}
        print(json.dumps(result), flush=True)
        if args.write and is_convnet:
            print(f"recorded in {benchmarks.record(result)}", file=sys.stderr)


if __name__ == "__main__":
    main()
