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
from haverford.core.uploads import browser_name
from haverford.core.vocabulary import VERDICT_NAMES, plural
from haverford.dashboard import charts, clip
from haverford.dashboard.context import connect, home


def model_picker(models: list[dict]) -> int:
    ids = [m["id"] for m in models]
    active = next((i for i, m in enumerate(models) if m["active"]), 0)
    names = {m["id"]: versions.model_title(m) for m in models}
    return st.selectbox("Model", ids, index=active, format_func=names.get, key="predict_model")


def chosen_file() -> tuple[str, bytes | None] | None:
    """The file to classify: ``(name, bytes)`` for an upload, ``(path, None)`` for a server path."""
    upload, server = st.tabs(["Upload a file", "File or folder on the server"])
    with upload:
        f = st.file_uploader("Audio file", key="predict_upload", type=sorted(e.lstrip(".") for e in AUDIO_EXTENSIONS))
    with server:
        path = st.text_input("Path of an audio file or folder on the server", key="predict_path",
                             help="A folder is read recursively: each audio file in it gets its verdict.").strip()
    if f is not None:
        return browser_name(f.name), f.getvalue()
    return (path, None) if path else None


def predict(name: str, data: bytes | None, model_id: int) -> dict:
    """``predict_files`` on the upload (in a temporary folder, deleted after) or on the server path
    (a file, or a folder read like ``haverford predict FOLDER``). Returns its ``tracks`` (an upload's
    titled with the browser's name), ``errors`` and ``skipped``, as the CLI's JSON."""
    if data is None:
        return predict_files(home(), [name], model_id=model_id)
    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="haverford-predict-") as folder:
        target = Path(folder) / f"upload{suffix if suffix.isascii() else ''}"  # never the browser's name
        target.write_bytes(data)
        out = predict_files(home(), [str(target)], model_id=model_id)
    return {**out, "tracks": [{**t, "path": name} for t in out["tracks"]],
            "errors": [{**e, "path": name} for e in out["errors"]],
            "skipped": [{**s, "path": name} for s in out["skipped"]]}


def scored_text(segments: list[dict]) -> str:
    """How many segments the mean is over, and how many were silent (not scored)."""
    silent = sum(s["p_banger"] is None for s in segments)
    scored = len(segments) - silent
    text = f"over {plural(scored, 'scored segment')}"
    return text + (f"; {silent} silent, not scored" if silent else "")


def show_track(track: dict, *, key: str) -> None:
    st.metric(f"Verdict for {clip.plain(track['path'])}", VERDICT_NAMES[track["verdict"]],
              f"mean P(banger) {track['p_banger']:.0%} {scored_text(track['segments'])}", delta_color="off")
    st.plotly_chart(charts.segment_scores_figure(track["segments"]), config={"displaylogo": False}, key=key)


def show(result: dict) -> None:
    """Every file's verdict and chart, then each file that could not be classified."""
    for i, track in enumerate(result["tracks"]):
        show_track(track, key=f"predict_chart_{i}")
    for error in result["errors"]:
        st.error(f"Cannot classify {clip.plain(error['path'])}: {error['error']}")
    for skipped in result["skipped"]:
        st.warning(f"Skipped {clip.plain(skipped['path'])}: {skipped.get('reason', 'not an audio file')}")
    if not (result["tracks"] or result["errors"] or result["skipped"]):
        st.warning("No audio file there to classify.")
    if result["tracks"]:
        st.caption("A track is a banger when the mean P(banger) of its audible 5-second segments is at least 50% "
                   "(silent segments are not scored). Nothing was added to the library.")


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
