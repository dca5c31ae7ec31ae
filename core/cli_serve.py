"""``haverford demo`` and ``haverford serve``: build the demo library with its first model, and
run the Streamlit dashboard in the foreground. Registered in ``core.cli.COMMANDS``.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
from importlib import resources
from pathlib import Path

from haverford.core.cli_library import one_blas_thread
from haverford.core.cli_models import TRAIN_KEYS, train_text
from haverford.core.cli_output import FileProgress, TqdmReporter, print_result
from haverford.core.cli_types import port, positive_int
from haverford.core.config import HOME_ENV, max_upload_mb
from haverford.core.errors import HaverfordError
from haverford.core.vocabulary import plural

DEFAULT_DEMO_TRACKS = 40  # core.demo.DEFAULT_TRACKS, without importing the demo's dependencies


# --- demo ---------------------------------------------------------------------------------

def configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-serve", action="store_true", help="only build the demo library (and its first model)")
    p.add_argument("--no-train", action="store_true", help="do not train the first model")
    p.add_argument("--tracks", type=positive_int, default=DEFAULT_DEMO_TRACKS,
                   help=f"number of tracks (default {DEFAULT_DEMO_TRACKS})")
    p.add_argument("--seed", type=int, help="random seed of the generator and the first model (default: the seed "
                                            "the home's demo was built with, else 0)")
    p.add_argument("--port", type=port, default=8501, help="dashboard port (default 8501)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> dict | None:
    one_blas_thread()
    from haverford.core.demo import build_demo, built_seed
    from haverford.core.home import Home

    if not args.no_serve:  # before minutes of building and training, not after
        _check_port_free("localhost", args.port)
    home = Home(args.home)
    seed = args.seed if args.seed is not None else built_seed(home) or 0
    with FileProgress("demo", unit="file") as progress:
        out = build_demo(home, n_tracks=args.tracks, seed=seed, progress=progress)
    if not args.no_train:
        out["model"] = _first_model(home, seed=seed)
    if not args.no_serve:
        print_result(out, as_json=args.json, text=demo_text)
        serve(home.path, port=args.port)
        return None
    return out


def _first_model(home, *, seed: int) -> dict | None:
    """Train the demo's first model (progress on stderr); None, with a note, when it cannot."""
    from haverford.core.demo import needs_first_model, train_first_model

    if not needs_first_model(home):
        print("a model is already active: not training another", file=sys.stderr)
        return None
    print("training the first model (the Retrain job, default preset)", file=sys.stderr)
    try:
        with TqdmReporter() as reporter:
            summary = train_first_model(home, seed=seed, reporter=reporter)
    except HaverfordError as exc:  # e.g. --tracks 2: too little to train; the library is still built
        print(f"haverford: no first model: {exc}", file=sys.stderr)
        return None
    return {k: summary.get(k) for k in TRAIN_KEYS}


def demo_text(out: dict) -> str:
    text = (f"demo library in {out['home']}: {plural(out['tracks'], 'track')}, {out['segments']} segments, "
            f"{out['answers_added']} simulated answers added ({out['seconds']:.1f} s)")
    if out.get("model"):
        text += "\n" + train_text(out["model"])
    return text


# --- serve --------------------------------------------------------------------------------

def configure_serve(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=port, default=8501, help="port (default 8501)")
    p.add_argument("--host", default="localhost", help="address to listen on (default localhost)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> None:
    from haverford.core.home import Home

    serve(Home(args.home).path, port=args.port, host=args.host)


def serve(home: Path, *, port: int, host: str = "localhost") -> None:
    """Run the Streamlit dashboard on ``home`` in the foreground until interrupted.

    Raises
    ------
    HaverfordError
        When the port is taken, or the dashboard process stops with an error status.
    """
    _check_port_free(host, port)
    # Streamlit's command line, started with the Label page's imports and tempo worker warming up
    cmd = [sys.executable, "-m", "haverford.dashboard.server", "run", str(dashboard_app()), "--server.port", str(port),
           "--server.address", host, "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.maxUploadSize", str(max_upload_mb()),
           # a product, not a notebook: no Deploy button, no developer menu (rerun, clear cache)
           "--client.toolbarMode", "viewer",
           # no full garbage collection after every rerun: it held the GIL ~90 ms per verdict key
           "--runner.postScriptGC", "false"]
    print(f"Haverford dashboard on http://{host}:{port} (home: {home}); Ctrl-C stops it", file=sys.stderr)
    proc = subprocess.Popen(cmd, env={**os.environ, HOME_ENV: str(home)})
    # `kill` (SIGTERM) of this process, or its terminal closing (SIGHUP), stops the dashboard too,
    # instead of leaving it serving
    previous = {sig: signal.signal(sig, lambda *_: proc.terminate()) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code not in (0, -1, -2, -15, 130):
        raise HaverfordError(f"the dashboard stopped with exit status {code}")


def _check_port_free(host: str, port: int) -> None:
    """One line before Streamlit starts, instead of its three when the port is taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Streamlit's server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                return  # e.g. an IPv6 host: Streamlit reports what it finds
            raise HaverfordError(f"port {port} on {host} is not available ({exc.strerror}); stop what uses it "
                                 "or choose another with --port") from None


def dashboard_app() -> Path:
    """The installed ``haverford/dashboard/app.py``, found through the package's resources."""
    # haverford.dashboard's __init__ is a docstring: this loads no Streamlit into core
    return Path(str(resources.files("haverford.dashboard").joinpath("app.py")))
