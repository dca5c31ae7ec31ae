"""Model versions and the runs that made them, as the Train, Evaluate and Misclassified pages
list them; activating a version."""

from __future__ import annotations

from haverford.core.errors import NotFoundError
from haverford.core.roles import require
from haverford.core.vocabulary import minute
from haverford.db import models as models_db
from haverford.db.models import active_model_id, get_model, list_models, prediction_count
from haverford.db.runs import ACTIVE, list_runs, run_metrics

__all__ = ["ACTIVE", "activate", "active_model_id", "get_model", "list_models", "list_runs", "model_title",
           "prediction_count", "retrain_config", "run_metrics"]


def activate(db, model_id: int) -> None:
    """Make ``model_id`` the active model (the one ``predict``, the queues and Misclassified use).

    Raises ``AccessDenied`` for anyone but an admin (with accounts on), ``NotFoundError`` when
    there is no such model.
    """
    require(db, "activate", detail=f"model {model_id}")
    if get_model(db, model_id) is None:
        raise NotFoundError(f"no model with id {model_id}; list them on the Train page")
    models_db.activate(db, model_id)


def default_pair(models: list[dict]) -> tuple[int, int]:
    """Where a comparison of two model versions opens: the positions in ``models`` (newest first,
    as ``list_models`` gives them) of the active model, else the newest, and of the newest earlier
    model of its kind, else the next one. A Retrain stores its ConvNet and three other models
    together: comparing the two newest would compare a kNN with an SVM of the same run.

    Raises ``IndexError`` for fewer than two models.
    """
    if len(models) < 2:
        raise IndexError("a comparison needs two models")
    first = next((i for i, m in enumerate(models) if m.get("active")), 0)
    kind = models[first].get("kind")
    second = next((i for i, m in enumerate(models) if i > first and m.get("kind") == kind),
                  1 if first == 0 else 0)
    return first, second


def model_title(model: dict) -> str:
    """How a model is named in pickers: id, preset (or the other model's name), feature, date and
    whether it is active."""
    when = minute(model.get("created_at"))
    active = " · active" if model.get("active") else ""
    what, feature = model["preset"], model["feature"]
    if model.get("kind") == models_db.CLASSIC:
        what, feature = model.get("name") or what, f"pooled {feature}"
    return f"model {model['id']} · {what} on {feature} · {when} UTC{active}"


def retrain_config(model: dict) -> dict:
    """The Retrain config that repeats a model's run: its own preset and feature, or for one of the
    other models, the run's ConvNet preset (a Retrain fits them all again)."""
    if model.get("kind") == models_db.CLASSIC:
        config = model["params"].get("config") or {}
        return {"preset": config.get("preset", "fast"), "feature": config.get("feature"), "seed": 0}
    return {"preset": model["preset"], "feature": model["feature"], "seed": 0}
