"""``python -m core.worker --home DIR --run N``: the background process that executes one run."""

from __future__ import annotations

import argparse
import sys

from core.home import Home
from core.jobs import worker_main


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and execute the run; exit status 0 unless it failed."""
    parser = argparse.ArgumentParser(prog="python -m core.worker", description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("--run", type=int, required=True)
    args = parser.parse_args(argv)
    return worker_main(Home(args.home, create=False), args.run)


if __name__ == "__main__":
    sys.exit(main())
