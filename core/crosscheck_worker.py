"""``python -m core.crosscheck_worker --home DIR --run N``: the background process of one cross-check."""

from __future__ import annotations

import argparse
import sys

from core.crosscheck import worker_main
from core.home import Home


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and execute the cross-check; exit status 0 unless it failed."""
    parser = argparse.ArgumentParser(prog="python -m core.crosscheck_worker", description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("--run", type=int, required=True)
    args = parser.parse_args(argv)
    return worker_main(Home(args.home, create=False), args.run)


if __name__ == "__main__":
    sys.exit(main())
