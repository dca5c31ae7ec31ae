"""Ingest speed against the cost of decoding alone, and the feature store's read rate.

Usage: python bench/ingest_bench.py FOLDER [--workers N] [--rounds N]

(a) decodes every audio file under FOLDER with soundfile only, one process per core;
(b) runs ``haverford ingest`` on the same files into a fresh home (decode, resample,
segment, features, store). Each round measures (a) then (b), so that both see the same
load on a shared machine; the figures are per round and the median over rounds. Then
reads the log_mel features of 1,000 random segments from the store and reports bytes per
segment.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf

from haverford.core.home import Home
from haverford.core.ingest import AUDIO_EXTENSIONS
from haverford.db import tracks as tracks_db


def decode_only(path: str) -> float:
    """Decode the whole file with soundfile, block by block as ingest does; return its duration."""
    frames = 0
    with sf.SoundFile(path) as f:
        while True:
            block = f.read(int(20 * f.samplerate), dtype="float32", always_2d=True)
            if not len(block):
                return frames / f.samplerate
            frames += len(block)


def bench_decode(files: list[str], workers: int) -> tuple[float, float]:
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        audio_s = sum(pool.map(decode_only, sorted(files, key=lambda p: -os.path.getsize(p))))
    return time.perf_counter() - started, audio_s


def bench_ingest(folder: str, home: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "haverford.core.cli", "ingest", folder, "--home", str(home), "--json"],
                          capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(proc.stdout)


def bench_read(home: Path, n: int = 1000) -> tuple[float, int, int]:
    h = Home(home)
    db = h.connect()
    ids = [r[0] for r in db.execute("SELECT id FROM segments")]
    random.seed(0)
    chosen = random.sample(ids, min(n, len(ids)))
    started = time.perf_counter()
    values = h.store.read(tracks_db.segment_locations(db, chosen, "log_mel"), "log_mel")
    elapsed = time.perf_counter() - started
    return elapsed, len(values), h.store.bytes_used("log_mel") // max(1, len(ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    files = [str(p) for p in Path(args.folder).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS]
    rounds = []
    for _ in range(args.rounds):
        decode_s, audio_s = bench_decode(files, args.workers)
        home = Path(tempfile.mkdtemp(prefix="haverford-bench-"))
        try:
            ingest_s, report = bench_ingest(args.folder, home)
            read_s, n_read, bytes_per_segment = bench_read(home)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        rounds.append((decode_s, ingest_s, ingest_s / decode_s))
        print(f"round {len(rounds)}: (a) {decode_s:.2f} s, (b) {ingest_s:.2f} s, (b)/(a) {ingest_s / decode_s:.2f}")
    decode_s, ingest_s, ratio = (statistics.median(r[i] for r in rounds) for i in range(3))
    print(f"files: {len(files)}, audio: {audio_s / 60:.1f} min, cores: {os.cpu_count()}, rounds: {len(rounds)} (medians)")
    print(f"(a) decode only, {args.workers} processes: {decode_s:.2f} s ({audio_s / decode_s:.0f}x real time)")
    print(f"(b) haverford ingest: {ingest_s:.2f} s ({audio_s / ingest_s:.0f}x real time), "
          f"{report['tracks_added']} tracks, {report['segments_added']} segments, {len(report['errors'])} errors")
    print(f"(b) / (a) = {ratio:.2f}, range {min(r[2] for r in rounds):.2f}-{max(r[2] for r in rounds):.2f} "
          f"(target <= 1.5); hour of audio in {3600 * ingest_s / audio_s:.1f} s (target <= 12 s)")
    print(f"store read: {n_read} segments of log_mel in {read_s:.3f} s (target < 0.5 s); "
          f"{bytes_per_segment} bytes per segment")


if __name__ == "__main__":
    main()
