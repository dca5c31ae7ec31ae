"""Agreement between labellers against a hand-computed example and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from haverford.core import agreement
from haverford.db import agreement as agreement_db
from haverford.db import answers as answers_db
from haverford.db import questions as questions_db

# Two labellers, ten segments, yes/no: 4 both yes, 4 both no, 2 split one each way.
A = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
B = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0]


def rows(**by_labeller) -> list[dict]:
    return [{"segment_id": s, "labeller": who, "value": v}
            for who, values in by_labeller.items() for s, v in enumerate(values) if v is not None]


def test_kappa_matches_the_hand_computed_value():
    # p_o = 8/10, p_e = 0.5·0.5 + 0.5·0.5 = 0.5, kappa = (0.8 − 0.5) / (1 − 0.5) = 0.6
    (pair,) = agreement.cohen_pairs(rows(a=A, b=B), kind="yes_no")
    assert (pair.a, pair.b, pair.n) == ("a", "b", 10)
    assert pair.kappa == pytest.approx(0.6)
    assert pair.kappa == pytest.approx(cohen_kappa_score(A, B))


def test_alpha_matches_the_hand_computed_value():
    # Coincidences: o_yy = o_nn = 8, o_yn = o_ny = 2; n = 20, n_y = n_n = 10.
    # alpha = 1 − (n − 1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k = 1 − 19·4 / 200 = 0.62
    assert agreement.krippendorff_alpha(rows(a=A, b=B), kind="yes_no") == pytest.approx(0.62)


def test_verdict_text_values_are_nominal():
    words = {1: "banger", 0: "not_a_banger"}
    result = agreement.agreement(rows(a=[words[v] for v in A], b=[words[v] for v in B]), kind="choice")
    assert result.level == "nominal" and result.n_segments == 10 and result.n_labellers == 2
    assert result.alpha == pytest.approx(0.62)
    assert result.pairs[0].kappa == pytest.approx(0.6)


def test_ordinal_kappa_uses_linear_weights_like_sklearn():
    rng = np.random.default_rng(0)
    a = rng.integers(1, 11, 40)
    b = np.clip(a + rng.integers(-2, 3, 40), 1, 10)
    (pair,) = agreement.cohen_pairs(rows(a=list(a), b=list(b)), kind="rating")
    assert pair.kappa == pytest.approx(cohen_kappa_score(a.astype(float), b.astype(float), weights="linear"))
    assert agreement.level_for("rating") == "ordinal" and agreement.level_for("count") == "ordinal"
    assert agreement.level_for("number") == "interval"


def test_pairs_only_count_shared_segments_and_alpha_skips_missing():
    data = rows(a=A, b=B[:5] + [None] * 5, c=[None] * 5 + B[5:])
    pairs = {(p.a, p.b): p for p in agreement.cohen_pairs(data, kind="yes_no")}
    assert set(pairs) == {("a", "b"), ("a", "c")}  # b and c share no segment
    assert pairs[("a", "b")].n == 5
    assert agreement.krippendorff_alpha(data, kind="yes_no") == pytest.approx(0.62)


def test_undefined_agreement_is_none_not_nan():
    same = rows(a=[1] * 5, b=[1] * 5)
    assert agreement.krippendorff_alpha(same, kind="yes_no") is None
    assert agreement.cohen_pairs(same, kind="yes_no")[0].kappa is None
    assert agreement.agreement([], kind="yes_no").alpha is None


def test_question_answers_uses_latest_answers_of_segments_with_two_labellers(memdb):
    memdb["tracks"].insert({"path": "x", "content_hash": "h", "title": "t", "duration_s": 15.0, "orig_sr": 22050,
                            "orig_channels": 1, "n_segments": 3, "imported_at": "now"})
    memdb["segments"].insert_all({"track_id": 1, "idx": i, "start_s": 5 * i, "end_s": 5 * i + 5} for i in range(3))
    q = questions_db.get_question(memdb, "acoustic")["id"]
    answers_db.save_answers(memdb, [1, 2], "a", {q: 1})
    answers_db.save_answers(memdb, [1], "b", {q: 1})
    answers_db.save_answers(memdb, [1], "b", {q: 0})  # b changes their mind: the latest counts
    answers_db.save_answers(memdb, [3], "b", {q: 0})
    got = agreement_db.question_answers(memdb, q)
    assert [(r["segment_id"], r["labeller"], r["value"]) for r in got] == [(1, "a", 1), (1, "b", 0)]
