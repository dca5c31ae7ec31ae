"""``haverford evaluate`` and ``haverford misclassified``: the Evaluate and Misclassified pages'
numbers on the command line (same functions, same defaults). Registered in ``core.cli.COMMANDS``.
"""

from __future__ import annotations

import argparse

from haverford.core.cli_types import positive_int, threshold

SPLIT_CHOICES = ("all", "test", "train", "validation")


def configure_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=int, metavar="ID", help="model id (default: the active model)")
    p.add_argument("--threshold", type=threshold, default=0.5,
                   help="predict banger when p(banger) >= this (default 0.5)")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> dict:
    from haverford.core.evaluate import evaluate_model
    from haverford.core.home import Home

    return evaluate_model(Home(args.home, create=False), args.model, threshold=args.threshold).to_json()


def evaluate_text(out: dict) -> str:
    m, t = out["metrics"], out["track_metrics"]
    lines = [f"model {out['model_id']}, {out['split']['text']}; threshold {out['threshold']:g}",
             f"figures computed {out['labels']['text']}" if out.get("labels") else "",
             f"segments: accuracy {_f(m['accuracy'])}  balanced {_f(m['balanced_accuracy'])}  "
             f"precision {_f(m['precision'])}  recall {_f(m['recall'])}  F1 {_f(m['f1'])}  "
             f"ROC AUC {_f(m['roc_auc'])}  (n={m['n']}; confusion [[TN FP] [FN TP]] = {m['confusion']})",
             f"tracks (mean segment score): accuracy {_f(t['accuracy'])} on {t['n']} tracks",
             "baselines on the same test tracks:"]
    lines += [f"  {b['name']:<26} accuracy {_f(b['accuracy'])}  balanced {_f(b['balanced_accuracy'])}  "
              f"AUC {_f(b.get('roc_auc'))}  tracks {_f(b.get('track_accuracy'))}  fit {_s(b.get('fit_seconds'))}  "
              f"n={b['segments']:<6} {b['note']}" for b in out["baselines"]]
    return "\n".join(lines)


def configure_misclassified(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=positive_int, default=50, help="how many segments (default 50)")
    p.add_argument("--model", type=int, metavar="ID", help="model id (default: the active model)")
    p.add_argument("--split", choices=SPLIT_CHOICES, default="all",
                   help="tracks of which side of the split (default all)")
    p.add_argument("--threshold", type=threshold, default=0.5, help="decision threshold (default 0.5)")
    p.set_defaults(func=cmd_misclassified)


def cmd_misclassified(args) -> dict:
    from haverford.core.evaluate import misclassified
    from haverford.core.home import Home

    side = None if args.split == "all" else args.split
    page = misclassified(Home(args.home, create=False), args.model, threshold=args.threshold, side=side,
                         limit=args.limit)
    return {"model_id": page["model"]["id"], "split": args.split, "threshold": args.threshold,
            "total": page["total"], "reviewed": page["reviewed"], "labels": page["labels"].to_json(),
            "segments": [_segment_json(r) for r in page["rows"]]}


def _segment_json(r: dict) -> dict:
    return {"segment_id": r["segment_id"], "track_id": r["track_id"], "title": r["title"], "index": r["idx"],
            "start_s": r["start_s"], "verdict": r["verdict"], "p_banger": r["p_banger"],
            "confidence": r["confidence"], "side": r["side"], "reviewed": r["reviewed"]}


def misclassified_text(out: dict) -> str:
    lines = [f"model {out['model_id']}: {out['total']} labelled segments misclassified ({out['split']} tracks, "
             f"threshold {out['threshold']:g}; {out['reviewed']} reviewed), most confidently wrong first; "
             f"{out['labels']['text']}"]
    lines += [f"{s['segment_id']:>8}  {s['verdict']:<13} p(banger)={s['p_banger']:.3f}  {s['side'] or '-':<10} "
              f"{s['title']} @ {s['start_s']:.0f} s" for s in out["segments"]]
    return "\n".join(lines)


def _f(value) -> str:
    return "  —  " if value is None else f"{value:.3f}"


def _s(seconds) -> str:
    return "   —   " if seconds is None else f"{seconds:6.2f}s"
