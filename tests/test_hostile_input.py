"""Hostile and broken input: each case gets a clear message and nothing else is lost."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import tone, write_audio

import haverford.db as dbm
from haverford.core.cli import main
from haverford.core.home import Home
from haverford.core.ingest import ingest
from haverford.db.migrations import MIGRATIONS


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_every_wav_sample_format_imports(home, tmp_path, subtype):
    path = write_audio(tmp_path / f"{subtype}.wav", tone(440, seconds=10.5), subtype=subtype)
    report = ingest(home, [path], workers=1)
    assert (report.tracks_added, report.segments_added, report.errors) == (1, 2, [])


@pytest.mark.parametrize("sr, channels", [(8000, 1), (96000, 2), (44100, 6)])
def test_rates_and_channel_counts(home, tmp_path, sr, channels):
    path = write_audio(tmp_path / f"{sr}-{channels}.wav", tone(440, seconds=10.5, sr=sr, channels=channels), sr)
    report = ingest(home, [path], workers=1)
    assert report.tracks_added == 1
    row = home.connect().execute("SELECT orig_sr, orig_channels, n_segments FROM tracks").fetchone()
    assert row == (sr, channels, 2)


def test_awkward_file_names_keep_their_title(home, tmp_path):
    name = "it's \"a\" bänger 🎵 (live) ; DROP TABLE tracks;--.flac"
    path = write_audio(tmp_path / "odd dir" / name, tone(seconds=6.0))
    report = ingest(home, [tmp_path / "odd dir" / ".." / "odd dir"], workers=1)
    assert report.tracks_added == 1
    assert home.connect().execute("SELECT title, path FROM tracks").fetchone() == (path.stem, str(path.resolve()))


def test_sql_and_html_in_a_labeller_name_are_stored_as_text(capsys, tmp_path):
    evil = "'); DROP TABLE answers;-- <script>alert(1)</script>"
    path = write_audio(tmp_path / "banger" / "a.wav", tone(seconds=6.0))
    assert main(["ingest", str(path), "--home", str(tmp_path / "h"), "--labeller", evil, "--json"]) == 0
    database = dbm.connect(tmp_path / "h" / "haverford.db")
    assert database.execute("SELECT DISTINCT labeller FROM answers").fetchall() == [(evil,)]


def test_all_bad_cases_in_one_folder_are_reported_and_the_good_file_imported(home, tmp_path):
    folder = tmp_path / "mixed"
    write_audio(folder / "good.wav", tone(seconds=8.0))
    (folder / "empty.wav").write_bytes(b"")
    (folder / "text.wav").write_text("RIFF? no.")
    write_audio(folder / "short.wav", tone(seconds=1.0))
    write_audio(folder / "silent.wav", np.zeros(22050 * 6, dtype=np.float32))
    nan = tone(seconds=6.0)
    nan[100] = np.nan
    write_audio(folder / "nan.wav", nan, subtype="FLOAT")
    full = write_audio(tmp_path / "full.flac", tone(seconds=30.0)).read_bytes()
    (folder / "truncated.flac").write_bytes(full[: len(full) // 2])
    report = ingest(home, [folder])
    assert report.tracks_added == 2  # the good file, and what decodes of the truncated one
    reasons = {e["path"].rsplit("/", 1)[-1]: e["error"] for e in report.errors}
    assert set(reasons) == {"empty.wav", "text.wav", "short.wav", "silent.wav", "nan.wav"}
    assert all("\n" not in r and r for r in reasons.values())
    assert [t["path"].rsplit("/", 1)[-1] for t in report.truncated] == ["truncated.flac"]
    assert home.connect().execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 2


@pytest.mark.parametrize("upto", range(len(MIGRATIONS)))
def test_a_database_from_an_older_schema_is_migrated_not_lost(tmp_path, upto):
    path = tmp_path / "old.db"
    old = dbm.connect(path, migrate=False)
    for number, migration in enumerate(MIGRATIONS[:upto], start=1):
        migration(old)
        old.execute(f"PRAGMA user_version = {number}")
    if upto:
        old.execute("INSERT INTO tracks (path, content_hash, title, duration_s, orig_sr, orig_channels, "
                    "n_segments, imported_at) VALUES ('/a.wav', 'abc', 'a', 5, 44100, 2, 1, 'then')")
    old.conn.close()
    new = dbm.connect(path)
    assert new.execute("PRAGMA user_version").fetchone()[0] == dbm.SCHEMA_VERSION
    assert new.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == (1 if upto else 0)
    assert new.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_file_that_is_not_a_database_is_a_clear_error(capsys, tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "haverford.db").write_text("this is not SQLite" * 100)
    code = main(["export", str(tmp_path / "x.csv"), "--home", str(home)])
    err = capsys.readouterr().err
    assert code == 1 and "cannot open" in err and err.count("\n") == 1


def _write_long_wav(path, *, hours: float, sr: int = 8000) -> None:
    """A long tone written block by block so the test itself stays small in memory."""
    block = tone(220, seconds=60.0, sr=sr)
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        for _ in range(int(hours * 60)):
            f.write(block)


@pytest.mark.slow
def test_a_three_hour_file_is_streamed_with_bounded_memory(tmp_path):
    path = tmp_path / "three hours.wav"
    _write_long_wav(path, hours=3.0)
    code = ("import json, resource, sys; from haverford.core.home import Home; from haverford.core.ingest import ingest; "
            f"r = ingest(Home({str(tmp_path / 'h')!r}), [{str(path)!r}], workers=1); "
            "print(json.dumps([r.segments_added, r.errors, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    segments, errors, worker_peak_mb = json.loads(out.stdout)
    assert (segments, errors) == (3 * 720, [])
    # the resampled audio alone would be 950 MB if it were loaded whole
    assert worker_peak_mb < 600, f"ingest worker peaked at {worker_peak_mb} MB"


def test_killing_an_ingest_half_way_then_rerunning_imports_each_file_once(tmp_path):
    folder = tmp_path / "many"
    for i in range(10):
        write_audio(folder / "banger" / f"{i:02d}.wav", tone(200 + 20 * i, seconds=40.0, sr=44100), 44100)
    home = tmp_path / "h"
    cmd = [sys.executable, "-m", "haverford.core.cli", "ingest", str(folder), "--home", str(home), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and _tracks(home) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < _tracks(home) < 10, "the kill should land half way"
    rerun = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    database = dbm.connect(home / "haverford.db")
    assert database.execute("SELECT COUNT(*), COUNT(DISTINCT content_hash) FROM tracks").fetchone() == (10, 10)
    assert database.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 10 * 8
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert rerun["tracks_added"] + len(rerun["skipped"]) == 10


def _tracks(home) -> int:
    try:
        with sqlite3.connect(home / "haverford.db", timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_an_upload_over_the_limit_is_refused_with_the_sizes(tmp_path, monkeypatch):
    from haverford.core.errors import HaverfordError
    from haverford.core.uploads import save_upload

    home = Home(tmp_path / "home")
    monkeypatch.setenv("HAVERFORD_MAX_UPLOAD_MB", "1")
    with pytest.raises(HaverfordError, match=r"big.wav is 1.5 MB, over the 1 MB upload limit"):
        save_upload(home, "big.wav", b"x" * (3 * 2**19))
    assert not home.uploads_dir.exists() or not list(home.uploads_dir.iterdir())


@pytest.mark.parametrize("name, title", [("../../etc/passwd.wav", "passwd"), ("it's \"a\" <b>.wav", "it's \"a\" <b>"),
                                         ("..", "..")])
def test_uploaded_names_never_reach_the_file_system_and_stay_under_the_home(tmp_path, name, title):
    from haverford.core.uploads import save_upload

    home = Home(tmp_path / "home")
    path, kept = save_upload(home, name, b"RIFF")
    assert path.parent == home.uploads_dir and path.name.startswith("upload-") and path.name.isascii()
    assert kept == title
