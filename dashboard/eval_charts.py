"""Plotly figures of the Evaluate and Misclassified pages, as plain dicts (see ``dashboard.charts``).

Each figure's title carries the split in words (``split``), so a figure copied out of the page
still says that its test set is whole held-out tracks.
"""

from __future__ import annotations

from haverford.dashboard.charts import VERDICT_COLOURS, figure

_SQUARE = {"height": 340}


def _title(name: str, split: str) -> dict:
    return {"text": f"{name}<br><sup>{split}</sup>", "font": {"size": 14}}


def confusion_figure(confusion: list[list[int]], *, split: str) -> dict:
    """The 2 × 2 confusion matrix ([[TN, FP], [FN, TP]]) as an annotated heatmap."""
    names = ["not a banger", "banger"]
    heat = {"type": "heatmap", "z": confusion, "x": names, "y": names, "colorscale": "Blues", "showscale": False,
            "text": [[str(v) for v in row] for row in confusion], "texttemplate": "%{text}",
            "hovertemplate": "label %{y}, predicted %{x}: %{z}<extra></extra>"}
    return figure([heat], **_SQUARE, title=_title("Confusion matrix", split),
                  xaxis={"title": {"text": "predicted"}}, yaxis={"title": {"text": "label"}, "autorange": "reversed"},
                  margin={"l": 90, "r": 10, "t": 60, "b": 45})


def roc_figure(roc: dict, *, point: tuple[float, float] | None, auc: float | None, split: str) -> dict:
    """ROC curve with the chance diagonal and the current threshold's operating point."""
    data = [{"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "lines", "name": "chance",
             "line": {"dash": "dot", "color": "#999"}},
            {"type": "scatter", "x": roc["fpr"], "y": roc["tpr"], "mode": "lines", "name": "ConvNet",
             "line": {"color": "#d62728"}}]
    data += _point(point)
    name = "ROC curve" + (f" (AUC {auc:.3f})" if auc is not None else " (needs both verdicts)")
    return figure(data, **_SQUARE, title=_title(name, split), showlegend=False,
                  xaxis={"title": {"text": "false positive rate"}, "range": [0, 1]},
                  yaxis={"title": {"text": "true positive rate"}, "range": [0, 1.02]},
                  margin={"l": 50, "r": 10, "t": 60, "b": 45})


def pr_figure(pr: dict, *, point: tuple[float, float] | None, base_rate: float, split: str) -> dict:
    """Precision against recall (banger positive), the base rate and the operating point."""
    data = [{"type": "scatter", "x": [0, 1], "y": [base_rate, base_rate], "mode": "lines", "name": "base rate",
             "line": {"dash": "dot", "color": "#999"}},
            {"type": "scatter", "x": pr["recall"], "y": pr["precision"], "mode": "lines", "name": "ConvNet",
             "line": {"color": "#d62728"}}]
    data += _point(point)
    return figure(data, **_SQUARE, title=_title("Precision-recall (banger positive)", split), showlegend=False,
                  xaxis={"title": {"text": "recall"}, "range": [0, 1]},
                  yaxis={"title": {"text": "precision"}, "range": [0, 1.02]}, margin={"l": 50, "r": 10, "t": 60, "b": 45})


def _point(point: tuple[float, float] | None) -> list[dict]:
    if point is None:
        return []
    return [{"type": "scatter", "x": [point[0]], "y": [point[1]], "mode": "markers", "name": "threshold",
             "marker": {"size": 11, "color": "black", "symbol": "x"}}]


def reliability_figure(calibration: dict, *, split: str) -> dict:
    """Reliability diagram: observed banger share against mean predicted p(banger) per bin."""
    data = [{"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "lines", "name": "perfectly calibrated",
             "line": {"dash": "dot", "color": "#999"}},
            {"type": "scatter", "x": calibration["prob_pred"], "y": calibration["prob_true"], "mode": "lines+markers",
             "name": "ConvNet", "text": [f"n={n}" for n in calibration["counts"]], "line": {"color": "#d62728"},
             "hovertemplate": "predicted %{x:.2f}, observed %{y:.2f} (%{text})<extra></extra>"}]
    return figure(data, **_SQUARE, title=_title("Reliability diagram (calibration)", split), showlegend=False,
                  xaxis={"title": {"text": "mean predicted P(banger)"}, "range": [0, 1]},
                  yaxis={"title": {"text": "share that are bangers"}, "range": [0, 1.02]},
                  margin={"l": 50, "r": 10, "t": 60, "b": 45})


def histogram_figure(edges: list[float], counts: dict[str, list[int]], *, threshold: float, split: str,
                     name: str = "Scores per true verdict") -> dict:
    """Overlaid bars of p(banger) counts for each true verdict, with the threshold as a line."""
    width = edges[1] - edges[0] if len(edges) > 1 else 0.05
    centres = [e + width / 2 for e in edges[:-1]]
    data = [{"type": "bar", "x": centres, "y": counts.get(v, [0] * len(centres)), "width": width,
             "name": f"label: {v.replace('_', ' ')}", "marker": {"color": VERDICT_COLOURS[v]}, "opacity": 0.6}
            for v in ("not_a_banger", "banger")]
    line = {"type": "line", "x0": threshold, "x1": threshold, "y0": 0, "y1": 1, "yref": "paper",
            "line": {"color": "black", "dash": "dash"}}
    return figure(data, height=300, barmode="overlay", shapes=[line], title=_title(name, split),
                  xaxis={"title": {"text": "model P(banger)"}, "range": [0, 1]}, yaxis={"title": {"text": "segments"}},
                  legend={"orientation": "h", "y": -0.3}, margin={"l": 50, "r": 10, "t": 60, "b": 45})
