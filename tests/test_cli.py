"""The command line is a contract: JSON on stdout, one-line errors, exit codes 0 and 1."""

import csv
import json
import sqlite3
import subprocess
import sys

import pytest
from conftest import tone, write_audio

from haverford.core.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_json_output(capsys, tmp_path, library_dir):
    (library_dir / "banger" / "bad.wav").write_text("nope")
    code, out, _ = run(capsys, "ingest", library_dir, "--home", tmp_path / "h", "--json")
    doc = json.loads(out)
    assert code == 0
    assert {"tracks_added", "segments_added", "skipped", "errors", "seconds"} <= doc.keys()
    assert (doc["tracks_added"], doc["segments_added"]) == (3, 7)
    assert [e["path"].endswith("bad.wav") for e in doc["errors"]] == [True]
    code, out, _ = run(capsys, "ingest", library_dir, "--home", tmp_path / "h", "--json")
    assert json.loads(out)["tracks_added"] == 0 and len(json.loads(out)["skipped"]) == 3


def test_home_from_the_environment(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HAVERFORD_HOME", str(tmp_path / "envhome"))
    path = write_audio(tmp_path / "a.wav", tone(seconds=6.0))
    assert run(capsys, "ingest", path, "--json")[0] == 0
    assert (tmp_path / "envhome" / "haverford.db").exists()


def test_progress_goes_to_stderr_not_stdout(capsys, tmp_path):
    path = write_audio(tmp_path / "a.wav", tone(seconds=6.0))
    _, out, err = run(capsys, "ingest", path, "--home", tmp_path / "h", "--json")
    json.loads(out)
    assert "ingest" in err


@pytest.mark.parametrize("argv, message", [
    (["ingest", "x.wav", "--bogus"], "unrecognized arguments: --bogus"),
    (["ingest", "x.wav", "--label", "maybe"], "invalid choice: 'maybe'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["export", "out.csv", "--home", "/nonexistent/haverford"], "no Haverford library at"),
    (["demo", "--tracks", "0", "--no-serve"], "must be a positive integer"),
])
def test_user_errors_exit_1_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("haverford: error:")


def test_bad_input_never_prints_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "haverford.core.cli", "ingest", "--home", str(tmp_path / "h"),
                           "--label", "x", "a.wav"], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_missing_files_are_reported_not_fatal(capsys, tmp_path):
    good = write_audio(tmp_path / "a.wav", tone(seconds=6.0))
    code, out, _ = run(capsys, "ingest", tmp_path / "nope.wav", good, "--home", tmp_path / "h", "--json")
    assert code == 0 and json.loads(out)["errors"] == [{"path": str(tmp_path / "nope.wav"),
                                                        "error": "no such file or folder"}]


def test_nothing_processed_exits_1_with_the_json_all_the_same(capsys, tmp_path):
    code, out, err = run(capsys, "ingest", tmp_path / "nope.wav", "--home", tmp_path / "h", "--json")
    assert code == 1 and json.loads(out)["errors"] == [{"path": str(tmp_path / "nope.wav"),
                                                        "error": "no such file or folder"}]
    assert err.strip().splitlines()[-1] == (f"haverford: error: ingest: nothing processed; "
                                            f"{tmp_path / 'nope.wav'}: no such file or folder")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_writes_one_row_per_answer(capsys, tmp_path, library_dir, fmt):
    home = tmp_path / "h"
    run(capsys, "ingest", library_dir, "--home", home, "--json")
    out_file = tmp_path / f"labels.{fmt}"
    code, out, _ = run(capsys, "export", out_file, "--home", home, "--json")
    assert code == 0 and json.loads(out)["rows"] == 7
    rows = list(csv.DictReader(out_file.open())) if fmt == "csv" else json.loads(out_file.read_text())
    assert len(rows) == 7
    assert {r["question"] for r in rows} == {"verdict"}
    assert sorted({r["value"] for r in rows}) == ["banger", "not_a_banger"]


def test_export_refuses_a_folder(capsys, tmp_path, library_dir):
    home = tmp_path / "h"
    run(capsys, "ingest", library_dir, "--home", home, "--json")
    code, _, err = run(capsys, "export", tmp_path, "--home", home)
    assert code == 1 and "is a folder" in err


def test_export_to_an_unknown_extension_asks_for_the_format(capsys, tmp_path, library_dir):
    home = tmp_path / "h"
    run(capsys, "ingest", library_dir, "--home", home, "--json")
    code, _, err = run(capsys, "export", tmp_path / "labels.xlsx", "--home", home)
    assert code == 1 and err.count("\n") == 1 and "--format" in err and not (tmp_path / "labels.xlsx").exists()
    code, _, _ = run(capsys, "export", tmp_path / "labels.xlsx", "--format", "csv", "--home", home)
    assert code == 0 and len(list(csv.DictReader((tmp_path / "labels.xlsx").open()))) == 7


def test_after_a_command_the_database_file_alone_holds_everything(tmp_path, library_dir):
    home = tmp_path / "h"
    proc = subprocess.run([sys.executable, "-m", "haverford.core.cli", "ingest", str(library_dir), "--home", str(home), "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not (home / "haverford.db-wal").exists()  # the WAL was folded in when the command ended
    copy = tmp_path / "backup.db"
    copy.write_bytes((home / "haverford.db").read_bytes())
    assert sqlite3.connect(copy).execute("SELECT COUNT(*) FROM tracks").fetchone() == (3,)


def test_a_bug_is_one_line_on_stderr_with_the_traceback_in_a_log(monkeypatch, capsys, tmp_path):
    """A programming error is not reported as bad input: one line names the log that holds its traceback."""
    import tempfile

    import haverford.core.export as export
    from haverford.core.home import Home

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(export, "export_answers", lambda *a, **k: {}["missing key"])
    Home(tmp_path / "h").connect()
    assert main(["export", str(tmp_path / "out.csv"), "--home", str(tmp_path / "h")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("haverford: internal error (KeyError: 'missing key')")
    (log,) = tmp_path.glob("haverford-crash-*.log")
    assert "Traceback (most recent call last)" in log.read_text() and "KeyError" in log.read_text()
