"""One module per dashboard page, each a Streamlit script that ``app.py`` registers with ``st.navigation``."""
