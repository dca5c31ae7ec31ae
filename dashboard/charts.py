"""Plotly figure builders for the dashboard (no Streamlit here: data in, figures out).

Builders return Plotly figures as plain dicts (``{"data": [...], "layout": {...}}``), which
``st.plotly_chart`` and ``plotly.io`` take as they are: building ``go.Figure`` objects would
validate every figure twice per rerun. What goes to the browser is downsampled: the waveform
to a min/max envelope, the spectrogram to a PNG picture of log-spaced frequency bands, so a clip
view costs tens of KB.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from plotly import colors as pcolors

from haverford.core.config import HOP_LENGTH, N_FFT, SR, TOP_DB

SILENT_COLOUR = "#4d4d4d"  # dark grey, as the clip view's silence (the -80 dB floor, drawn black)
VERDICT_COLOURS = {"banger": "#d62728", "not_a_banger": "#1f77b4", "ambiguous": "#ff9f1c", "tied": "#9467bd",
                   None: "#d9d9d9", "silent": SILENT_COLOUR}
VERDICT_NAMES = {"banger": "banger", "not_a_banger": "not a banger", "ambiguous": "ambiguous",
                 "tied": "labellers disagree", None: "unlabelled", "silent": "silent (not labelled)"}
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


def waveform_traces(y: np.ndarray, *, sr: int = SR, start_s: float = 0.0, n_points: int = 800,
                    yaxis: str = "y2") -> list[dict]:
    """The waveform as a filled min/max envelope (two scatter traces on ``yaxis``), time in
    seconds from the track's start."""
    lo, hi = envelope(y, n_points=n_points)
    t = start_s + np.arange(len(lo)) * (len(y) / sr / len(lo))
    line = {"width": 0.6, "color": "#444"}
    common = {"type": "scatter", "x": typed(t), "mode": "lines", "line": line, "hoverinfo": "skip",
              "showlegend": False, "yaxis": yaxis}
    return [{**common, "y": typed(hi)},
            {**common, "y": typed(lo), "fill": "tonexty", "fillcolor": "rgba(68,68,68,0.5)"}]


def log_bands(S_db: np.ndarray, *, freqs: np.ndarray | None = None, sr: int = SR, n_fft: int = N_FFT,
              n_bands: int = 160, fmin: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Resample a dB spectrogram onto log-spaced frequencies (linear interpolation across rows).

    Parameters
    ----------
    S_db : np.ndarray [shape=(n_rows, t)], dB
    freqs : np.ndarray [shape=(n_rows,)], Hz, increasing: the centre of each row; None for the
        ``1 + n_fft // 2`` bins of an STFT at ``sr``

    Returns
    -------
    freqs : np.ndarray [shape=(n_bands,)], Hz, from ``fmin`` to ``sr / 2``
    bands : np.ndarray [shape=(n_bands, t)], dB
    """
    rows = np.arange(S_db.shape[0])
    centres = rows * (sr / n_fft) if freqs is None else np.asarray(freqs, dtype=np.float64)
    out = np.geomspace(fmin, sr / 2, n_bands)
    pos = np.interp(out, centres, rows)
    low = np.clip(np.floor(pos).astype(int), 0, S_db.shape[0] - 1)
    high = np.clip(low + 1, 0, S_db.shape[0] - 1)
    frac = (pos - low)[:, None]
    return out, S_db[low] * (1 - frac) + S_db[high] * frac


# Plotly.js knows no "Magma" by name (only plotly.py does): a name it does not know fell back to
# the theme's pink scale, so the scale is spelled out, black at the -80 dB floor (silence). Its
# first colour, #000004, is pure black here: Streamlit's browser code replaces the colours #000001
# to #000040 anywhere in a chart with its theme's (placeholders of its Plotly template), which
# drew the floor violet.
_MAGMA = ["#000000", *pcolors.sequential.Magma[1:]]
SPECTROGRAM_COLORS = [[i / (len(_MAGMA) - 1), c] for i, c in enumerate(_MAGMA)]
SPECTROGRAM_TITLES = {"log_stft": "Log spectrogram (seed STFT)", "log_mel": "Log-mel spectrogram",
                      "percussive_mel": "Percussive log-mel spectrogram (HPSS)"}
DB_TICKS = {"tickvals": [-TOP_DB, -60, -40, -20, 0], "ticktext": [f"−{TOP_DB:g} silence", "−60", "−40", "−20", "0"]}


def colour_table(colorscale: list, n: int = 256) -> np.ndarray:
    """A Plotly colour scale sampled at ``n`` evenly spaced points.

    Returns
    -------
    np.ndarray [shape=(n, 3)], uint8 RGB; row 0 is the scale's bottom (for a spectrogram, the
    −80 dB floor), row ``n - 1`` its top
    """
    stops = np.array([pos for pos, _ in colorscale])
    rgb = np.array([pcolors.hex_to_rgb(c) for _, c in colorscale], dtype=np.float64)
    x = np.linspace(0, 1, n)
    return np.stack([np.interp(x, stops, rgb[:, k]) for k in range(3)], axis=1).round().astype(np.uint8)


SPECTROGRAM_TABLE = colour_table(SPECTROGRAM_COLORS)


def spectrogram_png(S_db: np.ndarray, *, top_db: float = TOP_DB) -> bytes:
    """A dB spectrogram as a palette PNG in ``SPECTROGRAM_COLORS``: −``top_db`` (silence) black,
    0 dB bright; the lowest row at the bottom of the picture.

    Parameters
    ----------
    S_db : np.ndarray [shape=(n_rows, t)], dB, clipped to [−top_db, 0]
    """
    from PIL import Image

    index = np.round((np.clip(S_db, -top_db, 0) + top_db) * (255 / top_db)).astype(np.uint8)
    picture = Image.fromarray(np.ascontiguousarray(index[::-1]), mode="L").convert("P")
    picture.putpalette(SPECTROGRAM_TABLE.tobytes())
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def clip_figure(y: np.ndarray, S_db: np.ndarray, *, sr: int = SR, hop_length: int = HOP_LENGTH,
                start_s: float = 0.0, freqs: np.ndarray | None = None, n_bands: int = 160,
                title: str = SPECTROGRAM_TITLES["log_stft"], n_points: int = 800) -> dict:
    """A clip's spectrogram (top, log frequency axis, dB colour bar) over its waveform (bottom, a
    min/max envelope) in one figure with a shared time axis, in seconds from the track's start.

    The spectrogram is a PNG picture inside the figure (``spectrogram_png``), not a heatmap
    trace: a browser draws a heatmap's tens of thousands of cells one by one, which made it most
    of the time to show the next clip (``bench/README.md``). A marker outside the time range carries
    the colour bar, whose floor (−80 dB, black) is labelled silence.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], mono audio at ``sr`` Hz
    S_db : np.ndarray [shape=(1 + n_fft // 2, t)], or [shape=(n_mels, t)] with ``freqs``, dB in [−80, 0]
    freqs : np.ndarray [shape=(n_mels,)], Hz, centre of each row; None for STFT bins
    """
    freqs, bands = log_bands(S_db, freqs=freqs, sr=sr, n_bands=n_bands)
    step_t = hop_length / sr
    t0, t1 = start_s - step_t / 2, start_s + (bands.shape[1] - 0.5) * step_t
    logf = np.log10(freqs)
    half = (logf[1] - logf[0]) / 2
    picture = {"source": "data:image/png;base64," + base64.b64encode(spectrogram_png(bands)).decode("ascii"),
               "xref": "x", "yref": "y", "x": t0, "y": float(logf[-1] + half), "sizex": t1 - t0,
               "sizey": float(logf[-1] - logf[0] + 2 * half), "sizing": "stretch", "layer": "above",
               "xanchor": "left", "yanchor": "top"}
    scale = {"type": "scatter", "x": [t0 - 60], "y": [float(freqs[0])], "mode": "markers", "hoverinfo": "skip",
             "showlegend": False, "marker": {"color": [-TOP_DB], "colorscale": SPECTROGRAM_COLORS, "cmin": -TOP_DB,
                                               "cmax": 0, "size": 1, "showscale": True,
                                               "colorbar": {"title": {"text": "dB"}, "thickness": 12, "len": 0.62,
                                                            "y": 1, "yanchor": "top", **DB_TICKS}}}
    return figure([scale, *waveform_traces(y, sr=sr, start_s=start_s, n_points=n_points)],
                  height=420, title={"text": title}, images=[picture], meta="clip",
                  xaxis={"range": [t0, t1], "anchor": "y2", "title": {"text": "time (s)"}},
                  yaxis={"type": "log", "range": [float(logf[0] - half), float(logf[-1] + half)],
                         "domain": [0.38, 1], "title": {"text": "frequency (Hz)"}, "showgrid": False},
                  yaxis2={"domain": [0, 0.3], "range": [-1, 1], "title": {"text": "amplitude"}})


FREQ_TICKS_HZ = (50, 100, 200, 500, 1000, 2000, 5000, 10000)


def clip_picture(y: np.ndarray, S_db: np.ndarray, *, sr: int = SR, hop_length: int = HOP_LENGTH,
                 start_s: float = 0.0, freqs: np.ndarray | None = None, n_bands: int = 160,
                 n_points: int = 400) -> dict:
    """A clip's spectrogram and waveform as the Label page's view draws them (no Plotly there).

    Parameters are those of ``clip_figure``. Returns a dict:

    ``png``: bytes, the spectrogram on ``n_bands`` log-spaced bands (``spectrogram_png``: black at
    the −80 dB floor, the lowest band at the bottom); ``freq_ticks``: ``[[fraction, label], …]``,
    where each of ``FREQ_TICKS_HZ`` inside the picture sits, as a fraction of its height from the
    bottom; ``env``: ``[lo, hi]``, the waveform's min/max envelope over ``n_points`` blocks
    (``envelope``) as integers in [−100, 100]; ``t0``, ``t1``: seconds in the track at the
    picture's left and right edges.
    """
    freqs, bands = log_bands(S_db, freqs=freqs, sr=sr, n_bands=n_bands)
    step_t = hop_length / sr
    logf = np.log10(freqs)
    half = (logf[1] - logf[0]) / 2
    bottom, top = logf[0] - half, logf[-1] + half
    ticks = [[round(float((np.log10(f) - bottom) / (top - bottom)), 4), f"{f // 1000:g}k" if f >= 1000 else f"{f:g}"]
             for f in FREQ_TICKS_HZ if freqs[0] <= f <= freqs[-1]]
    lo, hi = envelope(y, n_points=n_points)
    env = [np.round(np.clip(e, -1, 1) * 100).astype(int).tolist() for e in (lo, hi)]
    return {"png": spectrogram_png(bands), "freq_ticks": ticks, "env": env,
            "t0": float(start_s - step_t / 2), "t1": float(start_s + (bands.shape[1] - 0.5) * step_t)}


def strip_state(row: dict) -> str | None:
    """A segment's colour class in the track strip: its verdict, 'tied', 'silent' (an unlabelled
    silent segment: never offered for labelling) or None (unlabelled)."""
    if row.get("verdict"):
        return row["verdict"]
    if row.get("banger_votes") or row.get("not_votes"):
        return "tied"
    return "silent" if row.get("silent") else None


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
                     # colours, not numbers for a colour scale: Streamlit's chart code reads every
                     # marker colour as a colour and warned "Invalid color specifier" for each number
                     "marker": {"color": pcolors.sample_colorscale("RdBu_r", [r["p_banger"] for r in scored])},
                     "text": [f"{r['p_banger']:.2f}" for r in scored],
                     "textposition": "none",
                     "hovertemplate": "%{x:.0f} s: P(banger) %{text}<extra></extra>"})
    top = 2.1 if scored else 1.0
    shapes = [{"type": "rect", "x0": r["start_s"], "x1": r["start_s"] + 5, "y0": 0, "y1": top,
               "line": {"color": "black", "width": 2}} for r in rows if r["id"] == current_id]
    return figure(data, height=150 if scored else 120, margin={"l": 50, "r": 10, "t": 10, "b": 30}, bargap=0, meta="strip",
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

    ``segments`` are ``core.predict.predict_file``'s ``[{"index", "start_s", "p_banger"}]``; a
    silent segment (``p_banger`` None: not scored) is drawn as a grey full-height bar named silent.
    """
    scored = [s for s in segments if s["p_banger"] is not None]
    silent = [s for s in segments if s["p_banger"] is None]
    colours = [VERDICT_COLOURS["banger" if s["p_banger"] >= threshold else "not_a_banger"] for s in scored]
    bars = {"type": "bar", "x": [s["start_s"] for s in scored], "y": [s["p_banger"] for s in scored],
            "marker": {"color": colours}, "offset": 0, "width": 5.0, "name": "P(banger)",
            "hovertemplate": "%{x:.0f}–%{x:.0f}+5 s: P(banger) %{y:.3f}<extra></extra>"}
    quiet = {"type": "bar", "x": [s["start_s"] for s in silent], "y": [1.0] * len(silent), "offset": 0,
             "width": 5.0, "name": "silent (not scored)", "marker": {"color": SILENT_COLOUR, "opacity": 0.5},
             "hovertemplate": "%{x:.0f}–%{x:.0f}+5 s: silent, not scored<extra></extra>"}
    line = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": threshold, "y1": threshold,
            "line": {"dash": "dash", "color": "#666"}}
    return figure([bars, quiet] if silent else [bars], height=260, title={"text": "P(banger) per 5-second segment"},
                  shapes=[line], showlegend=bool(silent), legend={"orientation": "h", "y": -0.3},
                  xaxis={"title": {"text": "time (s)"}}, yaxis={"title": {"text": "P(banger)"}, "range": [0, 1]})
