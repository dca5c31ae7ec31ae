"""One consensus rule: the same votes give the same verdict in every place that decides one."""

from __future__ import annotations

import numpy as np
import pytest

from haverford.core.baselines import labeller_guesses
from haverford.core.haverford import algorithm_verdicts
from haverford.core.metrics import track_results
from haverford.core.split import labelled_subsets
from haverford.core.vocabulary import AMBIGUOUS, BANGER, CLASSES, NOT_A_BANGER, consensus
from haverford.db import answers as answers_db
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import tracks as tracks_db

B, N, A = BANGER, NOT_A_BANGER, AMBIGUOUS
# votes of labellers p0, p1, ... on one segment → the verdict the stated rule gives
CASES = [
    ([B], B), ([N], N), ([B, B, N], B), ([N, N, B], N),
    ([B, N], None), ([B, B, N, N], None),             # a tie between the classes: no verdict
    ([A], A), ([A, B], A), ([A, B, N], A), ([A, A, B, B, N], A),  # ambiguous ties or leads
    ([A, B, B], B), ([N, N, B, A], N),
]


@pytest.mark.parametrize(("votes", "expected"), CASES)
def test_the_rule(votes, expected):
    assert consensus(votes) == expected


def _library(db, n_segments: int, *, per_track: int = 2) -> list[int]:
    ids = []
    for t in range(0, n_segments, per_track):
        track = tracks_db.insert_track(db, {"title": f"t{t}", "path": f"/m/t{t}.wav", "content_hash": f"h{t}",
                                            "duration_s": 5.0 * per_track, "orig_sr": 22050, "orig_channels": 1,
                                            "n_segments": per_track}, segment_s=5.0)
        ids += tracks_db.segment_ids(db, track)
    return ids[:n_segments]


def test_the_database_decides_as_the_rule(memdb):
    ids = _library(memdb, len(CASES))
    q = questions_db.verdict_question_id(memdb)
    for s, (votes, _) in zip(ids, CASES, strict=True):
        for i, v in enumerate(votes):
            answers_db.save_answers(memdb, [s], f"p{i}", {q: v})
    stored = dict(memdb.execute("SELECT segment_id, verdict FROM segment_verdicts"))
    assert [stored[s] for s in ids] == [expected for _, expected in CASES]


def test_haverfords_algorithm_combines_labellers_by_the_rule():
    questions = [{"key": "acoustic", "kind": "yes_no", "rule": {"veto_when": True}}]
    cases = [(votes, expected) for votes, expected in CASES if A not in votes]
    rows = [{"segment_id": s, "labeller": f"p{i}", "key": "acoustic", "value": "yes" if v == N else "no"}
            for s, (votes, _) in enumerate(cases) for i, v in enumerate(votes)]
    decided = algorithm_verdicts(rows, questions)
    assert [decided[s] for s in range(len(cases))] == [expected for _, expected in cases]


def test_each_labeller_is_compared_with_the_others_consensus():
    rows = [{"segment_id": s, "labeller": f"p{i}", "question_id": 7, "value": v}
            for s, (votes, _) in enumerate(CASES) for i, v in enumerate(votes)]
    guesses = labeller_guesses(rows, np.arange(len(CASES)), verdict_question=7)
    for name, (mine, others) in guesses.items():
        i = int(name[1:])
        expected = [(v[i] == B, consensus(v[:i] + v[i + 1:]) == B) for v, _ in CASES
                    if len(v) > i and v[i] in CLASSES and consensus(v[:i] + v[i + 1:]) in CLASSES]
        assert list(zip(mine.astype(bool), others.astype(bool), strict=True)) == expected


def test_a_tracks_label_is_the_same_for_the_split_and_for_track_accuracy(memdb):
    """Segment verdicts per track: 2 bangers of 3, 1 of 3, and a 1-1 tie (no track label)."""
    per_track = {0: [B, B, N], 1: [B, N, N], 2: [B, N]}
    q = questions_db.verdict_question_id(memdb)
    for t, verdicts in per_track.items():
        track = tracks_db.insert_track(memdb, {"title": f"t{t}", "path": f"/m/{t}.wav", "content_hash": f"h{t}",
                                                  "duration_s": 15.0, "orig_sr": 22050, "orig_channels": 1,
                                                  "n_segments": len(verdicts)}, segment_s=5.0)
        for s, v in zip(tracks_db.segment_ids(memdb, track), verdicts, strict=True):
            answers_db.save_answers(memdb, [s], "p0", {q: v})
    by_split = {r["track_id"]: r["verdict"] for r in models_db.labelled_tracks(memdb)}
    subsets = labelled_subsets(memdb, {t: "test" for t in by_split})["test"]
    rows, _, _ = track_results(subsets.labels, np.column_stack([1 - subsets.labels, subsets.labels]),
                               subsets.track_ids)
    assert {r["track_id"]: r["label"] for r in rows} == by_split
    assert sorted(by_split.values(), key=str) == sorted([B, N, None], key=str)


def test_votes_a_correction_set_aside_count_nowhere(memdb):
    """After a correction ('label was wrong'), the votes before it are set aside in the verdict, the
    vote counts, the Library's 'Labelled by', the export and the labeller-against-others figures."""
    from haverford.db import library as library_db
    from haverford.db.answers import export_rows

    seg = _library(memdb, 1)[0]
    q = questions_db.verdict_question_id(memdb)
    answers_db.save_answers(memdb, [seg], "import", {q: N})
    answers_db.save_answers(memdb, [seg], "bob", {q: N})
    answers_db.save_answers(memdb, [seg], "rev", {q: B}, note="label was wrong")
    answers_db.save_answers(memdb, [seg], "carol", {q: B})
    row = memdb["segment_verdicts"].get(seg)
    assert (row["verdict"], row["n_labellers"], row["banger_votes"], row["not_votes"]) == (B, 2, 2, 0)
    rows = library_db.latest_answers(memdb, [seg])
    assert {r["labeller"]: r["counted"] for r in rows} == {"import": 0, "bob": 0, "rev": 1, "carol": 1}
    guesses = labeller_guesses(rows, np.array([seg]), verdict_question=q)
    assert {name: (list(mine), list(others)) for name, (mine, others) in guesses.items()} == {
        "rev": ([1.0], [1.0]), "carol": ([1.0], [1.0])}  # nobody is held to the votes set aside
    [listed] = [r for r in library_db.segments_table(memdb, verdict_question=q)[0] if r["id"] == seg]
    assert (listed["labellers"], listed["labelled_by"]) == (2, "carol, rev; set aside: bob, import")
    assert [(r["labeller"], r["current"], r["counted"]) for r in export_rows(memdb)] == [
        ("import", 1, 0), ("bob", 1, 0), ("rev", 1, 1), ("carol", 1, 1)]
