"""Small libraries with known labels, answers and model scores, inserted as rows (no audio, no TensorFlow)."""

from __future__ import annotations

from haverford.db import answers as answers_db
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import tracks as tracks_db

# track title → (side, per-segment (label, p_banger))
TRACKS = {
    "b-train": ("train", [("banger", 0.9), ("banger", 0.8), ("banger", 0.7)]),
    "n-train": ("train", [("not_a_banger", 0.1), ("not_a_banger", 0.65), ("not_a_banger", 0.2)]),
    "n-train2": ("train", [("not_a_banger", 0.3), ("not_a_banger", 0.3)]),
    "b-test": ("test", [("banger", 0.95), ("banger", 0.05), ("banger", 0.4)]),
    "n-test": ("test", [("not_a_banger", 0.2), ("not_a_banger", 0.99), ("not_a_banger", 0.45)]),
}


def add_track(db, title: str, n_segments: int) -> int:
    row = {"path": f"/nowhere/{title}.wav", "content_hash": f"hash-{title}", "title": title,
           "duration_s": 5.0 * n_segments, "orig_sr": 22050, "orig_channels": 1, "n_segments": n_segments}
    return tracks_db.insert_track(db, row, segment_s=5.0)


def label(db, segment_ids: list[int], verdict: str, *, who: str = "import", note: str | None = None) -> None:
    answers_db.save_answers(db, segment_ids, who, {questions_db.verdict_question_id(db): verdict}, note=note)


def build(db, tracks: dict = TRACKS) -> dict:
    """Insert ``tracks``, label them as ``import``, store the split and one active model's scores.

    Returns ``{"model_id", "segments": title → [segment ids], "tracks": title → track id}``.
    """
    seg, ids, sides = {}, {}, {}
    scores = {}
    for title, (side, rows) in tracks.items():
        ids[title] = add_track(db, title, len(rows))
        seg[title] = tracks_db.segment_ids(db, ids[title])
        sides[ids[title]] = side
        for s, (verdict, p) in zip(seg[title], rows, strict=False):
            label(db, [s], verdict)
            scores[s] = p
    models_db.assign_sides(db, sides)
    split = {side: sorted(t for t, s in sides.items() if s == side) for side in ("train", "validation", "test")}
    model_id = models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "params": {"split": split},
                                           "metrics": {"split": "by track"}})
    models_db.save_predictions(db, model_id, list(scores), list(scores.values()))
    models_db.activate(db, model_id)
    return {"model_id": model_id, "segments": seg, "tracks": ids}
