"""The ``haverford`` command line: a stable contract that outside scripts call (DESIGN.md).

Every command takes ``--home DIR``; with ``--json`` it prints exactly one JSON document on
stdout, progress and logs go to stderr. Exit 0 on success, 1 for a user error (one line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import gc
from importlib import resources
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

from haverford.core import cli_eval, cli_models, cli_team
from haverford.core.cli_types import port, positive_int
from haverford.core.config import DEFAULT_FEATURE, HOME_ENV, LABELS, max_upload_mb
from haverford.core.errors import HaverfordError
from haverford.core.identity import OPERATOR, acting_as


class UsageError(HaverfordError):
    """Bad command-line arguments."""


class Parser(argparse.ArgumentParser):
    """argparse with the contract's exit status: 1 and one line for any user error."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
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
    return _report_json(report)


def _report_json(report) -> dict:
    out = report.to_json()
    out.pop("track_ids")
    out["audio_seconds"] = round(out["audio_seconds"], 3)
    return out


def _ingest_text(out: dict) -> str:
    lines = [f"imported {out['tracks_added']} tracks ({out['segments_added']} segments, "
             f"{out['audio_seconds'] / 60:.1f} min of audio) in {out['seconds']:.1f} s"]
    lines += [f"skipped {s['path']}: {s['reason']}" for s in out["skipped"]]
    lines += [f"error {e['path']}: {e['error']}" for e in out["errors"]]
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
    p.add_argument("--no-serve", action="store_true", help="only build the demo library")
    p.add_argument("--tracks", type=positive_int, default=24, help="number of tracks (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the generator (default 0)")
    p.add_argument("--port", type=port, default=8501, help="dashboard port (default 8501)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> dict:
    _one_blas_thread()
    from haverford.core.demo import build_demo
    from haverford.core.home import Home

    home = Home(args.home)
    with _progress("demo", unit="file", quiet=False) as progress:
        out = build_demo(home, n_tracks=args.tracks, seed=args.seed, progress=progress)
    if not args.no_serve:
        _print_result(args, out, _demo_text)
        serve(home.path, port=args.port)
        return None
    return out


def _demo_text(out: dict) -> str:
    return (f"demo library in {out['home']}: {out['tracks']} tracks, {out['segments']} segments, "
            f"{out['answers_added']} simulated answers added ({out['seconds']:.1f} s)")


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
    code = subprocess.call(cmd, env={**os.environ, HOME_ENV: str(home)})
    if code not in (0, -2, 130):
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
        self.desc, self.unit, self.quiet, self.bar = desc, unit, quiet, None

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
                                                   "train": cli_models.train_text,
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
    "train": ("train the ConvNet on the labels (the Retrain job, in the foreground)", cli_models.configure_train),
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
    try:
        args = build_parser().parse_args(argv)
        with acting_as(OPERATOR):  # the shell may do anything: it can open the database anyway
            out = args.func(args)
        if out is not None:
            _print_result(args, out, TEXT_FORMATS.get(args.command))
        return 0
    except HaverfordError as exc:
        print(f"haverford: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("haverford: interrupted", file=sys.stderr)
        return 130


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
