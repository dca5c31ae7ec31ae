"""Importing files and folders: labels from folders, dedupe, features in the store, bad files."""

import numpy as np
import pytest
from conftest import tone, write_audio

from haverford.core import features
from haverford.core.errors import HaverfordError
from haverford.core.ingest import compute_missing, ingest
from haverford.db import answers, tracks


def verdicts(home):
    rows = home.connect().query("""SELECT t.title, v.verdict, COUNT(*) n FROM segments s
                                   JOIN tracks t ON t.id = s.track_id
                                   LEFT JOIN segment_verdicts v ON v.segment_id = s.id
                                   GROUP BY t.title, v.verdict ORDER BY t.title""")
    return {(r["title"], r["verdict"]): r["n"] for r in rows}


def test_folder_names_label_every_segment_as_import_answers(home, library_dir):
    report = ingest(home, [library_dir], workers=2)
    assert (report.tracks_added, report.segments_added, report.errors) == (3, 7, [])
    assert verdicts(home) == {("kick 128", "banger"): 2, ("kick 140", "banger"): 3,
                              ("tone", "not_a_banger"): 2}
    assert answers.labellers(home.connect()) == ["import"]


def test_explicit_label_and_labeller(home, library_dir):
    ingest(home, [library_dir / "not_a_banger"], label="banger", labeller="tom")
    assert verdicts(home) == {("tone", "banger"): 2}
    assert answers.labellers(home.connect()) == ["tom"]


def test_files_outside_label_folders_stay_unlabelled(home, tmp_path):
    path = write_audio(tmp_path / "loose" / "a.wav", tone(seconds=10.0))
    ingest(home, [path])
    assert verdicts(home) == {("a", None): 2}


def test_unknown_label_is_refused(home, library_dir):
    with pytest.raises(HaverfordError, match="unknown label 'bangers'"):
        ingest(home, [library_dir], label="bangers")


def test_reimporting_and_duplicates_under_other_names_add_nothing(home, library_dir, tmp_path):
    ingest(home, [library_dir])
    copy = tmp_path / "copy of kick.wav"
    copy.write_bytes((library_dir / "banger" / "kick 128.wav").read_bytes())
    report = ingest(home, [library_dir, copy])
    assert report.tracks_added == 0 and len(report.skipped) == 4
    assert home.connect().execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 3
    assert home.connect().execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 7


def test_one_bad_file_never_stops_the_others(home, library_dir):
    (library_dir / "banger" / "broken.wav").write_text("not audio")
    write_audio(library_dir / "banger" / "short.wav", tone(seconds=1.0))
    (library_dir / "banger" / "empty.flac").write_bytes(b"")
    report = ingest(home, [library_dir, library_dir / "missing.wav"])
    assert report.tracks_added == 3
    errors = {e["path"].rsplit("/", 1)[-1]: e["error"] for e in report.errors}
    assert errors.keys() == {"broken.wav", "short.wav", "empty.flac", "missing.wav"}
    assert "too short" in errors["short.wav"] and "empty file" in errors["empty.flac"]
    assert errors["missing.wav"] == "no such file or folder"


def test_a_failed_file_leaves_nothing_half_written(home, tmp_path):
    y = tone(seconds=12.0)
    y[22050 * 11] = np.nan  # in the second segment: the first was already featurised
    write_audio(tmp_path / "nan.wav", y, subtype="FLOAT")
    report = ingest(home, [tmp_path / "nan.wav"])
    assert report.tracks_added == 0 and "NaN" in report.errors[0]["error"]
    database = home.connect()
    assert [database[t].count for t in ("tracks", "segments", "features", "answers")] == [0, 0, 0, 0]
    assert list(home.store.root.rglob("*.npy")) == []  # rglob of a missing folder is empty too


def test_stored_features_read_back_without_decoding(home, library_dir):
    ingest(home, [library_dir])
    database = home.connect()
    ids = [r[0] for r in database.execute("SELECT id FROM segments ORDER BY id DESC")]
    locations = tracks.segment_locations(database, ids, "log_mel")
    stored = home.store.read(locations, "log_mel")
    assert stored.shape == (7, 128, 216) and stored.dtype == np.float16
    from haverford.core import audio

    first = database.execute("SELECT t.path FROM tracks t JOIN segments s ON s.track_id = t.id "
                             "WHERE s.id = ?", [ids[0]]).fetchone()[0]
    last_segment = list(audio.iter_segments(first, batch=64))[-1][-1]
    np.testing.assert_allclose(stored[0].astype(np.float32), features.log_mel(last_segment)[0], atol=0.1)


def test_missing_features_are_computed_later_from_the_audio(home, library_dir):
    ingest(home, [library_dir])
    database = home.connect()
    assert len(tracks.tracks_missing_feature(database, "log_stft")) == 3
    report = compute_missing(home, "log_stft")
    assert report.errors == [] and report.segments_added == 7
    ids = [r[0] for r in database.execute("SELECT id FROM segments")]
    assert home.store.read(tracks.segment_locations(database, ids, "log_stft"), "log_stft").shape == (7, 1025, 216)


def test_reading_a_feature_that_is_not_stored_says_what_to_do(home, library_dir):
    ingest(home, [library_dir])
    database = home.connect()
    ids = [r[0] for r in database.execute("SELECT id FROM segments")]
    with pytest.raises(HaverfordError, match="haverford features --feature percussive_mel"):
        home.store.read(tracks.segment_locations(database, ids, "percussive_mel"), "percussive_mel")


def test_the_same_audio_twice_in_one_import_is_stored_once(home, library_dir, tmp_path):
    original = library_dir / "banger" / "kick 128.wav"
    twin = tmp_path / "twin.wav"
    twin.write_bytes(original.read_bytes())
    report = ingest(home, [original, twin], workers=2)
    assert report.tracks_added == 1 and report.errors == []
    assert [s["reason"] for s in report.skipped] == ["already in the library (same content)"]


def test_a_file_that_vanishes_before_it_is_read_is_reported_and_the_rest_imported(home, library_dir, monkeypatch):
    from haverford.core import analyse

    gone = library_dir / "banger" / "kick 140.flac"
    real_hash = analyse.content_hash

    def flaky_hash(path):
        if path == gone.resolve():
            raise FileNotFoundError(2, "No such file or directory")
        return real_hash(path)

    monkeypatch.setattr(analyse, "content_hash", flaky_hash)
    report = ingest(home, [library_dir])
    assert report.tracks_added == 2
    assert report.errors == [{"path": str(gone.resolve()), "error": "cannot read the file (No such file or directory)"}]


def test_reimporting_into_an_existing_library_decodes_nothing(home, library_dir, monkeypatch):
    import contextlib
    from concurrent.futures import ThreadPoolExecutor

    from haverford.core import analyse, pool

    ingest(home, [library_dir])
    decoded = []
    real = analyse.analyse_file

    def counting(path, **kwargs):
        decoded.append(path)
        return real(path, **kwargs)

    monkeypatch.setattr(analyse, "analyse_file", counting)
    monkeypatch.setattr(pool, "worker_pool", lambda workers: contextlib.nullcontext(ThreadPoolExecutor(workers)))
    report = ingest(home, [library_dir])
    assert (report.tracks_added, len(report.skipped), decoded) == (0, 3, [])
