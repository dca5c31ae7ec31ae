"""``haverford train`` and ``haverford predict``: thin commands over core.jobs and core.predict.

Registered in ``core.cli.COMMANDS``; TensorFlow is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from haverford.core.config import DEFAULT_FEATURE
from haverford.core.vocabulary import DEFAULT_PRESET, PRESET_NAMES



def configure_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=DEFAULT_PRESET, choices=PRESET_NAMES,
                   help=f"network and training recipe (default {DEFAULT_PRESET})")
    p.add_argument("--feature", metavar="NAME",
                   help=f"input feature (default: the preset's; fast uses {DEFAULT_FEATURE}, seed log_stft)")
    p.add_argument("--seed", type=int, default=0, help="random seed of split order, init and shuffling (default 0)")
    p.add_argument("--epochs", type=int, help="override the preset's maximum number of epochs")
    p.add_argument("--max-steps", type=int, help="cap a step-based preset's steps (e.g. a quick seed run)")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> dict:
    from haverford.core import benchmarks
    from haverford.core.home import Home
    from haverford.core.jobs import run_in_foreground
    from haverford.core.presets import TrainConfig

    config = TrainConfig(preset=args.preset, feature=args.feature, seed=args.seed,
                         epochs=args.epochs, max_steps=args.max_steps)
    config.resolved()  # unknown feature: a one-line error before TensorFlow starts
    home = Home(args.home, create=False)
    with TqdmReporter() as reporter:
        out = run_in_foreground(home, config, created_by=_user(), reporter=reporter)
    keys = ("model_id", "run_id", "preset", "feature", "train_segments", "validation_segments",
            "test_segments", "test_tracks", "test_accuracy", "balanced_accuracy", "roc_auc",
            "majority_baseline", "track_accuracy", "split", "split_text", "labels",
            "scored_segments", "scoring_segments_per_s", "training_seconds", "seconds")
    return {**{k: out.get(k) for k in keys}, "loso_benchmark": benchmarks.winner_summary()}


def train_text(out: dict) -> str:
    return (f"model {out['model_id']} ({out['preset']} on {out['feature']}) is now active: test accuracy "
            f"{out['test_accuracy']:.3f} on {out['test_segments']} segments of held-out tracks "
            f"(split by track; majority baseline {out['majority_baseline']:.3f}); "
            f"trained on {out['train_segments']} segments in {out['seconds']:.1f} s; figures computed "
            + (out["labels"] or {}).get("text", "against the labels as of now")
            + (f"\n{out['loso_benchmark']['text']}" if out.get("loso_benchmark") else ""))


def configure_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files to classify (not imported)")
    p.add_argument("--model", type=int, metavar="ID", help="model id (default: the active model)")
    p.set_defaults(func=cmd_predict)


def cmd_predict(args) -> dict:
    from haverford.core.home import Home
    from haverford.core.predict import predict_files

    home = Home(args.home, create=False)
    with TqdmReporter() as reporter:
        return predict_files(home, args.paths, model_id=args.model,
                             progress=lambda d, t, _: reporter.stage("predict", d, t))


def predict_text(out: dict) -> str:
    lines = [f"model {out['model_id']}"]
    for t in out["tracks"]:
        if t.get("error"):
            lines.append(f"error {t['path']}: {t['error']}")
        else:
            lines.append(f"{t['verdict']:<13} p(banger)={t['p_banger']:.3f}  {t['path']} "
                         f"({len(t['segments'])} segments)")
    return "\n".join(lines)


class TqdmReporter:
    """Training progress on stderr: one tqdm bar per stage, a line per epoch."""

    def __init__(self):
        self.bar, self.name = None, None

    def __enter__(self) -> "TqdmReporter":
        return self

    def stage(self, name: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if name != self.name:
            self._close()
            self.bar = tqdm(total=total, desc=name, file=sys.stderr, dynamic_ncols=True, leave=False)
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


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
