"""``haverford ingest``, ``relocate``, ``features`` and ``export``: the library's files in and its
answers out, thin commands over core.ingest and core.export. Registered in ``core.cli.COMMANDS``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from haverford.core.cli_output import FileProgress, nothing_processed
from haverford.core.cli_types import UsageError, labeller_name
from haverford.core.config import DEFAULT_FEATURE, LABELS


def one_blas_thread() -> None:
    """Ingest runs one worker process per core; OpenBLAS threads on top only spin.

    numpy and scipy each start an OpenBLAS thread pool when imported, and its threads
    busy-wait: 0.25 s of CPU per ingest taken from the workers. This must run before numpy is
    first imported; an ``OPENBLAS_NUM_THREADS`` set by the user wins.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


# --- ingest -------------------------------------------------------------------------------

def configure_ingest(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders (recursive)")
    p.add_argument("--label", choices=LABELS, help="label every imported segment with this verdict")
    p.add_argument("--labeller", default="import", help="who the labels are from (default: import)")
    p.add_argument("--feature", action="append", dest="features", metavar="NAME",
                   help=f"features to compute now (repeatable; default: {DEFAULT_FEATURE})")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args) -> dict:
    one_blas_thread()
    from haverford.core.home import Home
    from haverford.core.ingest import ingest
    from haverford.core.predict import score_tracks

    home = Home(args.home)
    with FileProgress("ingest", unit="file") as progress:
        report = ingest(home, args.paths, label=args.label, labeller=labeller_name(args.labeller),
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


def ingest_text(out: dict) -> str:
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

def configure_relocate(p: argparse.ArgumentParser) -> None:
    p.add_argument("old_dir", metavar="OLD_DIR", help="the folder the music was imported from")
    p.add_argument("new_dir", metavar="NEW_DIR", help="the folder it is in now")
    p.set_defaults(func=cmd_relocate)


def cmd_relocate(args) -> dict:
    from haverford.core.home import Home
    from haverford.core.relocate import relocate

    return relocate(Home(args.home, create=False), args.old_dir, args.new_dir)


def relocate_text(out: dict) -> str:
    lines = [f"{out['moved']} tracks now point at their new place"]
    lines += [f"not found {p}" for p in out["missing"]]
    lines += [f"content differs, left alone {p}" for p in out["changed"]]
    return "\n".join(lines)


# --- features -----------------------------------------------------------------------------

def configure_features(p: argparse.ArgumentParser) -> None:
    p.add_argument("--feature", default=DEFAULT_FEATURE, help="feature to compute where missing")
    p.set_defaults(func=cmd_features)


def cmd_features(args) -> dict:
    one_blas_thread()
    from haverford.core.home import Home
    from haverford.core.ingest import compute_missing

    with FileProgress(f"features {args.feature}", unit="track") as progress:
        report = compute_missing(Home(args.home, create=False), args.feature, progress=progress)
    return {"feature": args.feature, "tracks": len(report.track_ids),
            "segments": report.segments_added, "errors": report.errors, "seconds": report.seconds}


# --- export ---------------------------------------------------------------------------------

def configure_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", metavar="OUT", help="file to write")
    p.add_argument("--format", choices=("csv", "json"), help="default: from OUT's extension, else csv")
    p.set_defaults(func=cmd_export)


def _format_of(out: str) -> str:
    """CSV or JSON from the file name; another extension needs ``--format`` (no CSV in a .xlsx)."""
    suffix = Path(out).suffix.lower()
    if suffix in ("", ".csv", ".txt"):
        return "csv"
    if suffix == ".json":
        return "json"
    raise UsageError(f"cannot tell the format from {suffix!r}: name the file .csv or .json, or give --format csv|json")


def cmd_export(args) -> dict:
    from haverford.core.export import export_answers
    from haverford.core.home import Home

    fmt = args.format or _format_of(args.out)
    rows = export_answers(Home(args.home, create=False), Path(args.out), fmt=fmt)
    return {"path": str(Path(args.out).resolve()), "format": fmt, "rows": rows}
