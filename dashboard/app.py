"""Haverford's dashboard: navigation only; each page is a module in ``dashboard/views``."""

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Haverford: is it a banger?", page_icon="🎧", layout="wide")

VIEWS = Path(__file__).parent / "views"
pages = [
    st.Page(VIEWS / "library.py", title="Library", icon="📚", default=True, url_path="library"),
]
st.navigation(pages).run()
