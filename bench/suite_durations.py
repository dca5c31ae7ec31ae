"""Seconds per test file, from a run of the suite, for the order in which workers get files.

``tests/conftest.py`` hands files out longest first (``tests/durations.json``): with two workers
taking whole files, the long ones start at once and the short ones fill in at the end, instead of
a long file starting last while the other worker idles. Refresh the table after tests move:

    pytest -p no:cacheprovider --durations=0 -q > /tmp/suite.log
    python bench/suite_durations.py /tmp/suite.log        # writes tests/durations.json
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"^\s*([\d.]+)s (?:setup|call|teardown)\s+tests/([^:]+)::")
TABLE = Path(__file__).resolve().parents[1] / "tests" / "durations.json"


def per_file(log: str) -> dict[str, float]:
    """Seconds per test file name (setup + call + teardown of its tests), longest first."""
    seconds: dict[str, float] = defaultdict(float)
    for line in log.splitlines():
        match = LINE.match(line)
        if match:
            seconds[match.group(2)] += float(match.group(1))
    return {name: round(s, 1) for name, s in sorted(seconds.items(), key=lambda kv: -kv[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", help="output of pytest --durations=0")
    args = parser.parse_args()
    table = per_file(Path(args.log).read_text(errors="replace"))
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    for name, s in table.items():
        print(f"{s:8.1f} s  {name}")
    print(f"{sum(table.values()):8.1f} s  in all ({len(table)} files) -> {TABLE}")


if __name__ == "__main__":
    main()
