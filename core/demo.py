"""The demo library: generated music written under the home, imported with labels that are
partly wrong, and answers to Haverford's test from two simulated labellers who disagree where
people would. Deterministic for a given seed; nothing is downloaded.

What is planted, so that the label → retrain → review-mistakes loop has something to show:

- hard cases beside the easy ones (``synth.hard``: breakbeats, acoustic drums at dance tempo,
  ambient without a kick, slow synth ballads, bangers with an acoustic intro and outro);
- import labels with errors: a few whole tracks with the other label (a file in the wrong
  folder), a fixed share of single segments flipped, and every segment of a track carrying the
  track's label, so the acoustic intro of a banger is imported as ``banger``;
- simulated labellers (``LABELLERS``) who answer a part of the segments, rarely wrong on easy
  music and often on hard cases (``DISPUTE``).

The truth is kept in ``demo-truth.json`` in the home (see ``truth_path``), which no page reads;
``wrong_labels`` compares it with the labels the model learns from.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from haverford.core import synth
from haverford.core.errors import HaverfordError
from haverford.core.home import Home
from haverford.core.ingest import Progress, ingest
from haverford.core.vocabulary import plural
from haverford.db import answers as answers_db
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import tracks as tracks_db
from haverford.db import write

DEFAULT_TRACKS = 40
TRUTH_FILE = "demo-truth.json"
IMPORT_LABELLER = "import"
CLASSES = ("banger", "not_a_banger")

# Chance that a person answers a segment's verdict against the truth, by what it sounds like:
# the rule "acoustic instruments: not a banger" is forgotten on a band at dance tempo, a banger's
# acoustic intro is called a banger by who knows the track, a break without a steady kick or
# synth pads without a beat are heard either way. Made-up figures, chosen to look like a team.
DISPUTE = {"four_on_the_floor": 0.02, "acoustic": 0.02, "breakbeat": 0.2, "live_drums": 0.3,
           "ambient": 0.15, "synth_ballad": 0.2, "acoustic_intro": 0.35, "acoustic_outro": 0.35}


@dataclass(frozen=True)
class Labeller:
    """A simulated labeller: how careless (``care`` multiplies ``DISPUTE``), how much they answer."""

    name: str
    care: float
    acoustic_flip: float
    bpm_sd: float
    octave_error: float
    share: float  # share of segments they answer


@dataclass(frozen=True)
class Noise:
    """Planted import errors: a share of tracks wholly and a share of the other segments singly."""

    track_share: float = 0.05
    segment_share: float = 0.08


LABELLERS = (Labeller("alice", 0.7, 0.03, 2.0, 0.05, 0.4), Labeller("bob", 1.3, 0.08, 4.0, 0.15, 0.3))


# --- audio ---------------------------------------------------------------------------------------

def write_audio(folder: Path, *, n_tracks: int, seed: int) -> dict[str, synth.SynthTrack]:
    """Write the generated tracks as FLAC in ``folder``; return resolved path → track."""
    folder.mkdir(parents=True, exist_ok=True)
    tracks = {}
    for i, track in enumerate(synth.make_library(n_tracks, seed=seed)):
        # a neutral name in one folder: a title or a label folder would answer the test
        path = folder / f"Demo track {i + 1:03d}.flac"
        if not path.exists():
            tmp = path.with_name(f".{path.stem}.tmp.flac")
            sf.write(tmp, track.y, track.sr, subtype="PCM_16")
            tmp.replace(path)
        tracks[str(path.resolve())] = track
    return tracks


# --- planted import labels -------------------------------------------------------------------------

def plan_import_labels(tracks: list[synth.SynthTrack], *, seed: int,
                       noise: Noise = Noise()) -> list[list[tuple[str, str | None]]]:
    """The import label of every segment and why it is wrong, if it is.

    Whole-track errors are drawn among the easy tracks (a misfiled file), then exactly
    ``round(segment_share * n)`` of the other tracks' ``n`` segments are flipped.

    Returns
    -------
    per track, per segment: ``(label, cause)`` with cause None (right), ``"track_flip"``,
    ``"segment_flip"`` or ``"track_label"`` (the track's label on a segment that is not like it)
    """
    rng = np.random.default_rng([seed, 13])
    easy = [i for i, t in enumerate(tracks) if t.style in ("four_on_the_floor", "acoustic")]
    n_wrong = min(len(easy), round(noise.track_share * len(tracks)))
    wrong_tracks = set(rng.choice(easy, size=n_wrong, replace=False).tolist()) if n_wrong else set()
    cells = [(i, j) for i, t in enumerate(tracks) if i not in wrong_tracks for j in range(len(t.segments))]
    picked = rng.choice(len(cells), size=round(noise.segment_share * len(cells)), replace=False)
    flipped = {cells[k] for k in picked.tolist()}
    return [[_import_label(t, s, track_flip=i in wrong_tracks, segment_flip=(i, j) in flipped)
             for j, s in enumerate(t.segments)] for i, t in enumerate(tracks)]


def _import_label(track: synth.SynthTrack, truth: synth.SegmentTruth, *, track_flip: bool,
                  segment_flip: bool) -> tuple[str, str | None]:
    label = _other(track.label) if track_flip != segment_flip else track.label
    if label == truth.verdict:
        return label, None
    return label, "track_flip" if track_flip else "segment_flip" if segment_flip else "track_label"


def _other(verdict: str) -> str:
    return CLASSES[1] if verdict == CLASSES[0] else CLASSES[0]


def save_import_labels(db, track_id: int, labels: list[tuple[str, str | None]]) -> int:
    """Store the planned import labels of one track as verdict answers of ``import``."""
    verdict_q = questions_db.verdict_question_id(db)
    segment_ids = tracks_db.segment_ids(db, track_id)
    written = 0
    with write(db):
        for label in CLASSES:
            ids = [s for s, (value, _) in zip(segment_ids, labels, strict=False) if value == label]
            if ids:
                written += answers_db.save_answers(db, ids, IMPORT_LABELLER, {verdict_q: label},
                                                   note="label given at demo")
    return written


# --- simulated labellers ---------------------------------------------------------------------------

def simulate(truth: synth.SegmentTruth, who: Labeller, rng: np.random.Generator) -> dict[str, object]:
    """One labeller's answers to Haverford's test for one segment (question key → value)."""
    drops = max(0, truth.drops + int(rng.random() < 0.1) * int(rng.choice([-1, 1])))
    dispute = min(0.9, DISPUTE.get(truth.style, 0.02) * who.care)
    answers: dict[str, object] = {
        "bpm": _heard_bpm(truth.bpm, who, rng),
        "drops": drops,
        "acoustic": int(truth.acoustic != (rng.random() < who.acoustic_flip)),
        "verdict": _other(truth.verdict) if rng.random() < dispute else truth.verdict,
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


def add_simulated_answers(db, track_id: int, track: synth.SynthTrack, *, seed: int) -> int:
    """Answers of the simulated labellers for a part of the track's segments; returns rows written."""
    ids = {q["key"]: q["id"] for q in questions_db.list_questions(db)}
    segment_ids = tracks_db.segment_ids(db, track_id)
    # seeded by content, not by id: ids follow the order in which parallel workers finish
    row = tracks_db.get_track(db, track_id)
    assert row is not None, track_id  # the track was just imported
    content = row["content_hash"]
    rng = np.random.default_rng([seed, int(content[:12], 16)])
    written = 0
    with write(db):
        for seg_id, truth in zip(segment_ids, track.segments, strict=False):
            for who in LABELLERS:
                if rng.random() < who.share:
                    values = {ids[k]: v for k, v in simulate(truth, who, rng).items() if k in ids}
                    written += answers_db.save_answers(db, [seg_id], who.name, values)
    return written


# --- the truth file ------------------------------------------------------------------------------

def truth_path(home: Home) -> Path:
    """``demo-truth.json`` in the home: per demo track, the truth and import label of each segment."""
    return home.path / TRUTH_FILE


def truth_record(track: synth.SynthTrack, path: str, content_hash: str,
                 labels: list[tuple[str, str | None]]) -> dict:
    """One track's entry in the truth file."""
    return {"file": Path(path).name, "content_hash": content_hash, "style": track.style, "label": track.label,
            "segments": [{"index": s.index, "truth": s.verdict, "style": s.style, "hard": s.hard,
                          "imported": label, "planted": cause}
                         for s, (label, cause) in zip(track.segments, labels, strict=True)]}


def write_truth(home: Home, records: list[dict], *, seed: int, noise: Noise) -> None:
    """Write the truth file (records of earlier builds kept, by content hash), atomically."""
    path = truth_path(home)
    tracks = {t["content_hash"]: t for t in _read_truth(path).get("tracks", [])}
    tracks.update({r["content_hash"]: r for r in records})
    doc = {"about": "ground truth of the demo library; the dashboard never reads this file",
           "seed": seed, "noise": {"track_share": noise.track_share, "segment_share": noise.segment_share},
           "tracks": sorted(tracks.values(), key=lambda t: t["file"])}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(path)


def _read_truth(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def wrong_labels(home: Home) -> dict[int, dict]:
    """Labelled segments of demo tracks whose consensus verdict differs from the truth.

    Returns
    -------
    segment id → ``{"truth", "label", "planted", "style"}`` (``planted`` is the import error
    that caused it, None when the simulated labellers outvoted a right import label)
    """
    db = home.connect()
    consensus = {r["segment_id"]: r["verdict"] for r in models_db.labelled_segments(db)}
    wrong = {}
    for track in _read_truth(truth_path(home)).get("tracks", []):
        track_id = tracks_db.track_id_by_hash(db, track["content_hash"])
        ids = tracks_db.segment_ids(db, track_id) if track_id else []
        for seg_id, seg in zip(ids, track["segments"], strict=False):
            label = consensus.get(seg_id)
            if label is not None and label != seg["truth"]:
                wrong[seg_id] = {"truth": seg["truth"], "label": label, "planted": seg["planted"],
                                 "style": seg["style"]}
    return wrong


# --- the whole build -----------------------------------------------------------------------------

def build_demo(home: Home, *, n_tracks: int = DEFAULT_TRACKS, seed: int = 0, noise: Noise = Noise(),
               progress: Progress | None = None) -> dict:
    """Generate, write and import the demo library with its planted labels; add simulated answers
    for new tracks; write the truth file. Returns counts for the CLI's JSON."""
    started = time.perf_counter()
    check_demo_home(home, seed=seed)
    tracks = write_audio(home.demo_dir, n_tracks=n_tracks, seed=seed)
    paths = list(tracks)
    plans = dict(zip(paths, plan_import_labels([tracks[p] for p in paths], seed=seed, noise=noise), strict=False))
    # one worker: tracks get their ids in a fixed order (largest file first), so that everything
    # keyed by id, such as the cross-check's folds, is the same for the same seed
    report = ingest(home, sorted(paths), labeller=IMPORT_LABELLER, source="demo", workers=1, progress=progress)
    db = home.connect()
    imported, written, records = 0, 0, []
    for track_id in report.track_ids:
        row = tracks_db.get_track(db, track_id)
        assert row is not None, track_id  # just imported by this build
        imported += save_import_labels(db, track_id, plans[row["path"]])
        written += add_simulated_answers(db, track_id, tracks[row["path"]], seed=seed)
        records.append(truth_record(tracks[row["path"]], row["path"], row["content_hash"], plans[row["path"]]))
    write_truth(home, records, seed=seed, noise=noise)
    counts = tracks_db.counts(db)
    return {"home": str(home.path), "tracks_added": report.tracks_added, "segments_added": report.segments_added,
            "labels_imported": imported, "answers_added": written, "errors": report.errors,
            "tracks": counts["tracks"], "segments": counts["segments"], "wrong_labels": len(wrong_labels(home)),
            "truth_file": str(truth_path(home)), "seconds": round(time.perf_counter() - started, 3)}


def check_demo_home(home: Home, *, seed: int) -> None:
    """Refuse to build the demo into a home that holds the user's own music, or a demo of
    another seed: generated tracks with planted wrong labels and simulated labellers would mix
    into it, and deleting the home is the only reset.

    Raises
    ------
    HaverfordError
        Naming the home and what to do (another ``--home``).
    """
    if home.db_path.exists():
        own = tracks_db.count_not_from(home.connect(), "demo")
        if own:
            raise HaverfordError(f"{home.path} holds your own library ({plural(own, 'track')} imported "
                                 f"or uploaded): the demo would mix generated tracks with planted wrong labels into "
                                 f"it; give the demo a home of its own, e.g. --home haverford-demo")
    built = built_seed(home)
    if built is not None and built != seed:
        raise HaverfordError(f"the demo in {home.path} was built with --seed {built}: leave --seed out to use it "
                             f"again, or build seed {seed} in another home (--home DIR)")


def built_seed(home: Home) -> int | None:
    """The seed the demo in ``home`` was built with (its truth file), or None before a build."""
    return _read_truth(truth_path(home)).get("seed")


def needs_first_model(home: Home) -> bool:
    """Whether the home has no active model yet (a demo built again keeps the one it has)."""
    return models_db.active_model(home.connect()) is None


def train_first_model(home: Home, *, seed: int = 0, reporter=None) -> dict:
    """Train the demo's first model: the Retrain job (``haverford train``), default preset.

    Returns the job's summary (``haverford train``'s JSON fields). Raises ``HaverfordError`` when
    the library is too small to train on.
    """
    from haverford.core.jobs import run_in_foreground
    from haverford.core.train import TrainConfig  # TensorFlow: imported only to train

    # With the default preset the other models (core.classic) pool the same stored embedding: seconds
    return run_in_foreground(home, TrainConfig(seed=seed), created_by="demo", reporter=reporter)
