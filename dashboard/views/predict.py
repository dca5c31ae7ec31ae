"""Predict page: try a model on a file that is not in the library (upload or a path on the server).

Nothing is added to the library: an upload lives in a temporary folder for the time of the
prediction (``core.predict.predict_files``, the code of ``haverford predict``).
"""

import tempfile
from pathlib import Path

import streamlit as st

from haverford.core import versions
from haverford.core.discover import AUDIO_EXTENSIONS
from haverford.core.errors import HaverfordError
from haverford.core.predict import predict_files
from haverford.core.vocabulary import VERDICT_NAMES
from haverford.dashboard import charts, clip
from haverford.dashboard.context import connect, home


def model_picker(models: list[dict]) -> int:
    ids = [m["id"] for m in models]
    active = next((i for i, m in enumerate(models) if m["active"]), 0)
    names = {m["id"]: versions.model_title(m) for m in models}
    return st.selectbox("Model", ids, index=active, format_func=names.get, key="predict_model")


def chosen_file() -> tuple[str, bytes | None] | None:
    """The file to classify: ``(name, bytes)`` for an upload, ``(path, None)`` for a server path."""
    upload, server = st.tabs(["Upload a file", "File on the server"])
    with upload:
        f = st.file_uploader("Audio file", key="predict_upload", type=sorted(e.lstrip(".") for e in AUDIO_EXTENSIONS))
    with server:
        path = st.text_input("Path of an audio file on the server", key="predict_path").strip()
    if f is not None:
        return f.name, f.getvalue()
    return (path, None) if path else None


def predict(name: str, data: bytes | None, model_id: int) -> dict:
    """``predict_files`` on the upload (in a temporary folder, deleted after) or on the path; a file
    that cannot be classified comes back with its ``error``."""
    if data is None:
        out = predict_files(home(), [name], model_id=model_id)
    else:
        suffix = Path(name).suffix.lower()
        with tempfile.TemporaryDirectory(prefix="haverford-predict-") as folder:
            target = Path(folder) / f"upload{suffix if suffix.isascii() else ''}"  # never the browser's name
            target.write_bytes(data)
            out = predict_files(home(), [str(target)], model_id=model_id)
    if out["tracks"]:
        return {**out["tracks"][0], "path": name}
    reasons = [e["error"] for e in out["errors"]] + [s.get("reason", "not an audio file") for s in out["skipped"]]
    return {"path": name, "error": reasons[0] if reasons else "nothing to classify"}


def show(track: dict) -> None:
    if track.get("error"):
        st.error(f"Cannot classify {clip.plain(track['path'])}: {track['error']}")
        return
    st.metric(f"Verdict for {track['path']}", VERDICT_NAMES[track["verdict"]],
              f"mean P(banger) {track['p_banger']:.0%} over {len(track['segments'])} segments", delta_color="off")
    st.plotly_chart(charts.segment_scores_figure(track["segments"]), config={"displaylogo": False})
    st.caption("A track is a banger when the mean P(banger) of its 5-second segments is at least 50%. "
               "Nothing was added to the library.")


def main() -> None:
    st.title("Predict")
    st.caption("Try a model on music that is not in the library (the same as `haverford predict FILE`).")
    models = versions.list_models(connect())
    if not models:
        st.info("No model yet: label some segments, then train one on the Train page (or `haverford train`).")
        return
    model_id = model_picker(models)
    picked = chosen_file()
    if picked is None:
        st.info("Upload an audio file or give a path on the server to see its verdict.")
        return
    if st.button("Classify", key="predict_run", type="primary"):
        try:
            with st.spinner("Decoding and scoring every 5-second segment…"):
                st.session_state["predict_result"] = predict(*picked, model_id)
        except HaverfordError as exc:
            st.error(str(exc))
            return
    if st.session_state.get("predict_result"):
        show(st.session_state["predict_result"])


main()
