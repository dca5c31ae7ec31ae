"""Plotly figure builders for the dashboard (no Streamlit here: data in, figures out).

Builders return Plotly figures as plain dicts (``{"data": [...], "layout": {...}}``), which
``st.plotly_chart`` and ``plotly.io`` take as they are: building ``go.Figure`` objects would
validate every figure twice per rerun. What goes to the browser is downsampled: the waveform
to a min/max envelope, the spectrogram to log-spaced frequency bands stored as 8-bit integers
(dB), so a clip view costs tens of KB.
"""

from __future__ import annotations

import base64

import numpy as np
from plotly import colors as pcolors

from haverford.core.config import HOP_LENGTH, N_FFT, SR, TOP_DB

VERDICT_COLOURS = {"banger": "#d62728", "not_a_banger": "#1f77b4", "tied": "#9467bd", None: "#d9d9d9"}
VERDICT_NAMES = {"banger": "banger", "not_a_banger": "not a banger", "tied": "labellers disagree",
                 None: "unlabelled"}
_MARGIN = dict(l=50, r=10, t=30, b=35)


def envelope(y: np.ndarray, *, n_points: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``y`` over ``n_points`` equal blocks (a trailing remainder is dropped).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]

    Returns
    -------
    lo, hi : np.ndarray [shape=(min(n, n_points),)]
    """
    y = np.asarray(y, dtype=np.float32)
    n_points = max(1, min(len(y), n_points))
    block = max(1, len(y) // n_points)
    frames = y[: block * n_points].reshape(n_points, block) if len(y) else np.zeros((1, 1), np.float32)
    return frames.min(axis=1), frames.max(axis=1)


def typed(a: np.ndarray) -> dict:
    """A numpy array as Plotly's base64 typed-array spec: a quarter of the size of a JSON list."""
    a = np.ascontiguousarray(a)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    spec = {"dtype": a.dtype.str.lstrip("<|"), "bdata": base64.b64encode(a.tobytes()).decode("ascii")}
    if a.ndim > 1:
        spec["shape"] = ", ".join(str(n) for n in a.shape)
    return spec


def figure(data: list[dict], **layout) -> dict:
    """A Plotly figure as a plain dict: Streamlit validates it once, so we skip ``go.Figure``."""
    return {"data": data, "layout": {"margin": _MARGIN, **layout}}


def waveform_figure(y: np.ndarray, *, sr: int = SR, start_s: float = 0.0, n_points: int = 800) -> dict:
    """The clip's waveform as a filled min/max envelope, time in seconds from the track start."""
    lo, hi = envelope(y, n_points=n_points)
    t = start_s + np.arange(len(lo)) * (len(y) / sr / len(lo))
    line = {"width": 0.6, "color": "#444"}
    return figure(
        [{"type": "scatter", "x": typed(t), "y": typed(hi), "mode": "lines", "line": line, "hoverinfo": "skip",
          "showlegend": False},
         {"type": "scatter", "x": typed(t), "y": typed(lo), "mode": "lines", "line": line, "fill": "tonexty",
          "fillcolor": "rgba(68,68,68,0.5)", "hoverinfo": "skip", "showlegend": False}],
        height=160, title={"text": "Waveform"}, xaxis={"title": {"text": "time (s)"}},
        yaxis={"title": {"text": "amplitude"}, "range": [-1, 1]})


def log_bands(S_db: np.ndarray, *, sr: int = SR, n_fft: int = N_FFT, n_bands: int = 160,
              fmin: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Resample a dB spectrogram onto log-spaced frequencies (linear interpolation across bins).

    Parameters
    ----------
    S_db : np.ndarray [shape=(1 + n_fft // 2, t)]

    Returns
    -------
    freqs : np.ndarray [shape=(n_bands,)], Hz
    bands : np.ndarray [shape=(n_bands, t)], dB
    """
    freqs = np.geomspace(fmin, sr / 2, n_bands)
    pos = freqs / (sr / n_fft)
    low = np.clip(np.floor(pos).astype(int), 0, S_db.shape[0] - 1)
    high = np.clip(low + 1, 0, S_db.shape[0] - 1)
    frac = (pos - low)[:, None]
    return freqs, S_db[low] * (1 - frac) + S_db[high] * frac


# Plotly.js knows no "Magma" by name (only plotly.py does): a name it does not know fell back to
# the theme's pink scale, so the scale is spelled out, black at the -80 dB floor (silence).
SPECTROGRAM_COLORS = [[i / (len(pcolors.sequential.Magma) - 1), c] for i, c in enumerate(pcolors.sequential.Magma)]
SPECTROGRAM_TITLES = {"log_stft": "Log spectrogram (seed STFT)", "log_mel": "Log-mel spectrogram",
                      "percussive_mel": "Percussive log-mel spectrogram (HPSS)"}


def spectrogram_figure(S_db: np.ndarray, *, sr: int = SR, hop_length: int = HOP_LENGTH,
                       start_s: float = 0.0, n_bands: int = 160, freqs: np.ndarray | None = None,
                       title: str = SPECTROGRAM_TITLES["log_stft"]) -> dict:
    """Log spectrogram as a heatmap: time (s), frequency (Hz, log axis), dB colour bar.

    Parameters
    ----------
    S_db : np.ndarray [shape=(1 + n_fft // 2, t)] or [shape=(n_mels, t)] with ``freqs``, dB in [-80, 0]
    freqs : np.ndarray [shape=(n_mels,)], Hz, centre of each row; None for STFT bins
        (resampled onto ``n_bands`` log-spaced frequencies)
    """
    if freqs is None:
        freqs, S_db = log_bands(S_db, sr=sr, n_bands=n_bands)
    t = start_s + np.arange(S_db.shape[1]) * hop_length / sr
    z = np.clip(np.round(S_db), -TOP_DB, 0).astype(np.int8)
    heat = {"type": "heatmap", "z": typed(z), "x": typed(t), "y": typed(np.asarray(freqs, dtype=np.float32)),
            "colorscale": SPECTROGRAM_COLORS, "zmin": -TOP_DB, "zmax": 0,
            "colorbar": {"title": {"text": "dB"}, "thickness": 12},
            "hovertemplate": "%{x:.2f} s, %{y:.0f} Hz: %{z} dB<extra></extra>"}
    return figure([heat], height=300, title={"text": title}, xaxis={"title": {"text": "time (s)"}},
                  yaxis={"title": {"text": "frequency (Hz)"}, "type": "log"})


def strip_state(row: dict) -> str | None:
    """A segment's colour class in the track strip: its verdict, 'tied', or None (unlabelled)."""
    if row.get("verdict"):
        return row["verdict"]
    return "tied" if row.get("banger_votes") or row.get("not_votes") else None


def track_strip_figure(rows: list[dict], *, current_id: int | None = None) -> dict:
    """The whole track, one cell per segment coloured by verdict (and a row for the model's score).

    ``rows`` come from ``db.library.track_strip``; each point carries its segment id as
    ``customdata`` so a click can open that segment.
    """
    data = []
    for state, name in VERDICT_NAMES.items():
        part = [r for r in rows if strip_state(r) == state]
        if part:
            data.append({"type": "bar", "x": [r["start_s"] + 2.5 for r in part], "y": [1] * len(part), "width": 5,
                         "name": name, "marker": {"color": VERDICT_COLOURS[state]},
                         "customdata": [r["id"] for r in part],
                         "hovertemplate": "%{x:.0f} s: " + name + "<extra></extra>"})
    scored = [r for r in rows if r.get("p_banger") is not None]
    if scored:
        data.append({"type": "bar", "x": [r["start_s"] + 2.5 for r in scored], "y": [1] * len(scored),
                     "base": [1.1] * len(scored), "width": 5, "name": "model P(banger)",
                     "customdata": [r["id"] for r in scored],
                     "marker": {"color": [r["p_banger"] for r in scored], "colorscale": "RdBu", "reversescale": True,
                                "cmin": 0, "cmax": 1},
                     "hovertemplate": "%{x:.0f} s: P(banger) %{marker.color:.2f}<extra></extra>"})
    top = 2.1 if scored else 1.0
    shapes = [{"type": "rect", "x0": r["start_s"], "x1": r["start_s"] + 5, "y0": 0, "y1": top,
               "line": {"color": "black", "width": 2}} for r in rows if r["id"] == current_id]
    return figure(data, height=150 if scored else 120, margin={"l": 50, "r": 10, "t": 10, "b": 30}, bargap=0,
                  barmode="overlay", legend={"orientation": "h", "y": -0.5}, clickmode="event+select",
                  shapes=shapes, xaxis={"ticksuffix": " s"}, yaxis={"visible": False, "fixedrange": True})


def kappa_figure(pairs: list[dict]) -> dict:
    """Cohen's kappa per labeller pair as horizontal bars (−1 … 1)."""
    bar = {"type": "bar", "x": [p["kappa"] for p in pairs], "y": [f"{p['a']} · {p['b']}" for p in pairs],
           "orientation": "h", "text": [f"n={p['n']}" for p in pairs], "marker": {"color": "#1f77b4"}}
    return figure([bar], height=80 + 30 * len(pairs), title={"text": "Cohen's kappa per pair"},
                  xaxis={"range": [-1, 1], "title": {"text": "kappa"}})


def segment_scores_figure(segments: list[dict], *, threshold: float = 0.5) -> dict:
    """P(banger) of each 5-second segment of one file, along the track, with the threshold line.

    ``segments`` are ``core.predict.predict_file``'s ``[{"index", "start_s", "p_banger"}]``.
    """
    t = [s["start_s"] for s in segments]
    p = [s["p_banger"] for s in segments]
    colours = [VERDICT_COLOURS["banger" if v >= threshold else "not_a_banger"] for v in p]
    bars = {"type": "bar", "x": t, "y": p, "marker": {"color": colours}, "offset": 0, "width": 5.0,
            "hovertemplate": "%{x:.0f}–%{x:.0f}+5 s: P(banger) %{y:.3f}<extra></extra>"}
    line = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": threshold, "y1": threshold,
            "line": {"dash": "dash", "color": "#666"}}
    return figure([bars], height=260, title={"text": "P(banger) per 5-second segment"}, shapes=[line],
                  xaxis={"title": {"text": "time (s)"}}, yaxis={"title": {"text": "P(banger)"}, "range": [0, 1]})
