"""The recorded leave-one-source-out benchmark: which preset won, and the shipped record's honesty."""

import json

from haverford.core import benchmarks
from haverford.core.features import FEATURES, parts
from haverford.core.vocabulary import PRESET_NAMES


def run(variant, preset, seg, trk, **extra):
    return {"variant": variant, "preset": preset, "feature": "log_mel", "overrides": {}, "folds": 20,
            "segments": 2435, "tracks": 64, "segment_accuracy": seg, "track_accuracy": trk,
            "majority_segments": 0.58, "majority_tracks": 0.58, "date": "2026-11-30",
            "machine": "2 cores", "command": "python bench/loso_bench.py --home H", **extra}


def test_winner_is_the_best_shipped_preset_not_an_experiment():
    runs = [run("fast", "fast", 0.88, 0.92), run("tiny", "tiny", 0.80, 0.85),
            run("fast, mixup", "fast", 0.95, 0.99, overrides={"mixup": 0.2})]
    best = benchmarks.winner_summary(runs)
    assert best["preset"] == "fast" and best["segment_accuracy"] == 0.88
    assert "preset 'fast' on 'log_mel' won with segment accuracy 0.880 and track accuracy 0.920" in best["text"]
    assert "majority baseline 0.580 / 0.580); best of 2 presets measured." in best["text"]


def test_track_accuracy_breaks_a_tie():
    runs = [run("a", "fast", 0.9, 0.91), run("b", "tiny", 0.9, 0.95)]
    assert benchmarks.winner(runs)["preset"] == "tiny"


def test_no_benchmark_means_no_winner():
    assert benchmarks.winner_summary([]) is None
    assert benchmarks.winner_summary([run("x", "fast", 0.9, 0.9, overrides={"epochs": 2})]) is None


def test_record_replaces_the_same_variant(tmp_path, monkeypatch):
    path = tmp_path / "benchmarks.json"
    monkeypatch.setattr(benchmarks, "_path", lambda: path)
    benchmarks.record(run("fast", "fast", 0.8, 0.8))
    benchmarks.record(run("tiny", "tiny", 0.7, 0.7))
    benchmarks.record(run("fast", "fast", 0.85, 0.9))
    stored = json.loads(path.read_text())["runs"]
    assert [(r["variant"], r["segment_accuracy"]) for r in stored] == [("fast", 0.85), ("tiny", 0.7)]


def test_shipped_record_names_known_presets_and_how_it_was_measured():
    runs = benchmarks.load()
    assert runs, "core/benchmarks.json ships with at least the default preset's run"
    for r in runs:
        assert r["preset"] in PRESET_NAMES and all(f in FEATURES for f in parts(r["feature"]))
        assert r["command"].startswith("python bench/loso_bench.py") and r["machine"] and r["date"]
        assert 0.0 <= r["majority_segments"] <= 1.0 and 0.0 <= r["segment_accuracy"] <= 1.0
