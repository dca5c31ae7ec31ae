"""Demo benchmark (bench/README.md, "Demo"): how long ``haverford demo`` takes to open with its
first model, how good that model is, and whether the cross-check finds the planted label errors.

    python bench/demo_bench.py                 # default size and seed 0
    python bench/demo_bench.py --seeds 0 1 2   # the same for other seeds
    python bench/demo_bench.py synth           # CPU seconds to generate a minute of each style

For each seed: ``haverford demo --no-serve --json`` runs as a child process in a fresh home (wall
time includes Python and TensorFlow start-up; peak memory is the child's maximum RSS); then the
cross-check (``core.crosscheck.run_crosscheck``, default config) runs in this process, and of
the K labels that differ from the truth (``core.demo.wrong_labels``) it counts how many rank in
the top K of the label-issue list (lowest self-confidence first). One JSON line per seed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def run_demo(home: Path, *, seed: int, tracks: int | None) -> dict:
    """``haverford demo --no-serve --json`` in a child; adds wall and CPU seconds, peak RSS (MiB)."""
    args = [sys.executable, "-m", "haverford.core.cli", "demo", "--no-serve", "--json", "--home", str(home),
            "--seed", str(seed)] + (["--tracks", str(tracks)] if tracks else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"haverford demo failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout)
    out["wall_s"] = round(time.perf_counter() - started, 2)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["cpu_s"] = round(usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime, 1)
    out["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)  # the largest child so far
    return out


def planted_recall(home: Path) -> dict:
    """Run the cross-check; how many of the K wrong labels rank in the top K."""
    from haverford.core.crosscheck import CrossCheckConfig, run_crosscheck
    from haverford.core.demo import wrong_labels
    from haverford.core.home import Home
    from haverford.core.train import SilentReporter

    wrong = wrong_labels(Home(home, create=False))
    started = time.perf_counter()
    out = run_crosscheck(Home(home, create=False), CrossCheckConfig(), reporter=SilentReporter())
    ranked = [r["segment_id"] for r in sorted(out["rows"], key=lambda r: (r["self_confidence"], r["segment_id"]))]
    top = set(ranked[:len(wrong)])
    return {"K": len(wrong), "found_in_top_K": len(top & set(wrong)),
            "recall_at_K": round(len(top & set(wrong)) / max(1, len(wrong)), 3),
            "by_cause": dict(Counter(str(w["planted"]) for w in wrong.values())),
            "missed": [wrong[s] for s in wrong if s not in top],
            "flagged_by_cleanlab": sum(r["is_issue"] for r in out["rows"]), "method": out["method"],
            "crosscheck_s": round(time.perf_counter() - started, 1)}


def bench_demo(seeds: list[int], tracks: int | None) -> None:
    for seed in seeds:
        home = Path(tempfile.mkdtemp(prefix="haverford-demo-bench-")) / "home"
        load = os.getloadavg()[0]  # the machine is shared: say how busy it was
        demo = run_demo(home, seed=seed, tracks=tracks)
        model = demo["model"] or {}
        line = {"seed": seed, "tracks": demo["tracks"], "segments": demo["segments"], "load_avg_1min": load,
                "wall_s": demo["wall_s"], "cpu_s": demo["cpu_s"], "build_s": demo["seconds"],
                "train_job_s": model.get("seconds"), "peak_rss_mib": demo["peak_rss_mib"],
                "test_accuracy": model.get("test_accuracy"), "majority_baseline": model.get("majority_baseline"),
                "test_segments": model.get("test_segments"), **planted_recall(home), "home": str(home)}
        print(json.dumps(line), flush=True)


def bench_synth(repeats: int = 3) -> None:
    """CPU seconds to generate 60 s of each style (best of ``repeats`` seeds)."""
    from haverford.core import synth

    makers = [synth.make_banger, synth.make_not_banger, synth.make_breakbeat, synth.make_live_drums,
              synth.make_ambient, synth.make_synth_ballad, synth.make_intro_outro]
    for make in makers:
        make(0, duration_s=5.0)  # warm scipy's filter design caches
        times = []
        for seed in range(repeats):
            start = time.process_time()  # CPU time: other processes on the machine do not count
            make(seed, duration_s=60.0)
            times.append(time.process_time() - start)
        print(json.dumps({"style": make.__name__, "cpu_s_per_minute": round(min(times), 3)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="demo", choices=("demo", "synth"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tracks", type=int, help="demo size (default: the command's default)")
    args = parser.parse_args()
    if args.mode == "synth":
        bench_synth()
    else:
        bench_demo(args.seeds, args.tracks)


if __name__ == "__main__":
    main()
