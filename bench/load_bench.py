"""Load benchmark: labeller sessions against one ``haverford serve`` while a Retrain and an import run.

Builds a demo library in a temporary home, gives it an admin and one account per session,
starts ``haverford serve`` on loopback, then drives every session through Streamlit's own
websocket protocol (the BackMsg/ForwardMsg protobufs a browser sends and receives): each
session arrives with its login cookie, opens the Label page and presses **Banger** / **Not a
banger** after a think time, as a labeller would. Meanwhile a Retrain (``fast`` preset) runs in
its worker process and ``haverford ingest`` imports generated tracks.

    python bench/load_bench.py                         # 20 sessions, 300 s, think 3 s
    python bench/load_bench.py --sessions 2 --seconds 20 --import-tracks 2   # a smoke run

Bounded: at most 50 sessions and 600 s, loopback only. Prints one JSON document on stdout:
saves per minute, save latency p50/p95 (button press → the server's ``script_finished``),
answers lost (saves the page confirmed that the database does not hold), errors shown to
users (error alerts and exceptions), the server's memory (VmRSS and peak VmHWM of the
Streamlit process), and what the Retrain and the import did.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf
import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from haverford.core import accounts, jobs
from haverford.core.accounts import OPERATOR, acting_as
from haverford.core.home import Home
from haverford.core.synth import make_library
from haverford.dashboard.access import COOKIE
from haverford.db import runs as runs_db

MAX_SESSIONS, MAX_SECONDS = 50, 600
PASSWORD = "load bench password"
HAVERFORD = str(Path(sys.executable).with_name("haverford"))


@dataclass
class Session:
    """One labeller's websocket session and what it saw."""

    name: str
    token: str
    latencies: list[float] = field(default_factory=list)
    confirmed: int = 0
    errors: list[str] = field(default_factory=list)
    buttons: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the library, the accounts, the server ---------------------------------------------------

def build_home(root: Path, *, tracks: int, sessions: int) -> tuple[Home, list[tuple[str, str]]]:
    """A demo library with one admin and ``sessions`` labeller accounts; returns (home, [(name, token)])."""
    home = Home(root / "home")
    subprocess.run([HAVERFORD, "demo", "--no-serve", "--tracks", str(tracks), "--home", str(home.path)],
                   check=True, stdout=subprocess.DEVNULL)
    db = home.connect()
    people = []
    with acting_as(OPERATOR):
        accounts.add_user(db, "admin", PASSWORD, admin=True)
        for i in range(sessions):
            user = accounts.add_user(db, f"labeller{i:02d}", PASSWORD)
            people.append((user["name"], accounts.issue_token(db, user)))
    db.close()
    return home, people


def write_import_tracks(folder: Path, n: int) -> Path:
    """``n`` generated demo-style tracks (60 s each) for the concurrent import."""
    folder.mkdir(parents=True)
    for i, track in enumerate(make_library(n, seed=1234, min_s=60.0, max_s=60.0)):
        sf.write(folder / f"import-{i:02d}.wav", track.y, track.sr, subtype="PCM_16")
    return folder


def start_server(home: Home, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([HAVERFORD, "serve", "--port", str(port), "--home", str(home.path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise RuntimeError("the dashboard did not start within 60 s")


def stop(proc: subprocess.Popen) -> None:
    """End a process group this benchmark started."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of ``pid`` and of its descendants, from /proc, in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def streamlit_pid(serve_pid: int) -> int:
    """``haverford serve`` runs Streamlit as its child."""
    children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split()
    return int(children[0]) if children else serve_pid


# --- the websocket protocol ----------------------------------------------------------------

def rerun_msg(*, page: str, trigger: str | None = None) -> bytes:
    msg = BackMsg()
    msg.rerun_script.page_name = page
    if trigger:
        state = msg.rerun_script.widget_states.widgets.add()
        state.id = trigger
        state.trigger_value = True
    return msg.SerializeToString()


async def run_once(ws, session: Session, payload: bytes) -> float:
    """Send one rerun and read until the script finishes; returns the seconds it took."""
    started = time.perf_counter()
    await ws.send(payload)
    while True:
        msg = ForwardMsg()
        msg.ParseFromString(await asyncio.wait_for(ws.recv(), timeout=120))
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            see(session, msg.delta.new_element)
        elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return time.perf_counter() - started


def see(session: Session, element) -> None:
    kind = element.WhichOneof("type")
    if kind == "button":
        session.buttons[element.button.id.rsplit("-", 1)[-1]] = element.button.id
    elif kind == "exception":
        session.errors.append(f"exception: {element.exception.message[:200]}")
    elif kind == "alert" and element.alert.format == Alert.ERROR:
        session.errors.append(element.alert.body[:200])
    elif kind == "alert" and element.alert.format == Alert.SUCCESS and element.alert.body.startswith("Saved"):
        session.confirmed += 1


async def label(session: Session, url: str, *, until: float, think: float) -> None:
    """One labeller: open the Label page, then press a verdict button after each think time."""
    headers = {"Cookie": f"{COOKIE}={session.token}", "Origin": url.replace("ws://", "http://").split("/_stcore")[0]}
    async with websockets.connect(url, subprotocols=["streamlit"], additional_headers=headers,
                                  max_size=2**26, open_timeout=60) as ws:
        await run_once(ws, session, rerun_msg(page="label"))
        verdicts = ["label_banger", "label_not"]
        while time.monotonic() < until:
            await asyncio.sleep(think * random.uniform(0.5, 1.5))
            button = session.buttons.get(random.choice(verdicts))
            if button is None:
                session.errors.append("no verdict button on the Label page")
                return
            session.buttons.clear()
            session.latencies.append(await run_once(ws, session, rerun_msg(page="label", trigger=button)))


async def drive(people: list[tuple[str, str]], port: int, *, seconds: float, think: float) -> list[Session]:
    sessions = [Session(name, token) for name, token in people]
    until = time.monotonic() + seconds
    url = f"ws://127.0.0.1:{port}/_stcore/stream"
    results = await asyncio.gather(*(label(s, url, until=until, think=think) for s in sessions),
                                   return_exceptions=True)
    for s, r in zip(sessions, results, strict=False):
        if isinstance(r, BaseException):
            s.errors.append(f"session failed: {type(r).__name__}: {r}")
    return sessions


# --- the run -------------------------------------------------------------------------------

def saved_in_db(home: Home) -> dict[str, int]:
    db = home.connect()
    rows = db.execute("""SELECT a.labeller, COUNT(*) FROM answers a JOIN questions q ON q.id = a.question_id
                         WHERE q.role = 'verdict' AND a.labeller LIKE 'labeller%' GROUP BY a.labeller""")
    out = dict(rows.fetchall())
    db.close()
    return out


def background_work(home: Home, import_dir: Path) -> tuple[int, subprocess.Popen]:
    with acting_as(OPERATOR):
        run_id = jobs.start_run(home, {"preset": "fast", "seed": 0}, created_by="load bench")
    ingest = subprocess.Popen([HAVERFORD, "ingest", str(import_dir), "--home", str(home.path), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    return run_id, ingest


def finish_retrain(home: Home, run_id: int, *, wait_s: float) -> dict:
    """The Retrain's state; cancelled (and reported so) when it is still going after ``wait_s``."""
    db = home.connect()
    deadline = time.monotonic() + wait_s
    while runs_db.get_run(db, run_id)["status"] not in runs_db.FINISHED and time.monotonic() < deadline:
        time.sleep(2)
    run = runs_db.get_run(db, run_id)
    out = {"status": run["status"], "error": run["error"]}
    if run["status"] not in runs_db.FINISHED:
        runs_db.request_cancel(db, run_id)
        out["status"] = f"still {run['status']} at the end: cancelled"
        _wait_or_kill(db, run_id)
    db.close()
    return out


def _wait_or_kill(db, run_id: int) -> None:
    """The cancelled worker stops at its next step; one that has not within 60 s is killed."""
    deadline = time.monotonic() + 60
    while runs_db.get_run(db, run_id)["status"] not in runs_db.FINISHED and time.monotonic() < deadline:
        time.sleep(1)
    pid = runs_db.get_run(db, run_id)["pid"]
    if pid and Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)


def report(sessions: list[Session], in_db: dict[str, int], *, seconds: float) -> dict:
    latencies = sorted(x for s in sessions for x in s.latencies)
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {"sessions": len(sessions), "seconds": seconds, "saves": len(latencies),
            "saves_per_minute": round(len(latencies) / seconds * 60, 1),
            "save_latency_p50_s": round(q[49], 3), "save_latency_p95_s": round(q[94], 3),
            "confirmed_saves": sum(s.confirmed for s in sessions),
            "answers_lost": sum(max(0, s.confirmed - in_db.get(s.name, 0)) for s in sessions),
            "errors_shown": sum(len(s.errors) for s in sessions),
            "error_examples": sorted({e for s in sessions for e in s.errors})[:5]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--think", type=float, default=3.0, help="mean seconds between a labeller's saves")
    parser.add_argument("--tracks", type=int, default=24, help="demo library size")
    parser.add_argument("--import-tracks", type=int, default=12, help="tracks imported during the run")
    args = parser.parse_args()
    if not (1 <= args.sessions <= MAX_SESSIONS and 1 <= args.seconds <= MAX_SECONDS):
        parser.error(f"--sessions must be 1-{MAX_SESSIONS} and --seconds 1-{MAX_SECONDS}")
    with tempfile.TemporaryDirectory(prefix="haverford-load-") as tmp:
        log(f"building a {args.tracks}-track demo library and {args.sessions} accounts")
        home, people = build_home(Path(tmp), tracks=args.tracks, sessions=args.sessions)
        import_dir = write_import_tracks(Path(tmp) / "import", args.import_tracks)
        port = free_port()
        server = start_server(home, port)
        ingest = None
        try:
            run_id, ingest = background_work(home, import_dir)
            log(f"Retrain run {run_id} and an import of {args.import_tracks} tracks started; "
                f"{args.sessions} sessions for {args.seconds:.0f} s")
            sessions = asyncio.run(drive(people, port, seconds=args.seconds, think=args.think))
            memory = memory_kb(streamlit_pid(server.pid))
            imported = ingest.communicate(timeout=600)[0]
            retrain = finish_retrain(home, run_id, wait_s=60)
        finally:
            stop(server)
            if ingest is not None:
                stop(ingest)
        out = report(sessions, saved_in_db(home), seconds=args.seconds)
        out |= {"server_rss_mb": round(memory["VmRSS"] / 1024), "server_peak_rss_mb": round(memory["VmHWM"] / 1024),
                "think_s": args.think, "retrain": retrain,
                "import": {k: v for k, v in json.loads(imported or "{}").items() if k in ("tracks_added", "seconds")}}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
