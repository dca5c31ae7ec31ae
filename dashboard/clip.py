"""The clip view shared by every page that shows a segment: see it, hear it, move along the track.

``render(db, state_key)`` shows the segment whose id is in ``st.session_state[state_key]``;
its previous/next buttons and the track strip change that key.
"""

from __future__ import annotations

import re

import numpy as np
import streamlit as st

from haverford.core import audio, catalogue, features
from haverford.core.config import SR
from haverford.core.errors import HaverfordError
from haverford.dashboard import charts

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def plain(text: object) -> str:
    """``text`` with Markdown's special characters escaped, so user text shows as typed."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


@st.cache_data(max_entries=32, show_spinner=False)
def segment_audio(path: str, start_s: float, duration_s: float) -> np.ndarray:
    """The decoded segment, mono float32 at 22,050 Hz (cached per path and time)."""
    return audio.load(path, start_s=start_s, duration_s=duration_s)


@st.cache_data(max_entries=32, show_spinner=False)
def clip_figures(path: str, start_s: float, duration_s: float) -> tuple[dict, dict]:
    """Waveform and spectrogram figures of a segment as plain dicts (cheap to cache and send)."""
    y = segment_audio(path, start_s, duration_s)
    S_db = features.log_stft(y)[0]
    return charts.waveform_figure(y, start_s=start_s), charts.spectrogram_figure(S_db, start_s=start_s)


def _go(state_key: str, segment_id: int | None) -> None:
    if segment_id is not None:
        st.session_state[state_key] = segment_id


def render(db, state_key: str, *, show_strip: bool = True) -> dict | None:
    """Show the clip view of the segment in ``st.session_state[state_key]``; return its row."""
    segment_id = st.session_state.get(state_key)
    segment = catalogue.get_segment(db, segment_id) if segment_id is not None else None
    if segment is None:
        st.info("No segment selected.")
        return None
    st.markdown(f"**{plain(segment['title'])}** · segment {segment['idx'] + 1} of {segment['n_segments']} · "
                f"{segment['start_s']:.0f}–{segment['end_s']:.0f} s")
    _nav(db, segment, state_key)
    _media(segment)
    if show_strip:
        _strip(db, segment, state_key)
    return segment


def _nav(db, segment: dict, state_key: str) -> None:
    prev_id, next_id = catalogue.neighbours(db, segment["id"])
    row = st.container(horizontal=True)
    row.button("Previous segment", key=f"{state_key}_prev", disabled=prev_id is None,
                on_click=_go, args=(state_key, prev_id), shortcut="Left")
    row.button("Next segment", key=f"{state_key}_next", disabled=next_id is None,
                 on_click=_go, args=(state_key, next_id), shortcut="Right")


def _media(segment: dict) -> None:
    duration = segment["end_s"] - segment["start_s"]
    try:
        y = segment_audio(segment["path"], segment["start_s"], duration)
        wave, spec = clip_figures(segment["path"], segment["start_s"], duration)
    except HaverfordError as exc:
        st.error(f"Cannot play {segment['path']}: {exc}")
        return
    st.audio(y, sample_rate=SR)
    st.plotly_chart(spec, config={"displaylogo": False})
    st.plotly_chart(wave, config={"displaylogo": False})


def _strip(db, segment: dict, state_key: str) -> None:
    rows = catalogue.strip(db, segment["track_id"])
    fig = charts.track_strip_figure(rows, current_id=segment["id"])
    event = st.plotly_chart(fig, key=f"{state_key}_strip_{segment['id']}", on_select="rerun",
                            selection_mode="points", config={"displaylogo": False})
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points and points[0].get("customdata") not in (None, segment["id"]):
        picked = points[0]["customdata"]
        st.session_state[state_key] = int(picked[0] if isinstance(picked, list) else picked)
        st.rerun()
    st.caption("Track strip: each cell is a 5-second segment, coloured by the labellers' verdict"
               " (red banger, blue not a banger, purple disagreement, grey unlabelled); click one to open it.")


def render_with_label_link(db, state_key: str, *, hint: str, button_key: str) -> None:
    """The clip view of the segment in ``state_key``, with a button that opens it for labelling."""
    if st.session_state.get(state_key) is None:
        st.caption(hint)
        return
    render(db, state_key)
    if st.button("Label this segment", key=button_key):
        st.session_state["label_segment"] = st.session_state[state_key]
        st.switch_page("views/label.py")
