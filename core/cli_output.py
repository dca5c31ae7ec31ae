"""What the ``haverford`` commands write besides their result: progress on stderr (a bar per
batch of files, a bar per training stage and a line per epoch), the result on stdout, and the
outcome of a batch that processed nothing (exit 1, with its JSON all the same)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from haverford.core.errors import HaverfordError
from haverford.core.vocabulary import plural


def printable(text: str) -> str:
    """``text`` for one terminal line: characters a terminal would act on (newline, carriage
    return, the escape of a colour code, any control or format character) shown as Python
    escapes, so a file name cannot break a line or recolour it. Other text is kept as it is."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


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
    tail = f" (and {plural(more, 'more error')})" if more > 0 else ""
    return NothingProcessed(f"{command}: nothing processed; {why}{tail}", out)


def print_result(out: dict, *, as_json: bool, text: Callable[[dict], str] | None) -> None:
    """``out`` on stdout: one JSON line with ``--json``, else the command's text form (indented
    JSON for a command without one)."""
    if as_json:
        print(json.dumps(out, default=str))
    elif text:
        print(text(out))
    else:
        print(json.dumps(out, indent=2, default=str))


class FileProgress:
    """A tqdm bar on stderr fed by ``progress(done, total, item)`` callbacks (ingest, backup)."""

    def __init__(self, desc: str, *, unit: str, quiet: bool = False):
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
        self.bar.set_postfix_str(printable(Path(item).name)[-40:] if item else "", refresh=False)
        self.bar.refresh()

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


class TqdmReporter:
    """Training progress on stderr: one tqdm bar per stage, a line per epoch (a ``core.jobs``
    reporter: ``stage(name, done, total)`` and ``epoch(epoch, metrics)``)."""

    def __init__(self):
        self.bar, self.name = None, None

    def __enter__(self) -> TqdmReporter:
        return self

    def stage(self, name: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if name != self.name:
            self._close()
            # no rate: a stage that finishes at once would show millions of items per second
            self.bar = tqdm(total=total, desc=name, file=sys.stderr, dynamic_ncols=True, leave=False,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]")
            self.name = name
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def epoch(self, epoch: int, metrics: dict) -> None:
        from tqdm import tqdm

        text = " ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        tqdm.write(f"epoch {epoch}: {text}", file=sys.stderr)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __exit__(self, *exc) -> None:
        self._close()
