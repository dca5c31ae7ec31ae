"""Every file a music lover has (issue 10): formats, lengths, silence, names, links, moves, contention.

Each test builds its inputs on the spot with numpy/soundfile, ffmpeg, lame or sox, and asserts the
values a user would see: durations, segment counts, titles, labels, silent flags, exit codes, JSON.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import clicks, tone, write_audio

from haverford.core import audio
from haverford.core.home import Home
from haverford.core.ingest import ingest
from haverford.core.uploads import save_upload

SR = 22050


def ffmpeg(src: Path, dst: Path, *args: str) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst


def cli(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "haverford.core.cli", *map(str, argv)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def rows(home, sql, params=()):
    return home.connect().execute(sql, params).fetchall()


# --- 1. AAC in an m4a, and every other format FFmpeg decodes --------------------------------

def test_1_an_m4a_beside_a_wav_is_imported_not_dropped(tmp_path):
    folder = tmp_path / "music"
    wav = write_audio(tmp_path / "src.wav", tone(seconds=12.3))
    ffmpeg(wav, folder / "song.m4a", "-c:a", "aac")
    write_audio(folder / "good.wav", clicks(seconds=10.0))
    proc = cli("ingest", folder, "--home", tmp_path / "h", "--json")
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["tracks_added"] == 2 and out["errors"] == [] and out["skipped"] == []
    found = {t: (round(d, 1), n) for t, d, n in rows(Home(tmp_path / "h"), "SELECT title, duration_s, n_segments FROM tracks")}
    assert found == {"song": (12.3, 2), "good": (10.0, 2)}


@pytest.mark.parametrize("ext, codec", [("m4a", "alac"), ("opus", "libopus"), ("ogg", "libvorbis"),
                                        ("flac", "flac"), ("aiff", "pcm_s16be"), ("wma", "wmav2"),
                                        ("mp3", "libmp3lame")])
def test_every_ffmpeg_format_decodes_to_its_true_length(tmp_path, ext, codec):
    wav = write_audio(tmp_path / "src.wav", tone(seconds=11.0, sr=44100), sr=44100)
    path = ffmpeg(wav, tmp_path / f"x.{ext}", "-c:a", codec)
    decoding = audio.Decoding()
    segments = np.concatenate(list(audio.iter_segments(path, decoding=decoding)))
    assert segments.shape == (2, 110250)
    assert decoding.duration_s == pytest.approx(11.0, abs=0.06)  # codec priming and padding
    assert decoding.truncated is None


def test_a_file_no_decoder_reads_is_an_error_with_a_remedy(tmp_path):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x18ftypM4A " + os.urandom(2000))
    with pytest.raises(audio.AudioError, match="not a readable audio file .*no decoder here reads it: it is not audio, or it is"):
        audio.probe(path)


# --- 2. VBR MP3 without a Xing header: the length is what decodes ----------------------------

def test_2_a_vbr_mp3_without_xing_header_keeps_all_60_seconds(tmp_path, home):
    rng = np.random.default_rng(0)
    y = (clicks(seconds=60.0, sr=44100) + 0.05 * rng.standard_normal(60 * 44100)).astype(np.float32)
    y[: 44100 * 3] *= 0.01  # a quiet intro: a header estimate from the first frames is wrong
    wav = write_audio(tmp_path / "src.wav", y, sr=44100)
    mp3 = tmp_path / "vbr.mp3"
    subprocess.run(["lame", "--quiet", "-V0", "-t", str(wav), str(mp3)], check=True)
    report = ingest(home, [mp3], workers=1)
    assert (report.tracks_added, report.segments_added, report.truncated) == (1, 12, [])
    (duration,) = rows(home, "SELECT duration_s FROM tracks")[0]
    assert duration == pytest.approx(60.0, abs=0.1)


@pytest.mark.parametrize("lame_args, decoder", [((), "sndfile"), (("-t",), "ffmpeg")])
def test_an_mp3_goes_to_libsndfile_only_when_a_xing_tag_counts_its_frames(tmp_path, lame_args, decoder):
    """libsndfile decodes MP3 faster but stops at the stated length: trusted only with a frame count."""
    wav = write_audio(tmp_path / "src.wav", tone(seconds=21.0, sr=44100), sr=44100)
    mp3 = tmp_path / "x.mp3"
    subprocess.run(["lame", "--quiet", "-V2", *lame_args, str(wav), str(mp3)], check=True)
    info, decoding = audio.probe(mp3), audio.Decoding()
    n_segments = sum(len(batch) for batch in audio.iter_segments(mp3, info=info, decoding=decoding))
    assert (info.decoder, n_segments, decoding.truncated) == (decoder, 4, None)
    assert decoding.duration_s == pytest.approx(21.0, abs=0.06)


def test_a_cut_mp3_with_a_xing_tag_keeps_what_decodes_and_says_truncated(tmp_path, capfd):
    """Its Xing tag's byte count gives the cut away: FFmpeg reads it, and no decoder warns on stderr."""
    wav = write_audio(tmp_path / "src.wav", tone(seconds=30.0, sr=44100), sr=44100)
    mp3 = tmp_path / "x.mp3"
    subprocess.run(["lame", "--quiet", "-V2", str(wav), str(mp3)], check=True)
    data = mp3.read_bytes()
    mp3.write_bytes(data[: len(data) // 2])
    info, decoding = audio.probe(mp3), audio.Decoding()
    n_samples = sum(batch.size for batch in audio.iter_segments(mp3, info=info, decoding=decoding))
    assert info.decoder == "ffmpeg" and n_samples == int(decoding.duration_s / 5) * 5 * SR
    assert 10.0 < decoding.duration_s < 20.0 and decoding.truncated.startswith("the file ends after")
    assert capfd.readouterr().err == ""


# --- 3. Silence: flagged per segment, at the floor, out of verdicts --------------------------

def test_3_trailing_digital_silence_is_a_silent_segment_at_the_floor(tmp_path, home):
    y = np.concatenate([clicks(seconds=8.0) + tone(seconds=8.0, amplitude=0.1), np.zeros(7 * SR, np.float32)])
    path = write_audio(tmp_path / "banger" / "song.wav", y)
    report = ingest(home, [path.parent], workers=1)
    assert (report.segments_added, report.silent_segments) == (3, 1)
    assert rows(home, "SELECT idx, silent FROM segments ORDER BY idx") == [(0, 0), (1, 0), (2, 1)]
    db = home.connect()
    from haverford.db import tracks as tracks_db

    features = home.store.read(tracks_db.segment_locations(db, [1, 2, 3], "log_mel"), "log_mel")
    assert np.all(features[2] == -80.0) and features[0].max() == 0.0
    # the folder's label is given to the audible segments only
    assert rows(home, "SELECT segment_id FROM answers ORDER BY segment_id") == [(1,), (2,)]


def test_silent_segments_are_left_out_of_queues_and_training_data(tmp_path, home):
    from haverford.db import models as models_db
    from haverford.db import questions as questions_db
    from haverford.db import queues as queues_db

    y = np.concatenate([np.zeros(5 * SR, np.float32), clicks(seconds=5.0)])
    ingest(home, [write_audio(tmp_path / "banger" / "a.wav", y).parent], workers=1)
    db = home.connect()
    assert [r["segment_id"] for r in models_db.labelled_segments(db)] == [2]
    assert models_db.segment_count(db) == 1
    q = questions_db.verdict_question_id(db)
    for mode in ("track_order", "unlabelled_by_me", "random"):
        assert queues_db.next_segment(db, mode=mode, labeller="tom", verdict_question=q) == 2


@pytest.mark.parametrize("make, why", [
    (lambda: np.zeros((7 * SR, 2), np.float32), "every sample is zero"),
    (lambda: np.full((7 * SR, 2), 0.25, np.float32), "constant (DC) offset"),
    (lambda: np.stack([tone(seconds=7.0), -tone(seconds=7.0)], axis=1), "channels cancel when mixed to mono"),
    (lambda: tone(seconds=7.0, amplitude=1e-4), "quieter than -60 dBFS"),
])
def test_a_file_with_no_audible_segment_is_an_error_saying_why(tmp_path, home, make, why):
    path = write_audio(tmp_path / "x.wav", make(), subtype="FLOAT")
    report = ingest(home, [path], workers=1)
    assert report.tracks_added == 0 and why in report.errors[0]["error"]
    assert rows(home, "SELECT COUNT(*) FROM tracks") == [(0,)]


# --- 4, 5. Names: uploads keep their original names, any byte string imports -----------------

def test_4_uploads_are_saved_under_safe_unique_names_and_titled_by_the_original(tmp_path, home):
    wav = write_audio(tmp_path / "src.wav", tone(seconds=6.0))
    titles = {}
    for i, name in enumerate(["测试.mp3", "テスト.mp3", "מסמך.mp3"]):
        mp3 = ffmpeg(wav, tmp_path / f"{i}.mp3", "-af", f"volume={0.5 + i / 10}")
        path, title = save_upload(home, name, mp3.read_bytes())
        assert path.parent == home.uploads_dir and path.name.isascii() and path.suffix == ".mp3"
        titles[str(path)] = title
    report = ingest(home, list(titles), titles=titles, workers=1)
    assert report.tracks_added == 3
    assert sorted(t for (t,) in rows(home, "SELECT title FROM tracks")) == sorted(["测试", "テスト", "מסמך"])


def test_the_same_upload_twice_is_one_file(home):
    first = save_upload(home, "../../etc/a b.wav", b"RIFF....")
    assert save_upload(home, "other name.wav", b"RIFF....") == (first[0], "other name")
    assert first[1] == "a b" and list(home.uploads_dir.iterdir()) == [first[0]]


def test_5_a_name_that_is_not_utf8_imports_predicts_and_exports(tmp_path, home):
    folder = tmp_path / "latin1"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.wav")
    write_audio(folder / "cafe.wav", tone(seconds=6.0)).rename(folder / name)
    proc = cli("ingest", folder, "--home", home.path, "--json", "--label", "banger")
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["tracks_added"] == 1 and out["errors"] == []
    assert rows(home, "SELECT title FROM tracks") == [("caf\ufffd",)]
    from haverford.db import tracks as tracks_db

    assert tracks_db.get_track(home.connect(), 1)["path"] == str(folder / name)
    text = cli("ingest", folder, "--home", home.path)  # the text report prints the name too
    assert text.returncode == 0 and "Traceback" not in text.stderr
    export = cli("export", tmp_path / "labels.json", "--home", home.path, "--json")
    assert export.returncode == 0 and "caf\ufffd" in (tmp_path / "labels.json").read_text(encoding="utf-8")


# --- 6. Symlinks: a link takes its own folder's label; linked folders are followed -----------

def test_6_a_symlinked_file_takes_the_label_of_the_folder_it_is_in(tmp_path, home):
    target = write_audio(tmp_path / "elsewhere" / "track.wav", clicks(seconds=10.0))
    (tmp_path / "music" / "banger").mkdir(parents=True)
    (tmp_path / "music" / "banger" / "track.wav").symlink_to(target)
    report = ingest(home, [tmp_path / "music"], workers=1)
    assert report.tracks_added == 1
    assert rows(home, "SELECT value, COUNT(*) FROM answers GROUP BY value") == [("banger", 2)]


def test_symlinked_folders_are_followed_and_loops_do_not_hang(tmp_path, home):
    write_audio(tmp_path / "library" / "real" / "a.wav", tone(seconds=6.0))
    (tmp_path / "music" / "not_a_banger").mkdir(parents=True)
    (tmp_path / "music" / "not_a_banger" / "linked").symlink_to(tmp_path / "library" / "real")
    (tmp_path / "library" / "real" / "loop").symlink_to(tmp_path / "library")
    report = ingest(home, [tmp_path / "music"], workers=1)
    assert report.tracks_added == 1
    assert rows(home, "SELECT value, COUNT(*) FROM answers GROUP BY value") == [("not_a_banger", 1)]


def test_unknown_extensions_are_skipped_with_the_reason(tmp_path, home):
    write_audio(tmp_path / "m" / "a.wav", tone(seconds=6.0))
    (tmp_path / "m" / "cover.jpg").write_bytes(b"\xff\xd8")
    report = ingest(home, [tmp_path / "m"], workers=1)
    assert report.skipped == [{"path": str(tmp_path / "m" / "cover.jpg"),
                               "reason": "not an audio file extension (.jpg); give the file by name to try it anyway"}]


# --- 7. Undecodable files are never duplicates -----------------------------------------------

def test_7_zero_byte_and_header_only_files_are_errors_not_duplicates(tmp_path, home):
    folder = tmp_path / "junk"
    folder.mkdir()
    header = write_audio(tmp_path / "h.wav", np.zeros(0, np.float32)).read_bytes()
    for i in range(1500):
        (folder / f"zero-{i:04d}.wav").write_bytes(b"")
        (folder / f"header-{i:04d}.wav").write_bytes(header)
    write_audio(folder / "good.wav", tone(seconds=6.0))
    report = ingest(home, [folder], workers=2)
    assert report.tracks_added == 1 and report.skipped == [] and len(report.errors) == 3000
    reasons = {e["error"] for e in report.errors}
    assert reasons == {"empty file (0 bytes); nothing to decode",
                       "no audio frames in file (the header says 0); it holds no sound: export it again from its source"}


def test_the_same_content_under_both_labels_is_a_conflict(tmp_path, home):
    y = clicks(seconds=6.0)
    write_audio(tmp_path / "m" / "banger" / "a.wav", y)
    write_audio(tmp_path / "m" / "not_a_banger" / "a copy.wav", y)
    report = ingest(home, [tmp_path / "m"], workers=2)
    assert report.tracks_added == 1 and len(report.conflicts) == 1
    assert "under both banger/ and not_a_banger/" in report.conflicts[0]["reason"]
    assert rows(home, "SELECT COUNT(*) FROM answers") == [(0,)]


# --- Moved music ---------------------------------------------------------------------------

def test_reimporting_moved_music_updates_the_path_and_keeps_labels(tmp_path, home):
    old = write_audio(tmp_path / "old" / "banger" / "a.wav", clicks(seconds=6.0))
    ingest(home, [tmp_path / "old"], workers=1)
    new = tmp_path / "new" / "banger" / "a.wav"
    new.parent.mkdir(parents=True)
    old.rename(new)
    report = ingest(home, [tmp_path / "new"], workers=1)
    assert report.tracks_added == 0 and report.moved == [{"from": str(old), "to": str(new)}]
    assert rows(home, "SELECT path FROM tracks") == [(str(new),)]
    assert rows(home, "SELECT COUNT(*) FROM answers") == [(1,)]


def test_relocate_points_a_whole_folder_at_its_new_place(tmp_path, home):
    write_audio(tmp_path / "old" / "a.wav", tone(seconds=6.0))
    write_audio(tmp_path / "old" / "sub" / "b.wav", clicks(seconds=6.0))
    ingest(home, [tmp_path / "old"], workers=1)
    (tmp_path / "old").rename(tmp_path / "new")
    proc = cli("relocate", tmp_path / "old", tmp_path / "new", "--home", home.path, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["moved"] == 2
    assert sorted(p for (p,) in rows(home, "SELECT path FROM tracks")) == [
        str(tmp_path / "new" / "a.wav"), str(tmp_path / "new" / "sub" / "b.wav")]
    bad = cli("relocate", tmp_path / "nowhere", tmp_path / "new", "--home", home.path)
    assert bad.returncode == 1 and "no track of the library is under" in bad.stderr
    assert bad.stderr.count("\n") == 1


def test_a_missing_file_says_which_command_fixes_it(tmp_path):
    with pytest.raises(audio.AudioError, match="haverford relocate OLD_DIR NEW_DIR"):
        audio.load(tmp_path / "gone.wav", offset=0.0, duration=5.0)


# --- Truncated files keep what decodes -------------------------------------------------------

@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_a_truncated_file_keeps_what_decodes_and_says_so(tmp_path, home, ext):
    full = write_audio(tmp_path / f"full.{ext}", clicks(seconds=30.0)).read_bytes()
    path = tmp_path / f"cut.{ext}"
    path.write_bytes(full[: len(full) // 2])
    report = ingest(home, [path], workers=1)
    assert report.tracks_added == 1 and report.segments_added == 2
    assert report.truncated[0]["path"] == str(path) and 10.0 <= report.truncated[0]["decoded_s"] < 16.0


# --- 8. Contention ---------------------------------------------------------------------------

def test_8_two_concurrent_ingests_of_one_folder_both_exit_0_with_json(tmp_path):
    for i in range(6):
        write_audio(tmp_path / "m" / f"t{i}.wav", tone(200 + 50 * i, seconds=6.0))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    argv = [sys.executable, "-m", "haverford.core.cli", "ingest", str(tmp_path / "m"), "--home", str(tmp_path / "h"),
            "--json"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [(p.wait(timeout=120), p.communicate()) for p in procs]
    assert [code for code, _ in outs] == [0, 0], [err for _, (_, err) in outs]
    reports = [json.loads(out) for _, (out, _) in outs]
    assert sum(r["tracks_added"] for r in reports) == 6
    assert all(r["tracks_added"] + len(r["skipped"]) == 6 for r in reports)
    db = sqlite3.connect(tmp_path / "h" / "haverford.db")
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT content_hash) FROM tracks").fetchone() == (6, 6)


def test_a_database_held_by_another_program_is_a_bounded_wait_then_one_line(tmp_path):
    write_audio(tmp_path / "a.wav", tone(seconds=6.0))
    assert cli("ingest", tmp_path / "a.wav", "--home", tmp_path / "h").returncode == 0
    write_audio(tmp_path / "b.wav", clicks(seconds=6.0))
    holder = sqlite3.connect(tmp_path / "h" / "haverford.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        proc = subprocess.run([sys.executable, "-m", "haverford.core.cli", "ingest", str(tmp_path / "b.wav"),
                               "--home", str(tmp_path / "h"), "--json"], capture_output=True, text=True,
                              env={**os.environ, "HAVERFORD_DB_WAIT_S": "2"}, timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert "waiting up to 2 s" in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("haverford: error: the database stayed locked by another program for 2 s")
    db = sqlite3.connect(tmp_path / "h" / "haverford.db")
    assert db.execute("SELECT COUNT(*) FROM tracks").fetchone() == (1,)


# --- Exit codes of a batch that did nothing --------------------------------------------------

def test_ingest_exits_1_with_json_when_nothing_was_processed(tmp_path):
    (tmp_path / "bad.wav").write_text("not audio")
    proc = cli("ingest", tmp_path / "bad.wav", "--home", tmp_path / "h", "--json")
    out = json.loads(proc.stdout)
    assert proc.returncode == 1 and out["tracks_added"] == 0 and out["errors"][0]["path"] == str(tmp_path / "bad.wav")
    assert proc.stderr.strip().splitlines()[-1].startswith("haverford: error: ingest: nothing processed;")


# --- 10. Quiet start -------------------------------------------------------------------------

@pytest.mark.slow  # three TensorFlow start-ups in fresh processes
@pytest.mark.parametrize("argv", [["train", "--preset", "tiny", "--feature", "mfcc"], ["predict", "x.wav"],
                                  ["tune", "--preset", "tiny", "--trials", "1"]])
def test_10_commands_that_load_tensorflow_print_one_line_errors(tmp_path, argv):
    home = tmp_path / "h"
    write_audio(tmp_path / "a.wav", tone(seconds=6.0))
    assert cli("ingest", tmp_path / "a.wav", "--home", home).returncode == 0
    proc = cli(*argv, "--home", home)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    progress = [line for line in lines[:-1] if re.match(r"^\w[\w ]*:\s+\d+%\|", line)]  # tqdm bars, e.g. tune's
    assert proc.returncode == 1 and lines[:-1] == progress, proc.stderr  # no TensorFlow or CUDA lines
    assert lines[-1].startswith("haverford: error:")


# --- Decoding faults an outside tester found (issue 10, second round) -------------------------

def ffmpeg_decodes(path: Path) -> int:
    """How many samples (per channel) FFmpeg's own command line decodes from ``path``, as mono."""
    pcm = subprocess.run(["ffmpeg", "-v", "quiet", "-i", str(path), "-ac", "1", "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    return len(pcm) // 4


def cut(path: Path, dst: Path, share: float) -> Path:
    """The first ``share`` of the bytes of ``path`` (``head -c``: a download that stopped)."""
    data = path.read_bytes()
    dst.write_bytes(data[: int(len(data) * share)])
    return dst


@pytest.mark.parametrize("ext", ["flac", "wav", "aiff"])
def test_a_file_cut_past_the_first_block_keeps_all_that_ffmpeg_decodes(tmp_path, ext):
    """libsndfile's FLAC decoder loses the whole block it was reading when it meets the cut;
    FFmpeg goes on from the last good sample, so nothing that decodes is lost."""
    seconds = audio.BLOCK_SECONDS + 6.0
    y = clicks(seconds=seconds) + tone(seconds=seconds, amplitude=0.1)
    full = write_audio(tmp_path / f"full.{ext}", y)
    path = cut(full, tmp_path / f"cut.{ext}", 0.95)
    decoding = audio.Decoding()
    decoded = np.concatenate(list(audio.iter_audio(path, decoding=decoding)))
    assert len(decoded) == ffmpeg_decodes(path) > audio.BLOCK_SECONDS * SR
    assert np.array_equal(decoded, audio.load(full)[: len(decoded)])  # the right samples, no gap
    assert decoding.truncated is not None and f"{len(decoded) / SR:.2f} s" in decoding.truncated


@pytest.mark.parametrize("fmt, ext", [("WAV", "wav"), ("WAVEX", "wav"), ("AIFF", "aiff"), ("AU", "au"),
                                      ("W64", "w64"), ("RF64", "rf64")])
def test_a_cut_file_of_each_chunked_format_is_reported_truncated(tmp_path, fmt, ext):
    """libsndfile logs the chunk that runs past the end differently per format (" SSND : ..." in
    an AIFF, "  Data Size   : ..." in an AU); each must read as a cut."""
    import soundfile as sf

    full = tmp_path / f"full.{ext}"
    sf.write(full, tone(seconds=6.0), SR, format=fmt, subtype="PCM_16")
    path = cut(full, tmp_path / f"cut.{ext}", 0.6)
    decoding = audio.Decoding()
    n = sum(len(b) for b in audio.iter_audio(path, decoding=decoding))
    assert n == ffmpeg_decodes(path) and 3.5 < n / SR < 3.7
    assert decoding.truncated == f"the file ends after {n / SR:.2f} s, its header says 6.00 s"


@pytest.fixture(scope="module")
def mp3_sources(tmp_path_factory) -> dict[str, Path]:
    """12-second MP3s with a frame-counting tag: LAME's VBR Xing tag and FFmpeg's CBR Info tag."""
    folder = tmp_path_factory.mktemp("mp3")
    y = clicks(seconds=12.0, sr=44100) + tone(seconds=12.0, sr=44100, amplitude=0.1)
    wav = write_audio(folder / "src.wav", y, sr=44100)
    subprocess.run(["lame", "--quiet", "-V0", str(wav), str(folder / "lame_v0.mp3")], check=True)
    return {"lame_v0": folder / "lame_v0.mp3",
            "ffmpeg_192k": ffmpeg(wav, folder / "ffmpeg_192k.mp3", "-c:a", "libmp3lame", "-b:a", "192k")}


@pytest.mark.parametrize("name", ["lame_v0", "ffmpeg_192k"])
def test_an_mp3_whose_tag_counts_its_frames_is_reported_truncated_when_cut(tmp_path, mp3_sources, name):
    """The tag's count is exact: a cut file decodes short of it, so the report must say so."""
    path = cut(mp3_sources[name], tmp_path / "cut.mp3", 0.95)
    decoding = audio.Decoding()
    n = sum(len(b) for b in audio.iter_audio(path, sr=44100, decoding=decoding))
    assert n == pytest.approx(ffmpeg_decodes(path), abs=1152) and 11.0 < n / 44100 < 11.7
    assert decoding.truncated == f"the file ends after {n / 44100:.2f} s, its header says 12.04 s"


@pytest.mark.parametrize("name", ["lame_v0", "ffmpeg_192k"])
def test_an_mp3_with_more_audio_after_its_tags_count_keeps_it_all(tmp_path, mp3_sources, name):
    """Two files joined with ``cat``: the first one's tag counts half; FFmpeg reads to the end."""
    path = tmp_path / "joined.mp3"
    path.write_bytes(mp3_sources[name].read_bytes() * 2)
    decoding = audio.Decoding()
    n = sum(len(b) for b in audio.iter_audio(path, sr=44100, decoding=decoding))
    assert n == pytest.approx(ffmpeg_decodes(path), abs=1152) and 24.0 <= n / 44100 < 24.2
    assert decoding.truncated is None


def test_an_mp3_with_an_id3v1_tag_is_neither_cut_nor_longer(tmp_path, mp3_sources):
    path = tmp_path / "tagged.mp3"
    path.write_bytes(mp3_sources["lame_v0"].read_bytes() + b"TAG" + b"title".ljust(125, b"\0"))
    info, decoding = audio.probe(path), audio.Decoding()
    n = sum(len(b) for b in audio.iter_audio(path, sr=44100, info=info, decoding=decoding))
    assert (info.decoder, decoding.truncated) == ("sndfile", None) and n / 44100 == pytest.approx(12.0, abs=0.03)


@pytest.mark.parametrize("ext, codec", [("ogg", "libvorbis"), ("opus", "libopus")])
def test_an_ogg_file_cut_short_is_reported_truncated(tmp_path, ext, codec):
    """Its last page lacks the end-of-stream flag (or the file ends inside a page)."""
    wav = write_audio(tmp_path / "src.wav", clicks(seconds=12.0))
    full = ffmpeg(wav, tmp_path / f"full.{ext}", "-c:a", codec)
    path = cut(full, tmp_path / f"cut.{ext}", 0.9)
    assert audio.Decoding() == _decode_report(full)[1]
    n, decoding = _decode_report(path)
    assert decoding.truncated == f"the file ends after {n / SR:.2f} s: it ends inside an Ogg page"


def _decode_report(path: Path) -> tuple[int, audio.Decoding]:
    decoding = audio.Decoding()
    n = sum(len(b) for b in audio.iter_audio(path, decoding=decoding))
    decoding.sr, decoding.frames = 0, 0  # compare only the report
    return n, decoding


def wav_with_sizes(path: Path, riff: int, data: int) -> Path:
    """``path``, a plain 44-byte-header WAV, with its RIFF and data sizes overwritten."""
    raw = bytearray(path.read_bytes())
    assert raw[36:40] == b"data"
    raw[4:8], raw[40:44] = riff.to_bytes(4, "little"), data.to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("size", [0, 0xFFFFFFFF], ids=["never-finalised", "written-to-a-pipe"])
def test_a_wav_whose_sizes_are_unknown_imports_at_its_real_length(tmp_path, home, size):
    """A recorder that crashed leaves sizes 0; FFmpeg writing to a pipe leaves 0xFFFFFFFF."""
    path = wav_with_sizes(write_audio(tmp_path / "rec.wav", clicks(seconds=11.0)), size, size)
    report = ingest(home, [path], workers=1)
    assert (report.tracks_added, report.segments_added, report.errors, report.truncated) == (1, 2, [], [])
    assert rows(home, "SELECT duration_s FROM tracks")[0][0] == pytest.approx(11.0, abs=1e-3)


def test_a_wav_piped_out_of_ffmpeg_is_not_truncated(tmp_path):
    src = write_audio(tmp_path / "s.wav", tone(seconds=7.0))
    piped = tmp_path / "piped.wav"
    with open(piped, "wb") as out:
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-f", "wav", "-"], stdout=out, check=True)
    decoding = audio.Decoding()
    n = sum(len(b) for b in audio.iter_audio(piped, decoding=decoding))
    assert (n, decoding.truncated) == (7 * SR, None)


@pytest.mark.parametrize("content", [
    b"not audio\n",
    np.random.default_rng(1).bytes(5000),
    b"ID3\x04\x00\x00\x00\x00\x00\x59" + bytes(89) + bytes(3000),  # an ID3 tag, then nothing
    b"ID3\x04\x00\x00\x00\x00\x00\x59" + bytes(89) + np.random.default_rng(2).bytes(3000),
], ids=["text", "random", "id3-then-zeros", "id3-then-random"])
def test_a_non_audio_mp3_is_a_one_line_error_and_nothing_else_on_stderr(tmp_path, capfd, content):
    """libsndfile's MP3 decoder (mpg123) printed "Note: Trying to resync..." for such files."""
    from haverford.core.cli import main

    path = tmp_path / "x.mp3"
    path.write_bytes(content)
    assert main(["ingest", str(path), "--home", str(tmp_path / "h"), "--json"]) == 1
    out, err = capfd.readouterr()
    assert json.loads(out)["errors"][0]["error"].startswith("not a readable audio file")
    lines = [line for line in err.splitlines() if line and not re.match(r"^ingest:\s+\d+%\|", line)]  # tqdm bar
    assert len(lines) == 1 and lines[0].startswith("haverford: error: ingest: nothing processed;"), err


def test_a_cut_caf_is_read_by_ffmpeg_and_reported_truncated(tmp_path):
    """libsndfile refuses a CAF whose data chunk runs past the end; FFmpeg reads what is there."""
    import soundfile as sf

    full = tmp_path / "full.caf"
    sf.write(full, tone(seconds=6.0), SR, format="CAF", subtype="PCM_16")
    path = cut(full, tmp_path / "cut.caf", 0.6)
    info, decoding = audio.probe(path), audio.Decoding()
    n = sum(len(b) for b in audio.iter_audio(path, info=info, decoding=decoding))
    assert info.decoder == "ffmpeg" and n == ffmpeg_decodes(path) and 3.5 < n / SR < 3.7
    assert decoding.truncated is not None and decoding.truncated.startswith(
        f"the file ends after {n / SR:.2f} s: its data chunk holds {6 * SR * 2 + 4} bytes")


def test_a_wma_part_loaded_with_an_offset_lines_up_with_the_whole_decode(tmp_path):
    """WMA's decoder stamps its first frame 92 ms (two packets) in, and the ASF index lands a
    seek past its target: a part came out 4,096 samples early. ASF times are whole
    milliseconds, so a part is right to within one (44 samples at 44.1 kHz)."""
    rng = np.random.default_rng(3)
    wav = write_audio(tmp_path / "src.wav", (0.1 * rng.standard_normal(20 * 44100)).astype(np.float32), sr=44100)
    path = ffmpeg(wav, tmp_path / "n.wma", "-c:a", "wmav2")
    full = audio.load(path, sr=44100)
    for offset in (5.0, 12.0):
        part, start = audio.load(path, sr=44100, offset=offset, duration=1.0), int(offset * 44100)
        errors = {d: np.abs(full[start + d: start + d + len(part)] - part).max() for d in range(-5000, 5000)}
        best = min(errors, key=errors.get)
        assert abs(best) <= 44 and errors[best] < 1e-6, (offset, best)
