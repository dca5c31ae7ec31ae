"""Backups taken while people save answers, restoring them, the pre-migration copy, and `check`."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

import haverford.db as dbm
from haverford.core import backup as backup_mod
from haverford.core.cli import main
from haverford.core.errors import HaverfordError
from haverford.core.home import Home
from haverford.db import answers as answers_db
from haverford.db import migrations
from haverford.db import models as models_db
from haverford.db import questions as questions_db
from haverford.db import tracks as tracks_db

WRITERS = 8


def add_segments(db, name="t", n=4) -> list[int]:
    track_id = tracks_db.insert_track(db, dict(path=f"/music/{name}.wav", content_hash=name * 8, title=name,
                                               duration_s=5.0 * n, orig_sr=44100, orig_channels=2,
                                               n_segments=n), segment_s=5.0)
    return tracks_db.segment_ids(db, track_id)


@pytest.fixture
def library(home) -> Home:
    """A home with one track, a feature file and a model file that the database names."""
    db = home.connect()
    add_segments(db)
    track_id = db.execute("SELECT id FROM tracks").fetchone()[0]
    rel = home.store.relpath("log_mel", "t" * 8)
    (home.store.root / rel).parent.mkdir(parents=True)
    (home.store.root / rel).write_bytes(b"feature bytes")
    db["features"].insert({"track_id": track_id, "feature": "log_mel", "path": rel, "n_segments": 4,
                           "n_bins": 128, "n_frames": 216, "created_at": dbm.now()})
    home.models_dir.mkdir()
    (home.models_dir / "m.keras").write_bytes(b"model bytes")
    models_db.insert_model(db, {"preset": "tiny", "feature": "log_mel", "path": "models/m.keras"})
    db.close()
    return home


def writer(home: Home, number: int, committed: dict, stop: threading.Event) -> None:
    """Save bpm answers 0, 1, 2, ... as labeller ``w<number>``; note each one once committed."""
    db = home.connect()
    segment = db.execute("SELECT MIN(id) FROM segments").fetchone()[0]
    bpm = questions_db.get_question(db, "bpm")["id"]
    i = 0
    while not stop.is_set():
        answers_db.save_answers(db, [segment], f"w{number}", {bpm: i})
        committed[number] = i
        i += 1
    db.close()


def restored_values(home: Home) -> dict[str, set[int]]:
    db = home.connect()
    out: dict[str, set[int]] = {}
    for row in db.query("SELECT labeller, value FROM answers"):
        out.setdefault(row["labeller"], set()).add(row["value"])
    return out


def test_a_backup_during_8_writers_restores_every_answer_committed_before_it(library, tmp_path):
    committed: dict[int, int] = {}
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(library, n, committed, stop)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    try:
        while len(committed) < WRITERS or min(committed.values()) < 20:
            stop.wait(0.05)
        before = dict(committed)
        out = backup_mod.backup(library, tmp_path / "bak")
        after = dict(committed)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert sum(after.values()) > sum(before.values())  # the writers kept saving during the backup
    target = Home(tmp_path / "restored")
    backup_mod.restore(tmp_path / "bak", target)
    db = target.connect()
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    values = restored_values(target)
    for n, last in before.items():
        assert set(range(last + 1)) <= values[f"w{n}"]
    assert out["counts"]["answers"] == db["answers"].count
    assert backup_mod.check(target)["ok"]


def test_the_manifest_names_every_file_with_its_hash(library, tmp_path):
    out = backup_mod.backup(library, tmp_path / "bak")
    manifest = json.loads((tmp_path / "bak" / "manifest.json").read_text())
    assert {(f["kind"], f["path"]) for f in manifest["files"]} == {
        ("feature", f"features/log_mel/tt/{'t' * 8}.npy"), ("model", "models/m.keras")}
    assert manifest["database"]["sha256"] == backup_mod.sha256(tmp_path / "bak" / "haverford.db")
    assert out["missing"] == [] and (tmp_path / "bak" / "models" / "m.keras").read_bytes() == b"model bytes"


def test_restore_brings_back_the_files_and_refuses_a_damaged_backup(library, tmp_path):
    backup_mod.backup(library, tmp_path / "bak")
    target = Home(tmp_path / "new")
    backup_mod.restore(tmp_path / "bak", target)
    assert (target.models_dir / "m.keras").read_bytes() == b"model bytes"
    (tmp_path / "bak" / "models" / "m.keras").write_bytes(b"changed")
    with pytest.raises(HaverfordError, match="models/m.keras differs from the manifest"):
        backup_mod.restore(tmp_path / "bak", Home(tmp_path / "other"))


def test_restore_over_a_library_needs_replace_and_keeps_the_old_database(library, tmp_path):
    backup_mod.backup(library, tmp_path / "bak")
    db = library.connect()
    segment = db.execute("SELECT MIN(id) FROM segments").fetchone()[0]
    answers_db.save_answers(db, [segment], "late", {questions_db.verdict_question_id(db): "banger"})
    db.close()
    with pytest.raises(HaverfordError, match="--replace"):
        backup_mod.restore(tmp_path / "bak", library)
    out = backup_mod.restore(tmp_path / "bak", library, replace=True)
    assert "late" not in restored_values(library)
    kept = sqlite3.connect(out["replaced_database_kept_at"])
    assert kept.execute("SELECT COUNT(*) FROM answers WHERE labeller = 'late'").fetchone()[0] == 1


def test_a_backup_never_writes_into_a_folder_that_holds_files(library, tmp_path):
    (tmp_path / "bak").mkdir()
    (tmp_path / "bak" / "mine.txt").write_text("keep")
    with pytest.raises(HaverfordError, match="not empty"):
        backup_mod.backup(library, tmp_path / "bak")


def test_a_schema_migration_first_keeps_a_backup(tmp_path, monkeypatch):

    path = tmp_path / "haverford.db"
    old = dbm.SCHEMA_VERSION - 1
    db = dbm.connect(path, migrate=False)
    for number, step in enumerate(migrations.MIGRATIONS[:old], start=1):  # a library one release behind
        with dbm.write(db):
            step(db)
            db.execute(f"PRAGMA user_version = {number}")
    db["tracks"].insert({"id": 1, "path": "/music/t.wav", "content_hash": "t" * 8, "title": "t", "duration_s": 5.0,
                         "orig_sr": 44100, "orig_channels": 2, "n_segments": 1, "imported_at": "2026-01-01"})
    db["segments"].insert({"id": 1, "track_id": 1, "idx": 0, "start_s": 0.0, "end_s": 5.0})
    db["answers"].insert({"segment_id": 1, "question_id": 1, "labeller": "alice", "value": "banger",
                          "created_at": "2026-01-01"})
    db.close()
    dbm.connect(path).close()
    copies = list((tmp_path / "backups").glob(f"pre-migration-v{old}-*.db"))
    assert len(copies) == 1
    copy = sqlite3.connect(copies[0])
    assert copy.execute("PRAGMA user_version").fetchone()[0] == old
    assert copy.execute("SELECT labeller FROM answers").fetchall() == [("alice",)]


def test_a_new_or_current_database_makes_no_backup(tmp_path):
    dbm.connect(tmp_path / "haverford.db").close()
    dbm.connect(tmp_path / "haverford.db").close()
    assert not (tmp_path / "backups").exists()


# --- the command line -------------------------------------------------------------------------

def test_check_passes_on_a_sound_home_and_fails_with_the_missing_file(library, capsys):
    assert main(["check", "--home", str(library.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    (library.models_dir / "m.keras").unlink()
    assert main(["check", "--home", str(library.path), "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["missing_models"] == ["models/m.keras"]
    assert captured.err.count("\n") == 1 and "check found 1 problem" in captured.err


def test_backup_and_restore_commands_print_one_json_document(library, tmp_path, capsys):
    assert main(["backup", str(tmp_path / "bak"), "--home", str(library.path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == 2 and out["counts"]["tracks"] == 1
    assert main(["restore", str(tmp_path / "bak"), "--home", str(tmp_path / "new"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["segments"] == 4
    assert main(["restore", str(tmp_path / "nothing"), "--home", str(tmp_path / "new2")]) == 1
    assert "is not a Haverford backup" in capsys.readouterr().err


def test_a_backup_without_features_restores_a_home_that_recomputes_them(library, tmp_path):
    out = backup_mod.backup(library, tmp_path / "bak", features=False)
    assert not (tmp_path / "bak" / "features").exists() and len(out["files"]) == 2
    target = Home(tmp_path / "new")
    restored = backup_mod.restore(tmp_path / "bak", target)
    assert restored["features_to_rebuild"] == ["log_mel"]
    assert target.connect()["features"].count == 0  # so `haverford features` computes them again
    assert backup_mod.check(target)["ok"]


def test_a_backup_into_a_path_that_cannot_be_a_folder_is_one_line(library, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        assert main(["backup", str(out), "--home", str(library.path)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "internal error" not in err[0] and str(out) in err[0]
    assert main(["restore", str(blocker), "--home", str(tmp_path / "new")]) == 1
    assert "is not a Haverford backup" in capsys.readouterr().err
