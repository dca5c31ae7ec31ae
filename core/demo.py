"""The demo library: generated music written under the home, ingested with its labels, and
answers to Haverford's test from two simulated labellers whose answers follow the generated
truth with realistic noise. Deterministic for a given seed; nothing is downloaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from haverford.core import synth
from haverford.core.home import Home
from haverford.core.ingest import Progress, ingest
from haverford.db import answers as answers_db
from haverford.db import questions as questions_db
from haverford.db import tracks as tracks_db
from haverford.db import write


@dataclass(frozen=True)
class Labeller:
    """A simulated labeller: how often they confuse things."""

    name: str
    verdict_flip: float
    acoustic_flip: float
    bpm_sd: float
    octave_error: float
    share: float  # share of segments they answer


LABELLERS = (Labeller("alice", 0.05, 0.03, 2.0, 0.05, 0.6), Labeller("bob", 0.10, 0.08, 4.0, 0.15, 0.5))


def write_audio(folder: Path, *, n_tracks: int, seed: int) -> dict[str, synth.SynthTrack]:
    """Write the generated tracks as FLAC under ``folder/<label>/``; return path → track."""
    tracks = {}
    for i, track in enumerate(synth.make_library(n_tracks, seed=seed)):
        # a neutral name: a title such as "Demo banger 03 (128 BPM)" would answer the test
        path = folder / track.label / f"Demo track {i + 1:03d}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_name(f".{path.stem}.tmp.flac")
            sf.write(tmp, track.y, track.sr, subtype="PCM_16")
            tmp.replace(path)
        tracks[str(path.resolve())] = track
    return tracks


def simulate(truth: synth.SegmentTruth, who: Labeller, rng: np.random.Generator) -> dict[str, object]:
    """One labeller's answers to Haverford's test for one segment (question key → value)."""
    drops = max(0, truth.drops + int(rng.random() < 0.1) * int(rng.choice([-1, 1])))
    answers: dict[str, object] = {
        "bpm": _heard_bpm(truth.bpm, who, rng),
        "drops": drops,
        "acoustic": int(truth.acoustic != (rng.random() < who.acoustic_flip)),
        "verdict": _flip(truth.verdict, rng.random() < who.verdict_flip),
    }
    if drops > 0:
        answers["drop_dopeness"] = int(np.clip(round((truth.drop_dopeness or 6) + rng.normal(0, 1.2)), 1, 10))
    return answers


def _heard_bpm(bpm: float | None, who: Labeller, rng: np.random.Generator) -> int:
    if bpm is None:  # free tempo: people still guess a pulse
        return int(rng.integers(55, 95))
    if rng.random() < who.octave_error:
        bpm *= float(rng.choice([0.5, 2.0]))
    return int(np.clip(round(bpm + rng.normal(0, who.bpm_sd)), 40, 220))


def _flip(verdict: str, flip: bool) -> str:
    if not flip:
        return verdict
    return "not_a_banger" if verdict == "banger" else "banger"


def add_simulated_answers(db, track_id: int, track: synth.SynthTrack, *, seed: int) -> int:
    """Answers of the simulated labellers for a part of the track's segments; returns rows written."""
    ids = {q["key"]: q["id"] for q in questions_db.list_questions(db)}
    segment_ids = tracks_db.segment_ids(db, track_id)
    # seeded by content, not by id: ids follow the order in which parallel workers finish
    content = tracks_db.get_track(db, track_id)["content_hash"]
    rng = np.random.default_rng([seed, int(content[:12], 16)])
    written = 0
    with write(db):
        for seg_id, truth in zip(segment_ids, track.segments):
            for who in LABELLERS:
                if rng.random() < who.share:
                    values = {ids[k]: v for k, v in simulate(truth, who, rng).items() if k in ids}
                    written += answers_db.save_answers(db, [seg_id], who.name, values)
    return written


def build_demo(home: Home, *, n_tracks: int = 24, seed: int = 0, progress: Progress | None = None) -> dict:
    """Generate, write and ingest the demo library; add simulated answers for new tracks."""
    started = time.perf_counter()
    tracks = write_audio(home.demo_dir, n_tracks=n_tracks, seed=seed)
    report = ingest(home, sorted(tracks), labeller="import", source="demo", progress=progress)
    db = home.connect()
    written = 0
    for track_id in report.track_ids:
        path = tracks_db.get_track(db, track_id)["path"]
        written += add_simulated_answers(db, track_id, tracks[path], seed=seed)
    counts = tracks_db.counts(db)
    return {"home": str(home.path), "tracks_added": report.tracks_added, "segments_added": report.segments_added,
            "answers_added": written, "errors": report.errors, "tracks": counts["tracks"],
            "segments": counts["segments"], "seconds": round(time.perf_counter() - started, 3)}
