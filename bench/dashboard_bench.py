"""Dashboard benchmark: server time of the clip view, the segments table and saving, at 100,000 segments.

Builds a temporary home with generated rows (tracks, segments, answers: no audio decoding for
them) that point at two real audio files, plus two really ingested tracks with feature files,
then times Streamlit's AppTest runs (server-side script time) and ``core.labelling.save_form``.

    python bench/dashboard_bench.py [--segments 100000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import plotly.io as pio
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]

from haverford.core import labelling  # noqa: E402
from haverford.core.config import HOME_ENV, SR  # noqa: E402
from haverford.core.home import Home  # noqa: E402
from haverford.core.ingest import ingest  # noqa: E402
from haverford.db import answers as answers_db  # noqa: E402
from haverford.db import questions as questions_db  # noqa: E402

SEGMENTS_PER_TRACK = 100
TARGETS = {"clip_view_ms": 150, "segments_table_ms": 200, "save_answer_ms": 20, "spectrogram_kb": 400}
LABELLERS = ("alice", "bob", "chris")


def write_tracks(folder: Path, rng: np.random.Generator) -> list[Path]:
    """Two long WAV files (clicks over noise) that every generated track points at."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, bpm in enumerate((128, 70)):
        seconds = SEGMENTS_PER_TRACK * 5 + 1
        y = 0.05 * rng.standard_normal(seconds * SR).astype(np.float32)
        for t in np.arange(0, seconds, 60 / bpm):
            k = int(t * SR)
            y[k:k + 800] += 0.6 * np.exp(-np.arange(len(y[k:k + 800])) / 150, dtype=np.float32)
        paths.append(folder / f"long-{i}.wav")
        sf.write(paths[-1], np.clip(y, -1, 1), SR, subtype="PCM_16")
    return paths


def fill(home: Home, n_segments: int, audio: list[Path], rng: np.random.Generator) -> None:
    """Generated tracks, segments and answers (three labellers on half the segments)."""
    db = home.connect()
    n_tracks = -(-n_segments // SEGMENTS_PER_TRACK)
    stamp = "2024-01-01T00:00:00.000+00:00"
    db["tracks"].insert_all(({"path": str(audio[t % 2]), "content_hash": f"bench{t:08d}", "title": f"Track {t}",
                              "duration_s": SEGMENTS_PER_TRACK * 5.0, "orig_sr": SR, "orig_channels": 1,
                              "n_segments": SEGMENTS_PER_TRACK, "source": "bench", "imported_at": stamp}
                             for t in range(n_tracks)), batch_size=5000)
    ids = [r[0] for r in db.execute("SELECT id FROM tracks WHERE source = 'bench' ORDER BY id")]
    db["segments"].insert_all(({"track_id": t, "idx": i, "start_s": i * 5.0, "end_s": i * 5.0 + 5}
                               for t in ids for i in range(SEGMENTS_PER_TRACK)), batch_size=10000)
    add_answers(db, rng, stamp)


def add_answers(db, rng: np.random.Generator, stamp: str) -> None:
    q = {x["key"]: x["id"] for x in questions_db.list_questions(db)}
    seg_ids = [r[0] for r in db.execute("SELECT id FROM segments")]
    rows = []
    for s in seg_ids:
        if rng.random() < 0.5:
            continue
        for who in LABELLERS[: int(rng.integers(1, 4))]:
            rows.append({"segment_id": s, "question_id": q["verdict"], "labeller": who, "created_at": stamp,
                         "value": "banger" if rng.random() < 0.5 else "not_a_banger"})
            rows.append({"segment_id": s, "question_id": q["bpm"], "labeller": who, "created_at": stamp,
                         "value": int(rng.integers(60, 180))})
    db["answers"].insert_all(rows, batch_size=20000)
    answers_db.refresh_verdicts(db, seg_ids)


def build(root: Path, n_segments: int) -> Home:
    rng = np.random.default_rng(0)
    home = Home(root / "home")
    audio = write_tracks(root / "audio", rng)
    short = root / "real"
    short.mkdir()
    for i in range(2):  # two really ingested tracks: real feature files in the store
        sf.write(short / f"real-{i}.wav", 0.3 * np.sin(np.arange(SR * 12) * (0.03 + 0.01 * i)).astype(np.float32), SR)
    ingest(home, [short], workers=1)
    fill(home, n_segments - 2 * 2, audio, rng)
    return home


CLIP_SCRIPT = """
import streamlit as st
from haverford.dashboard import clip
from haverford.dashboard.context import connect
clip.render(connect(), "bench_segment")
"""


def time_clip_view(segment_ids: list[int], *, cold: bool) -> list[float]:
    """One rerun per segment in the same session, as when a labeller moves to another segment.

    ``cold`` clears Streamlit's data caches before each run, so audio is decoded and the
    spectrogram computed every time (the worst case). A fresh AppTest per run would add
    Streamlit's once-per-server component scan (~100 ms), which a running server never repeats.
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    times = []
    at = AppTest.from_string(CLIP_SCRIPT, default_timeout=60)
    at.session_state["bench_segment"] = segment_ids[0]
    at.run()  # warm-up: imports and first-use costs, not counted
    for s in segment_ids[1:]:
        at.session_state["bench_segment"] = s
        if cold:
            st.cache_data.clear()
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        assert not at.exception, at.exception
    return times


def time_segments_table(repeats: int) -> tuple[list[float], list[float]]:
    """The Library page with a filter (whole page, a new page of the table each time, caches
    cleared so the tracks overview is recomputed) and the segments query alone."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from haverford.db import library as library_db

    page, query = [], []
    at = AppTest.from_file(str(ROOT / "dashboard" / "views" / "library.py"), default_timeout=60)
    at.session_state["library_status"] = "banger"
    at.run()  # warm-up
    for i in range(repeats):
        at.session_state["library_page"] = 1 + i * 37
        st.cache_data.clear()
        started = time.perf_counter()
        at.run()
        page.append(time.perf_counter() - started)
        assert not at.exception, at.exception
    db = Home(os.environ[HOME_ENV]).connect()
    q = questions_db.verdict_question_id(db)
    for i in range(repeats):
        started = time.perf_counter()
        library_db.segments_table(db, verdict_question=q, status="disagreement", offset=50 * i * 11)
        query.append(time.perf_counter() - started)
    return page, query


def time_save(home: Home, segment_ids: list[int]) -> list[float]:
    db = home.connect()
    questions = questions_db.list_questions(db)
    form = {"bpm": 128, "drops": 2, "drop_dopeness": 7, "acoustic": 0, "verdict": "banger"}
    times = []
    for s in segment_ids:
        started = time.perf_counter()
        labelling.save_form(db, [s], "bench", form, questions)
        times.append(time.perf_counter() - started)
    return times


def spectrogram_bytes(home: Home, segment_id: int) -> int:
    from haverford.dashboard import clip
    from haverford.db import tracks as tracks_db

    seg = tracks_db.get_segment(home.connect(), segment_id)
    spec = clip.clip_figure(seg["path"], offset=seg["start_s"], duration=seg["end_s"] - seg["start_s"])
    return len(pio.to_json(spec, validate=False).encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        home = build(Path(tmp), args.segments)
        os.environ[HOME_ENV] = str(home.path)
        db = home.connect()
        n = db.execute("SELECT COUNT(*) FROM segments").fetchone()[0]
        print(f"built {n} segments, {db.execute('SELECT COUNT(*) FROM answers').fetchone()[0]} answers "
              f"in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        rng = np.random.default_rng(1)
        lo, hi = db.execute("SELECT MIN(id), MAX(id) FROM segments").fetchone()
        picks = [int(x) for x in rng.integers(lo, hi + 1, args.repeats + 1)]
        clip_t = time_clip_view(picks, cold=True)
        warm_t = time_clip_view(picks, cold=False)
        page_t, query_t = time_segments_table(args.repeats)
        save_t = time_save(home, [int(x) for x in rng.integers(lo, hi + 1, 50)])
        result = {
            "segments": n,
            "clip_view_ms": round(1000 * statistics.median(clip_t), 1),
            "clip_view_cached_ms": round(1000 * statistics.median(warm_t), 1),
            "segments_table_ms": round(1000 * statistics.median(page_t), 1),
            "segments_query_ms": round(1000 * statistics.median(query_t), 1),
            "save_answer_ms": round(1000 * statistics.median(save_t), 2),
            "spectrogram_kb": round(spectrogram_bytes(home, picks[0]) / 1024, 1),
        }
    for key, target in TARGETS.items():
        verdict = "ok" if result[key] <= target else "OVER TARGET"
        print(f"{key:>20}: {result[key]:>8} (target ≤ {target}) {verdict}")
    print(f"{'clip_view_cached_ms':>20}: {result['clip_view_cached_ms']:>8} (same segments again, cached)")
    print(f"{'segments_query_ms':>20}: {result['segments_query_ms']:>8} (segments query alone, disagreement filter)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
