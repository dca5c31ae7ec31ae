"""Haverford's algorithm follows the rules stored beside the questions."""

import pytest

from haverford.core.haverford import decide
from haverford.db import questions


@pytest.fixture
def qs(memdb):
    return questions.list_questions(memdb)


def test_acoustic_instruments_mean_not_a_banger_whatever_else(qs):
    d = decide({"bpm": 128, "drops": 3, "drop_dopeness": 10, "acoustic": 1}, qs)
    assert d.verdict == "not_a_banger" and "acoustic" in d.reasons[0]


def test_fast_electronic_with_dope_drops_is_a_banger(qs):
    assert decide({"bpm": 128, "drops": 1, "drop_dopeness": 7, "acoustic": 0}, qs).verdict == "banger"


def test_dopeness_only_counts_when_there_are_drops(qs):
    assert decide({"bpm": 128, "drops": 0, "acoustic": "no"}, qs).verdict == "banger"
    assert decide({"bpm": 128, "drops": 2, "drop_dopeness": 3, "acoustic": 0}, qs).verdict == "not_a_banger"


@pytest.mark.parametrize("bpm, verdict", [(99, "not_a_banger"), (100, "banger"), (180, "banger"),
                                          (181, "not_a_banger")])
def test_bpm_thresholds(qs, bpm, verdict):
    assert decide({"bpm": bpm, "drops": 0, "acoustic": 0}, qs).verdict == verdict


def test_missing_answers_give_no_verdict(qs):
    d = decide({"bpm": 128}, qs)
    assert d.verdict is None and d.missing == ["drops", "acoustic"]


def test_edited_thresholds_change_the_verdict(memdb):
    bpm = questions.get_question(memdb, "bpm")
    questions.update_question(memdb, bpm["id"], rule={"banger_min": 130})
    qs = questions.list_questions(memdb)
    assert decide({"bpm": 128, "drops": 0, "acoustic": 0}, qs).verdict == "not_a_banger"


def test_retired_rules_no_longer_apply(memdb):
    acoustic = questions.get_question(memdb, "acoustic")
    questions.update_question(memdb, acoustic["id"], active=False)
    qs = questions.list_questions(memdb, include_retired=True)
    assert decide({"bpm": 128, "drops": 0, "acoustic": 1}, qs).verdict == "banger"
