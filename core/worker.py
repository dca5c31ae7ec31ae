"""``python -m haverford.core.worker --home DIR --run N``: the background process that executes one run.

A run's ``kind`` says what it does (``core.jobs.RUN_KINDS``); ``core.jobs.worker_main`` runs it.
"""

from __future__ import annotations

import argparse
import sys

from haverford.core.home import Home


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and execute the run; exit status 0 unless it failed."""
    parser = argparse.ArgumentParser(prog="python -m haverford.core.worker", description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("--run", type=int, required=True)
    args = parser.parse_args(argv)
    from haverford.core.jobs import worker_main

    return worker_main(Home(args.home, create=False), args.run)


if __name__ == "__main__":
    sys.exit(main())
