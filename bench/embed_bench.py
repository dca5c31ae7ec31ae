"""Speed of the pretrained ``musicnn`` embedding (bench/README.md, "Real music").

    python bench/embed_bench.py /work/devmusic --segments 256

Decodes enough 5-second segments from the audio given (not timed), then times the stored
feature's computation (``features.compute_many(["musicnn"], y)``: resampling to 16 kHz, the
96-band mel, the network on each segment's middle 1.5 s through TensorFlow Lite's XNNPACK kernels)
and, for comparison, the same through the Keras port and the Keras port on the whole 5 s (313
frames). Reports wall and CPU seconds (``time.process_time``: this process's
threads, which is where TensorFlow runs) and the real-time factor of each; with the machine
shared, the CPU figure divided by the cores is the one load does not distort.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from haverford.core import audio, features
from haverford.core.config import SEGMENT_SECONDS, SR


def segments(paths: list[Path], n: int) -> np.ndarray:
    files = sorted(p for root in paths for p in (root.rglob("*") if root.is_dir() else [root])
                   if p.suffix.lower() in {".ogg", ".mp3", ".flac", ".wav", ".opus", ".m4a"})
    out: list[np.ndarray] = []
    for path in files:
        for batch in audio.iter_segments(path):
            out.extend(batch)
            if len(out) >= n:
                return np.stack(out[:n])
    return np.stack(out)


def timed(label: str, fn, y: np.ndarray) -> None:
    fn(y[:8])  # build and trace once
    wall, cpu = time.perf_counter(), time.process_time()
    fn(y)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    audio_s = len(y) * SEGMENT_SECONDS
    cores = len(os.sched_getaffinity(0))
    print(f"{label}: {len(y)} segments in {wall:.1f} s wall ({audio_s / wall:.0f}x real time), "
          f"{cpu:.1f} CPU s ({audio_s / cpu:.0f}x real time per core, {cores * audio_s / cpu:.0f}x on {cores} "
          f"cores if they were free); load {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", nargs="+", type=Path)
    parser.add_argument("--segments", type=int, default=256)
    args = parser.parse_args()
    y = segments(args.audio, args.segments)
    print(f"{len(y)} segments decoded", file=sys.stderr)
    from haverford.core.pretrained import musicnn

    timed(f"stored feature (middle {musicnn.EMBED_FRAMES} frames)", lambda b: features.compute_many(["musicnn"], b), y)
    timed("  of which resampling + mel", lambda b: musicnn.network_input(b, sr=SR), y)

    def keras_port(b: np.ndarray) -> None:  # what embed() ran before it used XNNPACK
        x = musicnn.network_input(b, sr=SR)
        model = musicnn.load_musicnn(x.shape[1])
        for i in range(0, len(x), musicnn.EMBED_BATCH):
            model.predict_on_batch(x[i:i + musicnn.EMBED_BATCH])

    timed("the same through the Keras port (oneDNN), for comparison", keras_port, y)
    whole = musicnn.load_musicnn()

    def whole_segment(b: np.ndarray) -> None:
        import librosa
        import soxr

        y16 = np.stack([soxr.resample(row, SR, musicnn.SR) for row in b])
        S = librosa.feature.melspectrogram(y=y16, sr=musicnn.SR, n_fft=musicnn.N_FFT,
                                           hop_length=musicnn.HOP_LENGTH, n_mels=musicnn.N_MELS)
        x = musicnn.log_mel_input(np.swapaxes(S, 1, 2))
        for i in range(0, len(x), musicnn.EMBED_BATCH):
            whole.predict_on_batch(x[i:i + musicnn.EMBED_BATCH])

    timed("whole 5 s (313 frames), for comparison", whole_segment, y)


if __name__ == "__main__":
    main()
