"""The ``haverford`` command line: a stable contract that outside scripts call (DESIGN.md).

Every command takes ``--home DIR``; with ``--json`` it prints exactly one JSON document on
stdout, progress and logs go to stderr. Exit 0 on success, 1 for a user error (one line on
stderr, no traceback), 2 for a bug (one line pointing at a crash log).

This module builds the parser from ``COMMANDS`` and turns outcomes into exit statuses; the
commands themselves live in ``cli_library`` (ingest, relocate, features, export), ``cli_serve``
(demo, serve), ``cli_models`` (train, tune, predict), ``cli_eval`` (evaluate, misclassified) and
``cli_team`` (users, backup, restore, check).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from haverford.core import cli_eval, cli_library, cli_models, cli_serve, cli_team
from haverford.core.cli_output import NothingProcessed, print_result, printable
from haverford.core.cli_types import UsageError
from haverford.core.config import HOME_ENV
from haverford.core.errors import HaverfordError
from haverford.core.identity import OPERATOR, acting_as

COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "demo": ("build the demo library (generated offline) and open the dashboard on it", cli_serve.configure_demo),
    "serve": ("start the dashboard on the home", cli_serve.configure_serve),
    "ingest": ("import audio files or folders", cli_library.configure_ingest),
    "features": ("compute a feature for every track that lacks it", cli_library.configure_features),
    "export": ("write every answer, one row per answer, as CSV or JSON", cli_library.configure_export),
    "relocate": ("music moved on disk: point the library's tracks under OLD_DIR at NEW_DIR",
                 cli_library.configure_relocate),
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

TEXT_FORMATS: dict[str, Callable[[dict], str]] = {
    "ingest": cli_library.ingest_text, "relocate": cli_library.relocate_text, "demo": cli_serve.demo_text,
    "train": cli_models.train_text, "tune": cli_models.tune_text, "predict": cli_models.predict_text,
    "evaluate": cli_eval.evaluate_text, "misclassified": cli_eval.misclassified_text,
    "users": cli_team.users_text, "backup": cli_team.backup_text, "restore": cli_team.restore_text,
    "check": cli_team.check_text,
}


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = None
    try:
        args = build_parser().parse_args(argv)
        with acting_as(OPERATOR):  # the shell may do anything: it can open the database anyway
            out = args.func(args)
        if out is not None:
            print_result(out, as_json=args.json, text=TEXT_FORMATS.get(args.command))
        return 0
    except NothingProcessed as exc:
        if args is not None:
            print_result(exc.out, as_json=args.json, text=TEXT_FORMATS.get(args.command))
        print(f"haverford: error: {printable(str(exc))}", file=sys.stderr)
        return 1
    except HaverfordError as exc:
        print(f"haverford: error: {printable(str(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not _is_database_error(exc):
            return _internal_error(exc)
        print(f"haverford: error: {printable(str(exc))}", file=sys.stderr)
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
