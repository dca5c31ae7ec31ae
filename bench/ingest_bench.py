"""Ingest speed against the cost of decoding alone, per format, and the feature store's read rate.

Usage: python bench/ingest_bench.py FOLDER [--workers N] [--rounds N] [--formats original,m4a,mp3] [--keep DIR]
                                   [--stages N]

For each format (``original``: the files as they are; ``m4a`` (AAC) and ``mp3``: FOLDER
converted with ffmpeg into a temporary folder at bench time, keeping the banger/ and
not_a_banger/ layout):
(a) decodes every file with libsndfile and with FFmpeg (PyAV), each alone, one process per
core (a decoder that cannot read the format is reported as such); the faster is "the fastest
pure decode";
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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import av.error
import soundfile as sf

from haverford.core import analyse, audio, pool
from haverford.core.discover import AUDIO_EXTENSIONS
from haverford.core.home import Home
from haverford.db import tracks as tracks_db


def decode_sndfile(path: str) -> float:
    """Decode the whole file with libsndfile, block by block as ingest does; return its duration."""
    frames = 0
    with sf.SoundFile(path) as f:
        while True:
            block = f.read(int(20 * f.samplerate), dtype="float32", always_2d=True)
            if not len(block):
                return frames / f.samplerate
            frames += len(block)


def decode_ffmpeg(path: str) -> float:
    """Decode the whole file with FFmpeg through PyAV to float32 arrays; return its duration."""
    frames, rate = 0, 1
    with av.open(path) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for frame in container.decode(stream):
            frame.to_ndarray()
            frames += frame.samples
    return frames / rate


DECODERS = {"libsndfile": decode_sndfile, "ffmpeg": decode_ffmpeg}


def children_cpu_s() -> float:
    """CPU seconds (user + system) of every finished child process and its descendants so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_decode(files: list[str], workers: int, decoder: str) -> tuple[float, float, float] | None:
    """Seconds and CPU seconds to decode ``files`` with one decoder, and the audio seconds;
    None if the decoder cannot read them."""
    started, cpu = time.perf_counter(), children_cpu_s()
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            audio_s = sum(pool.map(DECODERS[decoder], sorted(files, key=lambda p: -os.path.getsize(p))))
    except (sf.LibsndfileError, RuntimeError, av.error.FFmpegError):
        return None
    return time.perf_counter() - started, audio_s, children_cpu_s() - cpu


def convert(folder: str, fmt: str, out: Path) -> str:
    """FOLDER's audio files converted to ``fmt`` (AAC in m4a, or MP3) under ``out``, same layout."""
    codec = {"m4a": ["-c:a", "aac", "-b:a", "192k"], "mp3": ["-c:a", "libmp3lame", "-q:a", "2"]}[fmt]
    jobs = []
    for src in sorted(Path(folder).rglob("*")):
        if src.suffix.lower() in AUDIO_EXTENSIONS:
            dst = out / src.relative_to(folder).with_suffix(f".{fmt}")
            dst.parent.mkdir(parents=True, exist_ok=True)
            jobs.append(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), "-map", "0:a", *codec, str(dst)])
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(subprocess.run, jobs))
    return str(out)


def bench_ingest(folder: str, home: Path) -> tuple[float, dict, float]:
    started, cpu = time.perf_counter(), children_cpu_s()
    proc = subprocess.run([sys.executable, "-m", "haverford.core.cli", "ingest", folder, "--home", str(home), "--json"],
                          capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(proc.stdout), children_cpu_s() - cpu


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


def bench_format(folder: str, args) -> dict:
    """Rounds of (a) pure decodes and (b) ingest for the files under ``folder``; medians."""
    files = [str(p) for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS]
    rounds = []
    for _ in range(args.rounds):
        decodes = {name: bench_decode(files, args.workers, name) for name in DECODERS}
        fastest = min(d[0] for d in decodes.values() if d)
        audio_s = next(d[1] for d in decodes.values() if d)
        home = Path(tempfile.mkdtemp(prefix="haverford-bench-"))
        try:
            ingest_s, report, ingest_cpu = bench_ingest(folder, home)
            read = bench_read(home)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        fastest_cpu = min(d[2] for d in decodes.values() if d)
        rounds.append({"decode": {k: v and v[0] for k, v in decodes.items()}, "fastest": fastest,
                       "ingest": ingest_s, "ratio": ingest_s / fastest, "ingest_cpu": ingest_cpu,
                       "cpu_ratio": ingest_cpu / fastest_cpu})
        times = ", ".join(f"{k} {v:.2f} s" if v else f"{k} cannot" for k, v in rounds[-1]["decode"].items())
        print(f"  round {len(rounds)}: (a) {times}; (b) {ingest_s:.2f} s; (b)/fastest (a) {ingest_s / fastest:.2f}")
    return {"files": len(files), "audio_s": audio_s, "rounds": rounds, "report": report, "read": read}


def summarise(fmt: str, result: dict, workers: int) -> None:
    rounds, audio_s, report = result["rounds"], result["audio_s"], result["report"]
    med = {k: statistics.median(r[k] for r in rounds) for k in ("fastest", "ingest", "ratio", "ingest_cpu", "cpu_ratio")}
    for name in DECODERS:
        times = [r["decode"][name] for r in rounds if r["decode"][name]]
        text = f"{statistics.median(times):.2f} s ({audio_s / statistics.median(times):.0f}x real time)" if times \
            else "cannot decode this format"
        print(f"{fmt}: (a) {name}, {workers} processes: {text}")
    print(f"{fmt}: (b) haverford ingest: {med['ingest']:.2f} s ({audio_s / med['ingest']:.0f}x real time, target >= 600x), "
          f"{report['tracks_added']} tracks, {report['segments_added']} segments, {len(report['errors'])} errors")
    print(f"{fmt}: (b) / fastest (a) = {med['ratio']:.2f}, range {min(r['ratio'] for r in rounds):.2f}-"
          f"{max(r['ratio'] for r in rounds):.2f} (target <= 1.5); {result['files']} files, {audio_s / 60:.1f} min")
    print(f"{fmt}: (b) CPU time {med['ingest_cpu']:.2f} s, {med['cpu_ratio']:.2f}x the fastest decode's; "
          f"on {workers} otherwise idle cores that is {audio_s * workers / med['ingest_cpu']:.0f}x real time")
    read_s, n_read, bytes_per_segment = result["read"]
    print(f"{fmt}: store read: {n_read} segments of log_mel in {read_s:.3f} s; {bytes_per_segment} bytes per segment")


STAGES = {
    "decode + downmix (audio.mono_blocks)": lambda p, store: _drain(audio.mono_blocks(audio.probe(p), audio.Decoding())),
    "+ resample to 22,050 Hz (audio.iter_audio)": lambda p, store: _drain(audio.iter_audio(p)),
    "+ cut into batches of segments (audio.iter_segments)": lambda p, store: _drain(audio.iter_segments(p)),
    "+ log_mel and silence (analyse.featurise)": lambda p, store: _drain(analyse.featurise(
        Path(p), ("log_mel",), info=audio.probe(p), decoding=audio.Decoding())),
    "+ float16 store and hash (analyse.analyse_file)": lambda p, store: analyse.analyse_file(
        Path(p), digest=analyse.content_hash(Path(p)), store_root=store, feature_names=("log_mel",)),
}


def _drain(blocks) -> None:
    for _ in blocks:
        pass


def bench_stages(fmt: str, folder: str, n_files: int, rounds: int) -> None:
    """CPU seconds of each worker step added in turn, in this process, best of ``rounds``."""
    files = sorted((str(p) for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS),
                   key=lambda p: -os.path.getsize(p))[:n_files]
    pool.warm_up()
    pool._keep_freed_memory()  # as in the forked workers
    store = tempfile.mkdtemp(prefix="haverford-bench-store-")
    steps = {f"pure decode, {name}": lambda p, store, name=name: DECODERS[name](p) for name in DECODERS}
    print(f"{fmt}: CPU seconds over {len(files)} files, one process, best of {rounds}")
    for name, step in {**steps, **STAGES}.items():
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time()
            try:
                for path in files:
                    step(path, store)
            except (sf.LibsndfileError, RuntimeError, av.error.FFmpegError):
                best = float("nan")
                break
            best = min(best, time.process_time() - started)
        print(f"  {name}: {best:.3f} s")
    shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--formats", default="original,m4a,mp3", help="comma-separated: original, m4a, mp3")
    parser.add_argument("--keep", metavar="DIR", help="keep the converted files in DIR and reuse them next time")
    parser.add_argument("--stages", type=int, metavar="N", help="time each worker step on the N largest files instead")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, rounds: {args.rounds} (medians)")
    scratch = Path(args.keep or tempfile.mkdtemp(prefix="haverford-bench-audio-"))
    try:
        for fmt in args.formats.split(","):
            started = time.perf_counter()
            if fmt == "original":
                folder = args.folder
            elif (scratch / fmt).is_dir():
                folder = str(scratch / fmt)
            else:
                folder = convert(args.folder, fmt, scratch / fmt)
                print(f"{fmt}: converted with ffmpeg in {time.perf_counter() - started:.1f} s")
            if args.stages:
                bench_stages(fmt, folder, args.stages, args.rounds)
            else:
                summarise(fmt, bench_format(folder, args), args.workers)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
