"""What every page needs: the home (from ``$HAVERFORD_HOME``) and a connection per rerun."""

from __future__ import annotations

import sqlite_utils
import streamlit as st

from haverford.core.home import Home


@st.cache_resource
def _home(path: str | None) -> Home:
    return Home(path)


def home() -> Home:
    """The data home this dashboard serves."""
    import os

    from haverford.core.config import HOME_ENV

    return _home(os.environ.get(HOME_ENV))


def connect() -> sqlite_utils.Database:
    """A fresh SQLite connection for this rerun (connections are not shared across threads)."""
    return home().connect()
