"""``python -m haverford.core.worker --home DIR --run N``: the background process that executes one run.

A run's ``kind`` says what it does: ``train`` (Retrain), ``crosscheck`` (out-of-fold scores) or
``tune`` (an Optuna search, ``core.tune``).
"""

from __future__ import annotations

import argparse
import sys

from haverford.core.home import Home
from haverford.db import runs as runs_db


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and execute the run; exit status 0 unless it failed."""
    parser = argparse.ArgumentParser(prog="python -m haverford.core.worker", description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("--run", type=int, required=True)
    args = parser.parse_args(argv)
    home = Home(args.home, create=False)
    run = runs_db.get_run(home.connect(), args.run)
    if run is not None and run["kind"] == "crosscheck":
        from haverford.core.crosscheck import worker_main as crosscheck_main

        return crosscheck_main(home, args.run)
    if run is not None and run["kind"] == "tune":
        from haverford.core.tune import worker_main as tune_main

        return tune_main(home, args.run)
    from haverford.core.jobs import worker_main

    return worker_main(home, args.run)


if __name__ == "__main__":
    sys.exit(main())
