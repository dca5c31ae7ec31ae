"""``haverford train``, ``tune`` and ``predict``: thin commands over core.jobs, core.tune and core.predict.

Registered in ``core.cli.COMMANDS``; TensorFlow is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import getpass

from haverford.core.cli_output import TqdmReporter, nothing_processed
from haverford.core.cli_types import positive_int
from haverford.core.vocabulary import DEFAULT_PRESET, PRESET_NAMES

PRESET_HELP = (f"network and training recipe: {', '.join(PRESET_NAMES)} or a saved tuned preset "
               f"(default {DEFAULT_PRESET})")

TRAIN_KEYS = ("model_id", "run_id", "preset", "feature", "train_segments", "validation_segments",
              "test_segments", "test_tracks", "test_accuracy", "balanced_accuracy", "roc_auc",
              "majority_baseline", "track_accuracy", "split", "split_text", "labels",
              "scored_segments", "scoring_segments_per_s", "training_seconds", "other_models",
              "other_models_seconds", "seconds")


def configure_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME", help=PRESET_HELP)
    p.add_argument("--feature", metavar="NAME",
                   help="input feature (default: the preset's: transfer-rhythm musicnn+rhythm, transfer musicnn, "
                        "fast and tiny log_mel, seed log_stft)")
    p.add_argument("--seed", type=int, default=0, help="random seed of split order, init and shuffling (default 0)")
    p.add_argument("--epochs", type=int, help="override the preset's maximum number of epochs")
    p.add_argument("--max-steps", type=int, help="cap a step-based preset's steps (e.g. a quick seed run)")
    p.add_argument("--no-other-models", dest="other_models", action="store_false",
                   help="skip the logistic regression, linear SVM and kNN fitted beside the ConvNet")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> dict:
    from haverford.core import benchmarks
    from haverford.core.home import Home
    from haverford.core.jobs import run_in_foreground
    from haverford.core.presets import TrainConfig

    config = TrainConfig(preset=args.preset, feature=args.feature, seed=args.seed,
                         epochs=args.epochs, max_steps=args.max_steps, other_models=args.other_models)
    home = Home(args.home, create=False)
    config.resolved(db=home.connect())  # unknown preset or feature: a one-line error before TensorFlow starts
    with TqdmReporter() as reporter:
        out = run_in_foreground(home, config, created_by=_user(), reporter=reporter)
    return {**{k: out.get(k) for k in TRAIN_KEYS}, "loso_benchmark": benchmarks.winner_summary()}


def train_text(out: dict) -> str:
    return (f"model {out['model_id']} ({out['preset']} on {out['feature']}) is now active: test accuracy "
            f"{out['test_accuracy']:.3f} on {out['test_segments']} segments of held-out tracks "
            f"(split by track; majority baseline {out['majority_baseline']:.3f}); "
            f"trained on {out['train_segments']} segments in {out['seconds']:.1f} s; figures computed "
            + (out["labels"] or {}).get("text", "against the labels as of now")
            + "".join(f"\n  beside it, model {m['model_id']} {m['name']}: test accuracy {_f(m['accuracy'])}, "
                      f"track accuracy {_f(m['track_accuracy'])}, fitted in {m['fit_seconds']:.2f} s"
                      for m in out.get("other_models") or [])
            + (f"\n{out['loso_benchmark']['text']}" if out.get("loso_benchmark") else ""))


def _f(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def configure_tune(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME", help=f"preset to tune (default {DEFAULT_PRESET}); "
                   "runs on the same preset resume its study")
    p.add_argument("--minutes", type=float, help="time budget, checked between trials (default 10 unless --trials)")
    p.add_argument("--trials", type=positive_int, help="number of trials in this run")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampler and of each trial's training (default 0)")
    p.add_argument("--save-as", metavar="NAME", help="save the study's best trial as a preset NAME for Retrain")
    p.set_defaults(func=cmd_tune)


def cmd_tune(args) -> dict:
    from haverford.core import tune
    from haverford.core.home import Home
    from haverford.core.presets import check_preset_name

    home = Home(args.home, create=False)
    config = tune.TuneConfig(preset=args.preset, minutes=args.minutes, trials=args.trials, seed=args.seed)
    if args.save_as is not None:  # a bad or taken name is refused now, not after the tuning ("" too)
        check_preset_name(home.connect(), args.save_as)
    with TqdmReporter() as reporter:
        out = tune.run_in_foreground(home, config, created_by=_user(), reporter=reporter)
    out["saved_preset"] = None
    if args.save_as is not None:
        out["saved_preset"] = tune.save_best(home, args.preset, args.save_as, created_by=_user()).to_json()
    return out


def tune_text(out: dict) -> str:
    lines = [f"study {out['study']} in {out['storage']}: {out['trials']} trials ({out['trials_this_run']} in this "
             f"run; {out['complete']} complete, {out['pruned']} pruned, {out['failed']} failed) in "
             f"{out['seconds']:.1f} s"]
    if out["best_trial"] is not None:
        lines.append(f"best: trial {out['best_trial']}, validation loss {out['best_value']:.4f} on the validation "
                     f"tracks (accuracy {_f(out['best_val_accuracy'])}); {out['best_params']}")
    if out.get("saved_preset"):
        lines.append(f"saved as preset {out['saved_preset']['name']!r}: haverford train --preset "
                     f"{out['saved_preset']['name']}")
    return "\n".join(lines)


def configure_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders to classify (not imported)")
    p.add_argument("--model", type=int, metavar="ID", help="model id (default: the active model)")
    p.set_defaults(func=cmd_predict)


def cmd_predict(args) -> dict:
    from haverford.core.home import Home

    home = Home(args.home, create=False)
    from haverford.core.predict import predict_files

    with TqdmReporter() as reporter:
        out = predict_files(home, args.paths, model_id=args.model,
                            progress=lambda d, t, _: reporter.stage("predict", d, t))
    if not out["tracks"]:
        raise nothing_processed("predict", out)
    return out


def predict_text(out: dict) -> str:
    lines = [f"model {out['model_id']}"]
    for t in out["tracks"]:
        lines.append(f"{t['verdict']:<13} p(banger)={t['p_banger']:.3f}  {t['path']} "
                     f"({len(t['segments'])} segments)")
    lines += [f"error {e['path']}: {e['error']}" for e in out["errors"]]
    return "\n".join(lines)


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
