"""CPU milliseconds per 5-second segment of each stored feature, and of librosa's own HPSS path that
``percussive_mel`` replaces (one process, one thread of work, generated audio: noise, a tone, clicks).

    python bench/features_bench.py [--segments 24] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from haverford.core import features
from haverford.core.config import SEGMENT_SAMPLES, SR


def segments(n: int) -> np.ndarray:
    """``n`` segments [shape=(n, 110250)]: noise, a 440 Hz tone and 128 BPM clicks in turn."""
    rng = np.random.default_rng(0)
    t = np.arange(SEGMENT_SAMPLES) / SR
    kinds = [0.1 * rng.standard_normal(SEGMENT_SAMPLES), 0.3 * np.sin(2 * np.pi * 440 * t),
             np.where((t % (60 / 128)) < 0.01, 0.8, 0.0)]
    return np.stack([kinds[i % 3] for i in range(n)]).astype(np.float32)


def librosa_percussive_mel(y: np.ndarray) -> np.ndarray:
    """The former path: ``librosa.decompose.hpss`` on each segment's complex STFT."""
    import librosa

    power = [np.abs(librosa.decompose.hpss(D)[1]) ** 2 for D in features.stft(y)]
    return features.to_db(np.stack([features.mel_power(P.T.astype(np.float32)).T for P in power]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    y = segments(args.segments)
    runs = {name: (lambda name=name: features.compute(name, y)) for name in ("log_stft", "log_mel", "percussive_mel")}
    runs["percussive_mel via librosa.decompose.hpss"] = lambda: librosa_percussive_mel(y)
    for name, run in runs.items():
        run()  # imports, caches
        best = min(_cpu(run) for _ in range(args.repeat))
        print(f"{name:45s} {1000 * best / len(y):7.1f} ms CPU per segment (best of {args.repeat})")


def _cpu(run) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


if __name__ == "__main__":
    main()
