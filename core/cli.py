"""The ``haverford`` command line: a stable contract that outside scripts call (DESIGN.md).

Every command takes ``--home DIR``; with ``--json`` it prints exactly one JSON document on
stdout, progress and logs go to stderr. Exit 0 on success, 1 for a user error (one line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from haverford.core import cli_eval, cli_models, cli_team
from haverford.core.cli_types import port, positive_int
from haverford.core.config import DEFAULT_FEATURE, HOME_ENV, LABELS, max_upload_mb
from haverford.core.errors import HaverfordError
from haverford.core.identity import OPERATOR, acting_as

DEFAULT_DEMO_TRACKS = 40  # core.demo.DEFAULT_TRACKS, without importing the demo's dependencies


class UsageError(HaverfordError):
    """Bad command-line arguments."""


class NothingProcessed(HaverfordError):
    """A batch command (ingest, predict) processed no file: exit 1, with its JSON all the same."""

    def __init__(self, message: str, out: dict):
        super().__init__(message)
        self.out = out


def nothing_processed(command: str, out: dict) -> NothingProcessed:
    """The one-line error of a batch that did nothing: the first error says why."""
    first = (out.get("errors") or [{}])[0]
    why = f"{first['path']}: {first['error']}" if first else "no audio file found in the paths given"
    more = len(out.get("errors") or []) - 1
    return NothingProcessed(f"{command}: nothing processed; {why}" + (f" (and {more} more errors)" if more > 0 else ""),
                            out)


class Parser(argparse.ArgumentParser):
    """argparse with the contract's exit status: 1 and one line for any user error."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _common() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--home", help=f"data home (default: ${HOME_ENV}, else ./haverford-data)")
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return common


def build_parser() -> Parser:
    """The full argument parser; each subcommand sets ``func``."""
    parser = Parser(prog="haverford", description="Is it a banger? Label music, train, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    common = _common()
    for name, (helptext, configure) in COMMANDS.items():
        configure(sub.add_parser(name, parents=[common], help=helptext, description=helptext))
    return parser


# --- ingest -------------------------------------------------------------------------------

def _configure_ingest(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders (recursive)")
    p.add_argument("--label", choices=LABELS, help="label every imported segment with this verdict")
    p.add_argument("--labeller", default="import", help="who the labels are from (default: import)")
    p.add_argument("--feature", action="append", dest="features", metavar="NAME",
                   help=f"features to compute now (repeatable; default: {DEFAULT_FEATURE})")
    p.set_defaults(func=cmd_ingest)


def _one_blas_thread() -> None:
    """Ingest runs one worker process per core; OpenBLAS threads on top only spin.

    numpy and scipy each start an OpenBLAS thread pool when imported, and its threads
    busy-wait: 0.25 s of CPU per ingest taken from the workers. This must run before numpy is
    first imported; an ``OPENBLAS_NUM_THREADS`` set by the user wins.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def cmd_ingest(args) -> dict:
    _one_blas_thread()
    from haverford.core.home import Home
    from haverford.core.ingest import ingest
    from haverford.core.predict import score_tracks

    home = Home(args.home)
    with _progress("ingest", unit="file", quiet=False) as progress:
        report = ingest(home, args.paths, label=args.label, labeller=_name(args.labeller),
                        feature_names=args.features or [DEFAULT_FEATURE], progress=progress)
    score_tracks(home, report.track_ids)  # new tracks get the active model's scores at once
    out = _report_json(report)
    if not report.processed:
        raise nothing_processed("ingest", out)
    return out


def _report_json(report) -> dict:
    out = report.to_json()
    for internal in ("track_ids", "known"):
        out.pop(internal)
    out["audio_seconds"] = round(out["audio_seconds"], 3)
    return out


def _ingest_text(out: dict) -> str:
    lines = [f"imported {out['tracks_added']} tracks ({out['segments_added']} segments, "
             f"{out['silent_segments']} of them silent, {out['audio_seconds'] / 60:.1f} min of audio) "
             f"in {out['seconds']:.1f} s"]
    lines += [f"moved {m['from']} -> {m['to']}" for m in out["moved"]]
    lines += [f"truncated {t['path']}: {t['reason']}" for t in out["truncated"]]
    lines += [f"conflict {c['path']}: {c['reason']}" for c in out["conflicts"]]
    lines += [f"skipped {s['path']}: {s['reason']}" for s in out["skipped"]]
    lines += [f"error {e['path']}: {e['error']}" for e in out["errors"]]
    return "\n".join(lines)


# --- relocate -------------------------------------------------------------------------------

def _configure_relocate(p: argparse.ArgumentParser) -> None:
    p.add_argument("old_dir", metavar="OLD_DIR", help="the folder the music was imported from")
    p.add_argument("new_dir", metavar="NEW_DIR", help="the folder it is in now")
    p.set_defaults(func=cmd_relocate)


def cmd_relocate(args) -> dict:
    from haverford.core.home import Home
    from haverford.core.ingest import relocate

    return relocate(Home(args.home, create=False), args.old_dir, args.new_dir)


def _relocate_text(out: dict) -> str:
    lines = [f"{out['moved']} tracks now point at their new place"]
    lines += [f"not found {p}" for p in out["missing"]]
    lines += [f"content differs, left alone {p}" for p in out["changed"]]
    return "\n".join(lines)


# --- features -----------------------------------------------------------------------------

def _configure_features(p: argparse.ArgumentParser) -> None:
    p.add_argument("--feature", default=DEFAULT_FEATURE, help="feature to compute where missing")
    p.set_defaults(func=cmd_features)


def cmd_features(args) -> dict:
    _one_blas_thread()
    from haverford.core.home import Home
    from haverford.core.ingest import compute_missing

    with _progress(f"features {args.feature}", unit="track", quiet=False) as progress:
        report = compute_missing(Home(args.home, create=False), args.feature, progress=progress)
    return {"feature": args.feature, "tracks": len(report.track_ids),
            "segments": report.segments_added, "errors": report.errors, "seconds": report.seconds}


# --- demo, serve ----------------------------------------------------------------------------

def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-serve", action="store_true", help="only build the demo library (and its first model)")
    p.add_argument("--no-train", action="store_true", help="do not train the first model")
    p.add_argument("--tracks", type=positive_int, default=DEFAULT_DEMO_TRACKS,
                   help=f"number of tracks (default {DEFAULT_DEMO_TRACKS})")
    p.add_argument("--seed", type=int, default=0, help="random seed of the generator and the first model (default 0)")
    p.add_argument("--port", type=port, default=8501, help="dashboard port (default 8501)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> dict | None:
    _one_blas_thread()
    from haverford.core.demo import build_demo
    from haverford.core.home import Home

    home = Home(args.home)
    with _progress("demo", unit="file", quiet=False) as progress:
        out = build_demo(home, n_tracks=args.tracks, seed=args.seed, progress=progress)
    if not args.no_train:
        out["model"] = _first_model(home, seed=args.seed)
    if not args.no_serve:
        _print_result(args, out, _demo_text)
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
        with cli_models.TqdmReporter() as reporter:
            summary = train_first_model(home, seed=seed, reporter=reporter)
    except HaverfordError as exc:  # e.g. --tracks 2: too little to train; the library is still built
        print(f"haverford: no first model: {exc}", file=sys.stderr)
        return None
    return {k: summary.get(k) for k in cli_models.TRAIN_KEYS}


def _demo_text(out: dict) -> str:
    text = (f"demo library in {out['home']}: {out['tracks']} tracks, {out['segments']} segments, "
            f"{out['answers_added']} simulated answers added ({out['seconds']:.1f} s)")
    if out.get("model"):
        text += "\n" + cli_models.train_text(out["model"])
    return text


def _configure_serve(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=port, default=8501, help="port (default 8501)")
    p.add_argument("--host", default="localhost", help="address to listen on (default localhost)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> None:
    from haverford.core.home import Home

    serve(Home(args.home).path, port=args.port, host=args.host)


def serve(home: Path, *, port: int, host: str = "localhost") -> None:
    """Run the Streamlit dashboard on ``home`` in the foreground until interrupted."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(dashboard_app()), "--server.port", str(port),
           "--server.address", host, "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.maxUploadSize", str(max_upload_mb()),
           # a product, not a notebook: no Deploy button, no developer menu (rerun, clear cache)
           "--client.toolbarMode", "viewer"]
    print(f"Haverford dashboard on http://{host}:{port} (home: {home}); Ctrl-C stops it", file=sys.stderr)
    proc = subprocess.Popen(cmd, env={**os.environ, HOME_ENV: str(home)})
    # `kill` (SIGTERM) of this process stops the dashboard too, instead of leaving it serving
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code not in (0, -2, -15, 130):
        raise HaverfordError(f"the dashboard stopped with exit status {code}")


def dashboard_app() -> Path:
    """The installed ``haverford/dashboard/app.py``, found through the package's resources."""
    # haverford.dashboard's __init__ is a docstring: this loads no Streamlit into core
    return Path(str(resources.files("haverford.dashboard").joinpath("app.py")))


# --- export ---------------------------------------------------------------------------------

def _configure_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", metavar="OUT", help="file to write")
    p.add_argument("--format", choices=("csv", "json"), help="default: from OUT's extension, else csv")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> dict:
    from haverford.core.export import export_answers
    from haverford.core.home import Home

    fmt = args.format or ("json" if args.out.lower().endswith(".json") else "csv")
    rows = export_answers(Home(args.home, create=False), Path(args.out), fmt=fmt)
    return {"path": str(Path(args.out).resolve()), "format": fmt, "rows": rows}


# --- plumbing -------------------------------------------------------------------------------

def _name(text: str) -> str:
    text = text.strip()
    if not text or len(text) > 100:
        raise UsageError("labeller name must be 1-100 characters")
    return text


class _progress:
    """A tqdm bar on stderr fed by ``progress(done, total, item)`` callbacks."""

    def __init__(self, desc: str, *, unit: str, quiet: bool):
        self.desc, self.unit, self.quiet = desc, unit, quiet
        self.bar: Any = None  # a tqdm bar, made on the first update (its total is known then)

    def __enter__(self) -> Callable[[int, int, str], None]:
        return self.update

    def update(self, done: int, total: int, item: str) -> None:
        from tqdm import tqdm

        if self.bar is None:
            # No monitor thread: ingest forks its workers only from a single-threaded process.
            tqdm.monitor_interval = 0
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr,
                            disable=self.quiet, dynamic_ncols=True)
        self.bar.total = total
        self.bar.n = done
        self.bar.set_postfix_str(Path(item).name[-40:] if item else "", refresh=False)
        self.bar.refresh()

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


TEXT_FORMATS: dict[str, Callable[[dict], str]] = {"ingest": _ingest_text, "demo": _demo_text,
                                                   "relocate": _relocate_text,
                                                   "train": cli_models.train_text, "tune": cli_models.tune_text,
                                                   "predict": cli_models.predict_text,
                                                   "evaluate": cli_eval.evaluate_text,
                                                   "misclassified": cli_eval.misclassified_text,
                                                   "users": cli_team.users_text, "backup": cli_team.backup_text,
                                                   "restore": cli_team.restore_text, "check": cli_team.check_text}

COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "demo": ("build the demo library (generated offline) and open the dashboard on it", _configure_demo),
    "serve": ("start the dashboard on the home", _configure_serve),
    "ingest": ("import audio files or folders", _configure_ingest),
    "features": ("compute a feature for every track that lacks it", _configure_features),
    "export": ("write every answer, one row per answer, as CSV or JSON", _configure_export),
    "relocate": ("music moved on disk: point the library's tracks under OLD_DIR at NEW_DIR", _configure_relocate),
    "train": ("train the ConvNet on the labels (the Retrain job, in the foreground)", cli_models.configure_train),
    "tune": ("search the ConvNet's hyperparameters with Optuna (resumable; best trial saved as a preset)",
             cli_models.configure_tune),
    "predict": ("classify audio files with a trained model, without importing them", cli_models.configure_predict),
    "evaluate": ("metrics and baselines on the track-held-out test split", cli_eval.configure_evaluate),
    "misclassified": ("labelled segments the model gets wrong, most confidently wrong first",
                      cli_eval.configure_misclassified),
    "users": ("accounts and roles for a team server: users add|list|disable", cli_team.configure_users),
    "backup": ("a consistent copy of the home (database, models, features) taken while people work",
               cli_team.configure_backup),
    "restore": ("bring a home back from a folder written by 'haverford backup'", cli_team.configure_restore),
    "check": ("integrity_check of the database, and every model and feature file it names exists",
              cli_team.configure_check),
}


def _print_result(args, out: dict, text: Callable[[dict], str] | None) -> None:
    if args.json:
        print(json.dumps(out, default=str))
    elif text:
        print(text(out))
    else:
        print(json.dumps(out, indent=2, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = None
    try:
        args = build_parser().parse_args(argv)
        with acting_as(OPERATOR):  # the shell may do anything: it can open the database anyway
            out = args.func(args)
        if out is not None:
            _print_result(args, out, TEXT_FORMATS.get(args.command))
        return 0
    except NothingProcessed as exc:
        if args is not None:
            _print_result(args, exc.out, TEXT_FORMATS.get(args.command))
        print(f"haverford: error: {exc}", file=sys.stderr)
        return 1
    except HaverfordError as exc:
        print(f"haverford: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not _is_database_error(exc):
            return _internal_error(exc)
        print(f"haverford: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("haverford: interrupted", file=sys.stderr)
        return 130


def _internal_error(exc: BaseException) -> int:
    """A bug, not bad input: the traceback goes to a log file, stderr gets one line pointing at it.

    The log is ``haverford-crash-<time>.log`` in the system's temporary folder (the data home may
    be what failed). Exit status 2, as argparse uses for misuse, so scripts can tell a bug from a
    user error (1).
    """
    import tempfile
    import time
    import traceback

    log = Path(tempfile.gettempdir()) / f"haverford-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log.write_text("".join(traceback.format_exception(exc)))
    print(f"haverford: internal error ({type(exc).__name__}: {exc}); the traceback is in {log}: "
          "please report it with that file", file=sys.stderr)
    return 2


def _is_database_error(exc: Exception) -> bool:
    """A ``haverford.db.DatabaseError`` (a locked or newer database), recognised without importing
    the database layer (and pandas with it) into every command."""
    connection = sys.modules.get("haverford.db.connection")
    return connection is not None and isinstance(exc, connection.DatabaseError)


def run() -> int:
    """The console script: ``main``, then an exit that skips the final garbage collection.

    Everything imported (pandas, scipy, TensorFlow for some commands) would be traversed
    once more on the way out, 0.1 s at every call that outside scripts wait for. Objects
    still run their finalizers as modules are torn down; only the last cycle search is
    skipped, and ``db.connection`` closes the databases still open from an ``atexit`` hook.
    """
    status = main()
    gc.freeze()
    return status


if __name__ == "__main__":
    sys.exit(run())
