"""What a folder can hold besides audio files (issue 10): links to nothing, link loops, named
pipes, folders linked under the other label, and labels that contradict an earlier import.

A bad entry is reported and costs nothing else: the rest of the folder imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import clicks, tone, write_audio

from haverford.core.ingest import ingest


def cli(*argv, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "haverford.core.cli", *map(str, argv)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def labels(home) -> list[tuple]:
    return home.connect().execute("SELECT value, COUNT(*) FROM answers GROUP BY value ORDER BY value").fetchall()


def test_broken_links_and_named_pipes_in_a_folder_leave_the_rest_imported(tmp_path):
    folder = tmp_path / "music"
    write_audio(folder / "good.wav", tone(seconds=6.0))
    (folder / "dangling.wav").symlink_to(folder / "moved-away.wav")
    (folder / "self.wav").symlink_to(folder / "self.wav")
    os.mkfifo(folder / "pipe.wav")  # opening it to hash it would wait for a writer forever
    proc = cli("ingest", folder, "--home", tmp_path / "h", "--json", timeout=60)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["tracks_added"] == 1
    assert out["errors"] == [
        {"path": str(folder / "dangling.wav"),
         "error": "a symbolic link to a file that does not exist (its target was moved or deleted)"},
        {"path": str(folder / "self.wav"), "error": "a symbolic link that points back to itself (a link loop)"}]
    assert out["skipped"] == [{"path": str(folder / "pipe.wav"),
                               "reason": "not a regular file (a named pipe): give a file that holds the audio"}]


def test_a_named_pipe_or_a_broken_link_given_by_name_says_what_it_is(tmp_path):
    os.mkfifo(tmp_path / "pipe.wav")
    (tmp_path / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    proc = cli("ingest", tmp_path / "pipe.wav", tmp_path / "gone.wav", tmp_path / "absent.wav",
               "--home", tmp_path / "h", "--json", timeout=60)
    out = json.loads(proc.stdout)
    assert proc.returncode == 1 and out["tracks_added"] == 0
    assert [e["error"] for e in out["errors"]] == [
        "not a regular file (a named pipe): give a file that holds the audio",
        "a symbolic link to a file that does not exist (its target was moved or deleted)",
        "no such file or folder"]


def test_a_folder_linked_under_the_other_label_is_a_conflict_not_a_wrong_label(tmp_path, home):
    root = tmp_path / "music"
    write_audio(root / "not_a_banger" / "calm.wav", tone(seconds=6.0))
    write_audio(root / "banger" / "kick.wav", clicks(seconds=6.0))
    (root / "banger" / "alias").symlink_to(root / "not_a_banger")  # walked before the real folder
    report = ingest(home, [root], workers=1)
    assert report.tracks_added == 2 and [c["path"] for c in report.conflicts] == [str(root / "banger/alias/calm.wav")]
    assert labels(home) == [("banger", 1)]  # the kick; calm is unlabelled, not called a banger


def test_a_label_that_contradicts_an_earlier_import_is_a_conflict_and_changes_nothing(tmp_path, home):
    y = clicks(seconds=11.0)
    write_audio(tmp_path / "a" / "banger" / "x.wav", y)
    write_audio(tmp_path / "b" / "not_a_banger" / "x copy.wav", y)
    ingest(home, [tmp_path / "a"], workers=1)
    report = ingest(home, [tmp_path / "b"], workers=1)
    assert report.tracks_added == 0 and report.known == 1
    assert report.conflicts == [{
        "path": str(tmp_path / "b" / "not_a_banger" / "x copy.wav"),
        "reason": "already in the library, where an earlier import labelled it banger; here it is under "
                  "not_a_banger/: its labels were left as they were; review it in the dashboard"}]
    assert labels(home) == [("banger", 2)]
    assert ingest(home, [tmp_path / "a"], workers=1).conflicts == []  # the same label again: no conflict


def test_a_file_named_and_also_met_in_its_folder_is_not_listed_as_skipped(tmp_path, home):
    write_audio(tmp_path / "m" / "a.wav", tone(seconds=6.0))
    video = tmp_path / "m" / "video.mkv"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(tmp_path / "m" / "a.wav"), str(video)], check=True)
    report = ingest(home, [tmp_path / "m", video], workers=1)
    assert report.tracks_added == 2 and report.skipped == []


def test_relocating_a_folder_onto_itself_is_refused_and_moves_nothing(tmp_path, home):
    write_audio(tmp_path / "m" / "a.wav", tone(seconds=6.0))
    ingest(home, [tmp_path / "m"], workers=1)
    proc = cli("relocate", tmp_path / "m", tmp_path / "m" / ".", "--home", home.path, "--json")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"haverford: error: the old and the new folder are the same ({tmp_path / 'm'}); "
        f"give the folder the music was imported from, then where it is now"]


def test_a_name_with_a_newline_and_a_colour_code_keeps_the_error_to_one_line(tmp_path):
    bad = tmp_path / "two\nlines \x1b[31mred.wav"
    bad.write_bytes(b"not audio at all")
    proc = cli("ingest", bad, "--home", tmp_path / "h")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("haverford: error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "two\\nlines \\x1b[31mred.wav" in errors[0]
    assert "\x1b[31m" not in proc.stderr  # neither the progress bar nor the error recolours the terminal
