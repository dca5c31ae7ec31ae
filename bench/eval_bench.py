"""Evaluation benchmark: the misclassified list and the Evaluate page at 100,000 scored segments.

Builds a temporary home with generated rows only (tracks, segments, a stored split, verdict
answers from ``import`` for every segment, full questionnaires from ``alice`` on a tenth, the
consensus cache, one active model and its 100,000 scores), then times
``db.evaluation.misclassified`` with filters and the Evaluate page's server time under AppTest.

    python bench/eval_bench.py [--segments 100000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from haverford.core.config import HOME_ENV  # noqa: E402
from haverford.core.evaluate import evaluate_model  # noqa: E402
from haverford.core.home import Home  # noqa: E402
from haverford.db import evaluation as eval_db  # noqa: E402
from haverford.db import models as models_db  # noqa: E402
from haverford.db import questions as questions_db  # noqa: E402
from haverford.db import write  # noqa: E402

SEGMENTS_PER_TRACK = 100
TARGETS = {"misclassified_filtered_ms": 200, "evaluate_page_ms": 500}
STAMP = "2024-01-01T00:00:00.000+00:00"


def fill(home: Home, n_segments: int, rng: np.random.Generator) -> int:
    """Generated library, labels, split, answers and one active model's scores; returns the model id."""
    db = home.connect()
    n_tracks = -(-n_segments // SEGMENTS_PER_TRACK)
    track_label = rng.random(n_tracks) < 0.5
    with write(db):
        db["tracks"].insert_all(({"id": t + 1, "path": f"/bench/{t}.wav", "content_hash": f"bench{t:08d}",
                                  "title": f"Track {t}", "duration_s": 500.0, "orig_sr": 22050, "orig_channels": 1,
                                  "n_segments": SEGMENTS_PER_TRACK, "imported_at": STAMP} for t in range(n_tracks)),
                                batch_size=1000)
        db["segments"].insert_all(({"id": i + 1, "track_id": i // SEGMENTS_PER_TRACK + 1, "idx": i % SEGMENTS_PER_TRACK,
                                    "start_s": 5.0 * (i % SEGMENTS_PER_TRACK), "end_s": 5.0 * (i % SEGMENTS_PER_TRACK) + 5}
                                   for i in range(n_segments)), batch_size=5000)
        labels = np.array([track_label[i // SEGMENTS_PER_TRACK] != (rng.random() < 0.05) for i in range(n_segments)])
        add_answers(db, labels, rng)
        db["segment_verdicts"].insert_all(({"segment_id": i + 1, "n_labellers": 1, "banger_votes": int(y),
                                            "not_votes": int(not y), "verdict": "banger" if y else "not_a_banger",
                                            "updated_at": STAMP} for i, y in enumerate(labels)), batch_size=5000)
        sides = {t + 1: ("test" if t % 10 < 2 else "validation" if t % 10 == 2 else "train") for t in range(n_tracks)}
        db["splits"].insert_all(({"track_id": t, "side": s, "assigned_at": STAMP} for t, s in sides.items()))
        split = {side: [t for t, s in sides.items() if s == side] for side in ("train", "validation", "test")}
        model_id = models_db.insert_model(db, {"preset": "fast", "feature": "log_mel", "params": {"split": split}})
        p = np.clip(np.where(labels, 0.7, 0.3) + rng.normal(0, 0.25, n_segments), 0, 1)
        db["predictions"].insert_all(({"model_id": model_id, "segment_id": i + 1, "p_banger": float(v)}
                                      for i, v in enumerate(p)), batch_size=5000)
        models_db.activate(db, model_id)
    db.execute("ANALYZE")
    return model_id


def add_answers(db, labels: np.ndarray, rng: np.random.Generator) -> None:
    """``import``'s verdict on every segment; ``alice``'s whole questionnaire on a tenth of them."""
    q = {r["key"]: r["id"] for r in questions_db.list_questions(db)}
    rows = [{"segment_id": i + 1, "question_id": q["verdict"], "labeller": "import",
             "value": "banger" if y else "not_a_banger", "created_at": STAMP} for i, y in enumerate(labels)]
    for i in np.flatnonzero(rng.random(len(labels)) < 0.1):
        banger = bool(labels[i])
        answers = {"bpm": 128 if banger else 80, "drops": 2 if banger else 0, "acoustic": 0 if banger else 1,
                   "verdict": "banger" if banger else "not_a_banger"}
        if banger:
            answers["drop_dopeness"] = 7
        rows += [{"segment_id": int(i) + 1, "question_id": q[k], "labeller": "alice", "value": v,
                  "created_at": STAMP} for k, v in answers.items()]
    db["answers"].insert_all(rows, batch_size=5000)


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def bench_queries(db, model_id: int, repeats: int) -> dict:
    """The misclassified list, filtered several ways, and the score histogram."""
    q = eval_db.misclassified
    return {
        "misclassified_filtered_ms": median_ms(lambda: q(db, model_id, side="test", min_confidence=0.6), repeats),
        "misclassified_labeller_filter_ms": median_ms(lambda: q(db, model_id, labeller="alice"), repeats),
        "misclassified_track_filter_ms": median_ms(lambda: q(db, model_id, track_id=17), repeats),
        "misclassified_all_ms": median_ms(lambda: q(db, model_id), repeats),
        "misclassified_page_5_ms": median_ms(lambda: q(db, model_id, limit=50, offset=200), repeats),
        "score_histogram_ms": median_ms(lambda: eval_db.score_histogram(db, model_id, side="test"), repeats),
        "misclassified_total": q(db, model_id)[1]["total"],
    }


def bench_page(home: Home, repeats: int) -> dict:
    """Evaluate page server time: a cold first run (evaluation computed) and threshold changes (cached)."""
    from streamlit.testing.v1 import AppTest

    page = str(ROOT / "dashboard" / "views" / "evaluate.py")
    os.environ[HOME_ENV] = str(home.path)
    cold, warm = [], []
    for _i in range(max(3, repeats // 3)):
        at = AppTest.from_file(page, default_timeout=120)
        at.run()  # warm the imports once per AppTest
        at.session_state["eval_threshold"] = 0.5
        from streamlit import cache_data

        cache_data.clear()
        started = time.perf_counter()
        at.run()
        cold.append((time.perf_counter() - started) * 1000)
        assert not at.exception, at.exception
        for t in (0.3, 0.6, 0.45):
            at.slider(key="eval_threshold").set_value(t)
            started = time.perf_counter()
            at.run()
            warm.append((time.perf_counter() - started) * 1000)
    return {"evaluate_page_ms": round(statistics.median(warm), 1),
            "evaluate_page_cold_ms": round(statistics.median(cold), 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home")
        started = time.perf_counter()
        model_id = fill(home, args.segments, rng)
        out = {"segments": args.segments, "build_s": round(time.perf_counter() - started, 1)}
        db = home.connect()
        out.update(bench_queries(db, model_id, args.repeats))
        out["evaluate_model_ms"] = median_ms(lambda: evaluate_model(home), 3)
        out["test_segments"] = evaluate_model(home).split.test_segments
        out.update(bench_page(home, args.repeats))
    out["targets_ms"] = TARGETS
    out["within_targets"] = all(out[k] <= v for k, v in TARGETS.items())
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
