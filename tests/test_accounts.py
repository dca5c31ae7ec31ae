"""Accounts and roles: the one role check in core, called by every action, as each role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from haverford.core import accounts, crosscheck, jobs, labelling, questionnaire, versions
from haverford.core.accounts import OPERATOR, AccessDenied, LoginError, acting_as
from haverford.core.crosscheck import CrossCheckConfig
from haverford.core.errors import HaverfordError
from haverford.core.ingest import ingest
from haverford.core.relocate import relocate
from haverford.core.uploads import save_upload
from haverford.db import answers as answers_db
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import runs as runs_db
from haverford.db import tracks as tracks_db
from haverford.db import users as users_db

PASSWORD = "correct horse battery"


def add_segments(db, name="t", n=2) -> list[int]:
    track_id = tracks_db.insert_track(db, dict(path=f"/music/{name}.wav", content_hash=name, title=name,
                                               duration_s=5.0 * n, orig_sr=44100, orig_channels=2,
                                               n_segments=n), segment_s=5.0)
    return tracks_db.segment_ids(db, track_id)


@pytest.fixture
def team(home):
    """A home with an admin (tom), a labeller (donna), two segments and two models (1 active)."""
    db = home.connect()
    with acting_as(OPERATOR):
        accounts.add_user(db, "tom", PASSWORD, admin=True)
        accounts.add_user(db, "donna", PASSWORD)
    segments = add_segments(db)
    models = [models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel"}) for _ in range(2)]
    models_db.activate(db, models[0])
    return home, db, segments, models


def verdicts_of(db, segment_id):
    return {r["labeller"]: r["value"] for r in answers_db.current_answers(db, segment_id) if r["key"] == "verdict"}


FORM = {"verdict": "banger"}


# --- labelling ------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["tom", "donna"])
def test_each_role_saves_answers_under_its_own_name(team, who):
    _, db, segments, _ = team
    with acting_as(who):
        assert labelling.save_form(db, segments[:1], who, FORM, questions_db.list_questions(db)) == 1
    assert verdicts_of(db, segments[0]) == {who: "banger"}


@pytest.mark.parametrize("who", ["tom", "donna"])
def test_nobody_saves_answers_under_another_name(team, who):
    _, db, segments, _ = team
    with acting_as(who), pytest.raises(AccessDenied, match=f"logged in as {who}"):
        labelling.save_form(db, segments[:1], "ben", FORM, questions_db.list_questions(db))
    assert verdicts_of(db, segments[0]) == {}


def test_without_a_login_nothing_is_saved_once_accounts_exist(team):
    _, db, segments, _ = team
    with pytest.raises(AccessDenied, match="log in"):
        labelling.save_form(db, segments[:1], "donna", FORM, questions_db.list_questions(db))
    assert verdicts_of(db, segments[0]) == {}


def test_a_library_without_accounts_keeps_the_typed_name(home):
    db = home.connect()
    segments = add_segments(db)
    labelling.save_form(db, segments[:1], "anyone", FORM, questions_db.list_questions(db))
    assert verdicts_of(db, segments[0]) == {"anyone": "banger"}


def test_a_disabled_account_can_no_longer_act(team):
    _, db, segments, _ = team
    with acting_as(OPERATOR):
        accounts.disable_user(db, "donna")
    with acting_as("donna"), pytest.raises(AccessDenied, match="disabled"):
        labelling.save_form(db, segments[:1], "donna", FORM, questions_db.list_questions(db))


# --- admin actions, as each role --------------------------------------------------------------

def edit_question(home, db, segments, models):
    questionnaire.update_question(db, questions_db.get_question(db, "bpm")["id"], text="Tempo?")
    return questions_db.get_question(db, "bpm")["text"] == "Tempo?"


def move_question(home, db, segments, models):
    questionnaire.move_question(db, questions_db.get_question(db, "verdict")["id"], offset=-4)
    return questions_db.list_questions(db)[0]["key"] == "verdict"


def add_question(home, db, segments, models):
    questionnaire.check_new_question(db, key="vocals", text="Vocals?", kind="yes_no")
    questionnaire.add_question(db, key="vocals", text="Vocals?", kind="yes_no")
    return questions_db.get_question(db, "vocals") is not None


def activate_model(home, db, segments, models):
    versions.activate(db, models[1])
    return models_db.active_model(db)["id"] == models[1]


def start_retrain(home, db, segments, models):
    jobs.start_run(home, {"preset": "tiny", "seed": 0}, created_by="x")
    return len(runs_db.list_runs(db)) == 1


def start_crosscheck(home, db, segments, models):
    # the team's two segments are unlabelled: the permission, checked first, is what is tested here
    with mock.patch.object(crosscheck, "_check_foldable"):
        crosscheck.start_crosscheck(home, CrossCheckConfig(folds=2), created_by="x")
    return len(runs_db.list_runs(db)) == 1


def cancel_a_run(home, db, segments, models):
    run_id = jobs.create_run(home, {"preset": "tiny", "seed": 0}, created_by="tom")
    try:
        jobs.cancel_run(db, run_id)
    finally:
        cancelled = runs_db.get_run(db, run_id)["cancel_requested"] == 1
        db.execute("DELETE FROM training_runs")  # the refusal check below expects no runs
    return cancelled


def import_music(home, db, segments, models):
    ingest(home, [], label=None)
    return True


def upload_music(home, db, segments, models):
    path, _ = save_upload(home, "song.wav", b"RIFF....")
    return path.exists()


def relocate_music(home, db, segments, models):
    (home.path / "moved").mkdir(exist_ok=True)
    return relocate(home, "/music", home.path / "moved")["moved"] == 0


def add_account(home, db, segments, models):
    accounts.add_user(db, "ben", PASSWORD)
    return users_db.get_user(db, "ben") is not None


ADMIN_ACTIONS = [edit_question, move_question, add_question, activate_model, start_retrain, start_crosscheck,
                 cancel_a_run, import_music, upload_music, relocate_music, add_account]


@pytest.fixture
def no_worker(monkeypatch):
    """Retrain and cross-check queue their run; no worker process is started."""
    monkeypatch.setattr(jobs, "launch_worker", lambda home, run_id: type("Proc", (), {"pid": 0})())


@pytest.mark.parametrize("action", ADMIN_ACTIONS, ids=lambda f: f.__name__)
def test_a_labeller_is_refused_every_admin_action(team, action, no_worker):
    home, db, segments, models = team
    with acting_as("donna"), pytest.raises(AccessDenied, match="only an admin may"):
        action(home, db, segments, models)
    assert questions_db.get_question(db, "bpm")["text"] == "How many beats per minute?"
    assert models_db.active_model(db)["id"] == models[0]
    assert runs_db.list_runs(db) == [] and users_db.get_user(db, "ben") is None


@pytest.mark.parametrize("action", ADMIN_ACTIONS, ids=lambda f: f.__name__)
def test_an_admin_may_do_every_admin_action_and_it_is_logged(team, action, no_worker):
    home, db, segments, models = team
    with acting_as("tom"):
        assert action(home, db, segments, models)
    assert users_db.audit_log(db, limit=1)[0]["actor"] == "tom"


def test_the_command_line_operator_may_act_and_is_logged(team, no_worker):
    home, db, segments, models = team
    with acting_as(OPERATOR):
        assert activate_model(home, db, segments, models)
    last = users_db.audit_log(db, limit=1)[0]
    assert (last["actor"], last["action"]) == (OPERATOR.name, "activate")


# --- the password store and logging in --------------------------------------------------------

def test_the_password_store_never_holds_the_password(team):
    home, db, _, _ = team
    stored = users_db.password_hash(db, users_db.get_user(db, "tom")["id"])
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    db.close()
    for path in home.path.glob("haverford.db*"):
        assert PASSWORD.encode() not in path.read_bytes()


def test_login_with_the_right_password_returns_the_account(team):
    _, db, _, _ = team
    assert accounts.login(db, "Tom", PASSWORD)["name"] == "tom"


def test_a_wrong_password_costs_a_growing_delay(team):
    _, db, _, _ = team
    t0 = datetime.now(UTC)
    waits = []
    for i in range(4):
        with pytest.raises(LoginError, match="wrong name or password") as err:
            accounts.login(db, "donna", "guess", now=t0 + timedelta(seconds=60 * i))
        waits.append(err.value.wait_s)
    assert waits == [1, 2, 4, 8]
    with pytest.raises(LoginError, match="wait"):  # even the right password waits its turn
        accounts.login(db, "donna", PASSWORD)
    assert accounts.login(db, "donna", PASSWORD, now=datetime.now(UTC) + timedelta(seconds=9))


def test_an_unknown_name_and_a_disabled_account_cannot_log_in(team):
    _, db, _, _ = team
    with pytest.raises(LoginError, match="wrong name or password"):
        accounts.login(db, "jerry", PASSWORD)
    with acting_as(OPERATOR):
        accounts.disable_user(db, "donna")
    with pytest.raises(LoginError, match="disabled"):
        accounts.login(db, "donna", PASSWORD)


def test_a_login_token_names_its_user_until_logout_disable_or_expiry(team):
    _, db, _, _ = team
    token = accounts.issue_token(db, users_db.get_user(db, "donna"))
    assert accounts.user_from_token(db, token)["name"] == "donna"
    assert accounts.user_from_token(db, token[:-2] + "xx") is None
    assert accounts.user_from_token(db, token, max_age_s=-1) is None
    accounts.logout(db, "donna")
    assert accounts.user_from_token(db, token) is None
    fresh = accounts.issue_token(db, users_db.get_user(db, "donna"))
    with acting_as(OPERATOR):
        accounts.disable_user(db, "donna")
    assert accounts.user_from_token(db, fresh) is None


@pytest.mark.parametrize("name, password, message", [
    ("", PASSWORD, "account name"), ("a/b", PASSWORD, "account name"), ("ben", "short", "at least 8"),
    ("TOM", PASSWORD, "exists already"),
])
def test_bad_accounts_are_one_line_errors(team, name, password, message):
    _, db, _, _ = team
    with acting_as(OPERATOR), pytest.raises(HaverfordError, match=message):
        accounts.add_user(db, name, password)
