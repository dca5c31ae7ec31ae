"""The clip view shared by every page that shows a segment: see it, hear it, move along the track.

``render(db, state_key)`` shows the segment whose id is in ``st.session_state[state_key]``;
its previous/next buttons and the track strip change that key.
"""

from __future__ import annotations

import io
import os
import re
from urllib.parse import urlencode

import numpy as np
import soundfile as sf
import streamlit as st

from haverford.core import audio, catalogue, features
from haverford.core.config import N_FFT, SR
from haverford.core.errors import HaverfordError
from haverford.dashboard import charts

# A path whose file name is not UTF-8 holds lone surrogates (os.fsdecode), which Streamlit's cache
# cannot hash as text: the caches key paths by the file system's bytes instead.
PATH_KEY = {str: os.fsencode}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def plain(text: object) -> str:
    """``text`` with Markdown's special characters escaped, so user text shows as typed."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=PATH_KEY)
def segment_audio(path: str, *, offset: float, duration: float) -> np.ndarray:
    """The decoded segment, mono float32 at 22,050 Hz (cached per path and time).

    ``offset`` and ``duration`` are seconds, as in ``librosa.load``."""
    return audio.load(path, offset=offset, duration=duration)


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=PATH_KEY)
def clip_figure(path: str, *, offset: float, duration: float, feature: str = "log_stft") -> dict:
    """Spectrogram (``feature``: see ``core.features.FEATURES``) over waveform of a segment, one
    Plotly figure as a plain dict (cheap to cache and send): see ``charts.clip_figure``."""
    y = segment_audio(path, offset=offset, duration=duration)
    S_db = features.compute(feature, y)[0]
    freqs = None if feature == "log_stft" else mel_centres()
    return charts.clip_figure(y, S_db, start_s=offset, freqs=freqs, title=charts.SPECTROGRAM_TITLES[feature])


@st.cache_data(max_entries=1, show_spinner=False)
def mel_centres() -> np.ndarray:
    """Centre frequency (Hz) of each mel band: the peak of its filter in the shipped mel basis."""
    return features.mel_basis().argmax(axis=1) * SR / N_FFT


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=PATH_KEY)
def segment_wav(path: str, *, offset: float, duration: float) -> bytes:
    """The segment as 16-bit WAV bytes (encoded once, not on every rerun)."""
    buffer = io.BytesIO()
    sf.write(buffer, segment_audio(path, offset=offset, duration=duration), SR, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def feature_picker() -> str:
    """The spectrogram shown in every clip view (one choice for the session)."""
    st.session_state.setdefault("clip_feature", "log_stft")
    return st.segmented_control("Spectrogram", list(charts.SPECTROGRAM_TITLES), key="clip_feature", required=True,
                                format_func={"log_stft": "Seed log STFT", "log_mel": "Log-mel",
                                             "percussive_mel": "Percussive log-mel"}.get) or "log_stft"


def _go(state_key: str, segment_id: int | None) -> None:
    if segment_id is not None:
        st.session_state[state_key] = segment_id
        st.session_state[f"{state_key}_browsed"] = segment_id


def follow_table(state_key: str, table_key: str, chosen: int | None) -> None:
    """Open ``chosen``, the segment of the row selected in the table ``table_key``, when that
    selection is new. A table keeps its selection from run to run: applied every run, it undid the
    clip view's own moves (previous / next, the track strip) back to the selected row."""
    memo = f"{table_key}_chosen"
    if chosen is not None and chosen != st.session_state.get(memo):
        st.session_state[state_key] = chosen
    st.session_state[memo] = chosen


def showing(state_key: str, ids) -> bool:
    """Whether the segment open under ``state_key`` belongs on a page listing ``ids``: it is one of
    them, or the clip view's own navigation (previous / next, the track strip) opened it there."""
    shown = st.session_state.get(state_key)
    return shown in ids or (shown is not None and shown == st.session_state.get(f"{state_key}_browsed"))


def render(db, state_key: str, *, show_strip: bool = True, autoplay: bool = False) -> dict | None:
    """Show the clip view of the segment in ``st.session_state[state_key]``; return its row."""
    segment_id = st.session_state.get(state_key)
    segment = catalogue.get_segment(db, segment_id) if segment_id is not None else None
    if segment is None:
        st.info("No segment selected.")
        return None
    _header(segment)
    _nav(db, segment, state_key)
    _media(segment, autoplay=autoplay)
    if show_strip:
        _strip(db, segment, state_key)
    return segment


def _header(segment: dict) -> None:
    """Track, position and time of the segment; a badge and a note when it was stored as silent."""
    silent = bool(segment.get("silent"))
    st.markdown(f"**{plain(segment['title'])}** · segment {segment['idx'] + 1} of {segment['n_segments']} · "
                f"{segment['start_s']:.0f}–{segment['end_s']:.0f} s"
                + (" · :gray-badge[:material/volume_off: silent]" if silent else ""))
    if silent:
        st.caption(f"Silent: its level is below {audio.SILENCE_DBFS:g} dBFS, so it is not offered for labelling and "
                   "is left out of training, scoring and evaluation. Its spectrogram sits at the −80 dB floor (black).")


def _nav(db, segment: dict, state_key: str) -> None:
    prev_id, next_id = catalogue.neighbours(db, segment["id"])
    row = st.container(horizontal=True)
    row.button("Previous segment", key=f"{state_key}_prev", disabled=prev_id is None,
                on_click=_go, args=(state_key, prev_id), shortcut="Left")
    row.button("Next segment", key=f"{state_key}_next", disabled=next_id is None,
                 on_click=_go, args=(state_key, next_id), shortcut="Right")


def _media(segment: dict, *, autoplay: bool = False) -> None:
    duration = segment["end_s"] - segment["start_s"]
    feature = feature_picker()
    try:
        wav = segment_wav(segment["path"], offset=segment["start_s"], duration=duration)
        with st.spinner("Computing the spectrogram…"):
            fig = clip_figure(segment["path"], offset=segment["start_s"], duration=duration, feature=feature)
    except HaverfordError as exc:
        st.error(f"Cannot play {plain(audio.display_path(segment['path']))}: {exc}")
        return
    st.audio(wav, format="audio/wav", autoplay=autoplay)
    st.plotly_chart(fig, config={"displaylogo": False}, theme=None)


def _strip(db, segment: dict, state_key: str) -> None:
    rows = catalogue.strip(db, segment["track_id"])
    fig = charts.track_strip_figure(rows, current_id=segment["id"])
    event = st.plotly_chart(fig, key=f"{state_key}_strip_{segment['id']}", on_select="rerun",
                            selection_mode="points", config={"displaylogo": False})
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    picked = points[0].get("customdata") if points else None
    picked = picked[0] if isinstance(picked, list) else picked  # the score row carries [id, P(banger)]
    if picked is not None and int(picked) != segment["id"]:
        _go(state_key, int(picked))
        st.rerun()
    st.caption("Track strip: each cell is a 5-second segment, coloured by the labellers' verdict"
               " (red banger, blue not a banger, orange ambiguous, purple disagreement, light grey unlabelled, dark grey silent:"
               " too quiet to judge, never offered for labelling); click one to open it.")


def render_with_label_link(db, state_key: str, *, hint: str, button_key: str) -> None:
    """The clip view of the segment in ``state_key``, with a button that opens it for labelling."""
    if st.session_state.get(state_key) is None:
        st.caption(hint)
        return
    render(db, state_key)
    if st.button("Label this segment", key=button_key):
        open_for_labelling(st.session_state[state_key])


def open_for_labelling(segment_id: int) -> None:
    """Switch to the Label page on ``segment_id`` (its deep link ``?segment=ID``)."""
    from haverford.dashboard import label_view  # it draws clips with this module's caches

    label_view.move_to(int(segment_id))
    st.switch_page("views/label.py", query_params=link_params(segment_id))


def link_params(segment_id: int) -> dict:
    """The Label page's query parameters for one segment, with the labeller's name when set."""
    name = (st.session_state.get("app_labeller") or "").strip()
    return {"segment": str(int(segment_id))} | ({"labeller": name} if name and not _accounts_on() else {})


def _accounts_on() -> bool:
    return bool(st.session_state.get("access_user"))


def label_url(segment_id: int) -> str:
    """A link to the Label page on ``segment_id``, relative to the dashboard's root."""
    return "label?" + urlencode(link_params(segment_id))


def with_label_links(table, *, id_column: str = "id"):
    """``table`` (a DataFrame) with a ``label_link`` column: each row's segment on the Label page."""
    return table.assign(label_link=[label_url(s) for s in table[id_column]])


LINK_COLUMN = {"label_link": st.column_config.LinkColumn(
    "Label", display_text="Label ›", help="Open this segment on the Label page (a new tab keeps your name)")}
