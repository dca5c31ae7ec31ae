"""Training runs: one row per Retrain, its state machine, heartbeat, cancel flag and curves.

States: ``queued`` → ``running`` → ``succeeded`` | ``failed`` | ``cancelled``. At most one run
is queued or running at a time; ``create_run`` checks and inserts in one write transaction so two
clicks in two browsers cannot both start one.
"""

from __future__ import annotations

import json

import sqlite_utils

from haverford.db.connection import now, write

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")


def active_run(db: sqlite_utils.Database) -> dict | None:
    """The queued or running run, or None."""
    rows = list(db.query("SELECT * FROM training_runs WHERE status IN ('queued', 'running') "
                         "ORDER BY id LIMIT 1"))
    return rows[0] if rows else None


def create_run(db: sqlite_utils.Database, config: dict, *, created_by: str | None,
               kind: str = "train") -> tuple[int | None, int | None]:
    """Insert a queued run unless one is going: returns ``(new_id, None)`` or ``(None, going_id)``."""
    with write(db):
        going = active_run(db)
        if going:
            return None, going["id"]
        row = {"kind": kind, "status": "queued", "config": json.dumps(config, sort_keys=True),
               "created_by": created_by, "created_at": now(), "heartbeat_at": now()}
        return db.table("training_runs").insert(row).last_pk, None


def get_run(db: sqlite_utils.Database, run_id: int) -> dict | None:
    """One run with ``config`` and ``progress`` decoded, or None."""
    rows = list(db.query("SELECT * FROM training_runs WHERE id = ?", [run_id]))
    return _decode(rows[0]) if rows else None


def list_runs(db: sqlite_utils.Database, *, limit: int = 20, kind: str | None = None) -> list[dict]:
    """The latest runs (of one ``kind``, or of every kind), newest first."""
    rows = db.query("SELECT * FROM training_runs WHERE :kind IS NULL OR kind = :kind ORDER BY id DESC LIMIT :limit",
                    {"kind": kind, "limit": int(limit)})
    return [_decode(r) for r in rows]


def _decode(row: dict) -> dict:
    row["config"] = json.loads(row["config"] or "{}")
    row["progress"] = json.loads(row["progress"]) if row["progress"] else None
    return row


def mark_running(db: sqlite_utils.Database, run_id: int, *, pid: int) -> bool:
    """Move a queued run to running under ``pid``; False when it is no longer queued."""
    stamp = now()
    cur = db.execute("UPDATE training_runs SET status = 'running', pid = ?, started_at = ?, "
                     "heartbeat_at = ? WHERE id = ? AND status = 'queued'", [pid, stamp, stamp, run_id])
    return cur.rowcount == 1


def set_pid(db: sqlite_utils.Database, run_id: int, pid: int) -> None:
    """Record the worker's process id (set by the launcher, before the worker starts)."""
    db.execute("UPDATE training_runs SET pid = ? WHERE id = ? AND pid IS NULL", [pid, run_id])


def heartbeat(db: sqlite_utils.Database, run_id: int, *, progress: dict | None = None,
              epoch: int | None = None) -> bool:
    """Refresh the heartbeat (and progress, epoch); returns whether a cancel was requested."""
    db.execute("UPDATE training_runs SET heartbeat_at = ?, progress = COALESCE(?, progress), "
               "epoch = COALESCE(?, epoch) WHERE id = ?",
               [now(), json.dumps(progress) if progress is not None else None, epoch, run_id])
    return cancel_requested(db, run_id)


def cancel_requested(db: sqlite_utils.Database, run_id: int) -> bool:
    """Whether someone asked to cancel the run."""
    row = db.execute("SELECT cancel_requested FROM training_runs WHERE id = ?", [run_id]).fetchone()
    return bool(row and row[0])


def request_cancel(db: sqlite_utils.Database, run_id: int) -> bool:
    """Ask a queued or running run to stop; False when it has already finished."""
    cur = db.execute("UPDATE training_runs SET cancel_requested = 1 WHERE id = ? "
                     "AND status IN ('queued', 'running')", [run_id])
    return cur.rowcount == 1


def record_epoch(db: sqlite_utils.Database, run_id: int, epoch: int, metrics: dict) -> None:
    """Store one epoch's metrics (loss, accuracy, val_loss, ...) and bump the run's epoch."""
    with write(db):
        db.table("run_metrics").upsert({"run_id": run_id, "epoch": epoch, "metrics": json.dumps(metrics),
                                  "created_at": now()}, pk=("run_id", "epoch"))
        db.execute("UPDATE training_runs SET epoch = ?, heartbeat_at = ? WHERE id = ?",
                   [epoch, now(), run_id])


def run_metrics(db: sqlite_utils.Database, run_id: int) -> list[dict]:
    """Per-epoch metrics of a run, oldest first: ``{"epoch": n, **metrics}``."""
    rows = db.execute("SELECT epoch, metrics FROM run_metrics WHERE run_id = ? ORDER BY epoch",
                      [run_id])
    return [{"epoch": epoch, **json.loads(metrics)} for epoch, metrics in rows]


def finish_run(db: sqlite_utils.Database, run_id: int, status: str, *, error: str | None = None,
               model_id: int | None = None) -> bool:
    """Mark a queued or running run finished; False if it was already finished."""
    if status not in FINISHED:
        raise ValueError(f"not a final status: {status!r}")
    cur = db.execute("UPDATE training_runs SET status = ?, error = ?, model_id = COALESCE(?, model_id), "
                     "finished_at = ? WHERE id = ? AND status IN ('queued', 'running')",
                     [status, error, model_id, now(), run_id])
    return cur.rowcount == 1
