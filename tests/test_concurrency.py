"""Many labellers at once, while a Retrain runs and an ingest imports a folder: nothing is lost.

Label Studio on SQLite fails with "database is locked" under a modest upload; Haverford's
writes are short IMMEDIATE transactions with a busy timeout and retries, and WAL lets reads
go on beside them.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import subprocess
import sys
import time

import pytest
from _train_home import copy_home
from conftest import clicks, tone, write_audio

import haverford.db as dbm
from haverford.core import jobs
from haverford.core.home import Home
from haverford.core.presets import TrainConfig
from haverford.db import answers, questions

LABELLERS = 8
SAVES = 500


def label_as_fast_as_possible(db_path: str, labeller: str, saves: int, queue) -> None:
    """One labeller process: ``saves`` labelling forms (every question) on random segments."""
    import haverford.db.connection as connection

    database = dbm.connect(db_path)
    ids = {q["key"]: q["id"] for q in questions.list_questions(database)}
    segment_ids = [r[0] for r in database.execute("SELECT id FROM segments")]
    rng = random.Random(labeller)
    stored, errors = 0, []
    for i in range(saves):
        values = {ids["bpm"]: rng.randint(60, 180), ids["drops"]: 1, ids["drop_dopeness"]: 7,
                  ids["acoustic"]: 0, ids["verdict"]: rng.choice(["banger", "not_a_banger"])}
        try:
            answers.save_answers(database, [rng.choice(segment_ids)], labeller, values, note=f"save {i}")
            stored += 1
        except Exception as exc:  # noqa: BLE001 - the test reports every failure a user would see
            errors.append(f"{type(exc).__name__}: {exc}")
    queue.put({"labeller": labeller, "stored": stored, "errors": errors, "retries": connection.retry_count})


@pytest.mark.slow
def test_eight_labellers_a_retrain_and_an_ingest_at_once(train_template, tmp_path):
    home = copy_home(train_template, tmp_path)
    run_id = jobs.start_run(home, TrainConfig(preset="tiny", epochs=3), created_by="stress")
    for i in range(6):
        write_audio(tmp_path / "more" / "banger" / f"more-{i}.wav", clicks(150 + i, seconds=12.0))
        write_audio(tmp_path / "more" / "not_a_banger" / f"more-{i}.wav", tone(500 + 7 * i, seconds=12.0))
    ingest = subprocess.Popen([sys.executable, "-m", "haverford.core.cli", "ingest", str(tmp_path / "more"),
                               "--home", str(home.path), "--json"], stdout=subprocess.PIPE, text=True)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=label_as_fast_as_possible, args=(str(home.db_path), f"labeller-{i}", SAVES, queue))
               for i in range(LABELLERS)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
    ingest_out = json.loads(ingest.communicate(timeout=300)[0])
    run = _wait_for_run(home, run_id)

    database = home.connect()
    assert [r["errors"] for r in results] == [[]] * LABELLERS
    assert sum(r["stored"] for r in results) == LABELLERS * SAVES
    stored = database.execute("SELECT COUNT(*) FROM answers WHERE labeller LIKE 'labeller-%'").fetchone()[0]
    assert stored == LABELLERS * SAVES * 5
    assert (ingest_out["tracks_added"], ingest_out["errors"]) == (12, [])
    assert run["status"] == "succeeded", run.get("error")
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    print(f"\nstress: {LABELLERS * SAVES} saves attempted, {stored // 5} stored, "
          f"{sum(r['retries'] for r in results)} busy retries, run {run['status']}")


def _wait_for_run(home: Home, run_id: int, *, timeout_s: float = 600) -> dict:
    from haverford.db import runs as runs_db

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        run = runs_db.get_run(home.connect(), run_id)
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s} s")
