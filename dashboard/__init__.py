"""Haverford's Streamlit dashboard: ``app.py`` navigates, ``views/`` holds one module per page."""
