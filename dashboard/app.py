"""Haverford's dashboard: navigation only; each page is a module in ``dashboard/views``."""

from pathlib import Path

import streamlit as st

from haverford.core import accounts
from haverford.dashboard import label_view
from haverford.dashboard.access import (
    account_sidebar,
    labeller_box,
    labeller_ok,
    logged_in_user,
    login_form,
    password_ok,
    session_actor,
    settings,
)
from haverford.dashboard.context import connect

VIEWS = Path(__file__).parent / "views"
# (URL path, which is also the module in ``views``; title; icon), the first the default page
PAGES = (
    ("library", "Library", ":material/library_music:"),
    ("label", "Label", ":material/label:"),
    ("questions", "Questions", ":material/quiz:"),
    ("agreement", "Agreement", ":material/handshake:"),
    ("train", "Train", ":material/model_training:"),
    ("evaluate", "Evaluate", ":material/analytics:"),
    ("misclassified", "Misclassified", ":material/report:"),
    ("predict", "Predict", ":material/science:"),
)


def main() -> None:
    """Set up the page, ask who is working (a login with accounts, a name without), navigate."""
    st.set_page_config(page_title="Haverford: is it a banger?", page_icon="🎧", layout="wide")

    pages = [st.Page(VIEWS / f"{url_path}.py", title=title, icon=icon, url_path=url_path, default=url_path == PAGES[0][0])
             for url_path, title, icon in PAGES]
    accounts.set_actor_source(session_actor)  # core's role check asks the session who is acting
    db = connect()
    if accounts.accounts_on(db):
        user = logged_in_user(db)
        if user is None:
            login_form(db)
            st.stop()
        # The labeller is the person logged in: there is no name to type.
        st.session_state["app_labeller"] = user["name"]
        account_sidebar(db, user)
    else:
        access = settings()
        if not password_ok(access):
            st.stop()
        labeller_box()
        if not labeller_ok(access, st.session_state.get("app_labeller", "").strip()):
            st.stop()
    # answers the Label page's view sent just before the labeller left it (its state goes with it)
    label_view.save_pending(db, labeller=st.session_state.get("app_labeller", "").strip())
    st.navigation(pages).run()


# Streamlit runs this script as ``__main__``. A process spawned from the server (the tempo
# worker) imports it again as ``__mp_main__``: that import must not run the app.
if __name__ == "__main__":
    main()
