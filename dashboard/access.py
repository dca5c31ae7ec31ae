"""Who may use the dashboard: accounts with a login, else an optional password and name list.

With accounts (``haverford users add``), every browser session logs in; the login survives a
reload through a signed, expiring token (``core.accounts.issue_token``) kept in a
``SameSite=Strict`` cookie, never in the URL, and the labeller is the person logged in.

Without accounts, the shared password and list of allowed labellers come from Streamlit's secrets
(``.streamlit/secrets.toml`` where ``haverford serve`` runs, or ``~/.streamlit/secrets.toml``)::

    [haverford]
    password = "a long shared secret"
    allowed_labellers = ["tom", "donna", "ben"]

With neither set, the dashboard is open (the default for a local, single-user tool).
"""

from __future__ import annotations

import hmac

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from haverford.core import accounts
from haverford.core.accounts import Actor


def settings() -> dict:
    """The ``[haverford]`` secrets section, or ``{}`` when there are no secrets at all."""
    try:
        return dict(st.secrets.get("haverford", {}))
    except (FileNotFoundError, KeyError, ValueError):
        return {}
    except Exception as exc:  # noqa: BLE001 - StreamlitSecretNotFoundError's module moves between versions
        if "secret" in type(exc).__name__.lower():
            return {}
        raise


def password_ok(config: dict) -> bool:
    """Ask for the password once per browser session; True when none is set or it was given."""
    expected = config.get("password")
    if not expected or st.session_state.get("access_granted"):
        return True
    st.title("Haverford")
    given = st.text_input("Password", type="password", key="access_password")
    if given and hmac.compare_digest(given.encode(), str(expected).encode()):
        st.session_state["access_granted"] = True
        st.rerun()
    if given:
        st.error("Wrong password.")
    return False


def labeller_ok(config: dict, name: str) -> bool:
    """True when no list of allowed labellers is set, or ``name`` is on it."""
    allowed = config.get("allowed_labellers")
    if not allowed:
        return True
    if name in allowed:
        return True
    st.title("Haverford")
    if name:
        st.error("That name is not on this dashboard's list of allowed labellers.")
    else:
        st.info("Enter your name in the sidebar: only listed labellers may use this dashboard.")
    return False


# --- accounts (``haverford users add``): a login replaces the typed name --------------------

COOKIE = "haverford_login"


def session_actor() -> Actor | None:
    """The person logged in to the browser session running now, for ``core.accounts.require``.

    Read from the session's state on every call, so widget callbacks and fragments (which run
    without the app script) act as the right person; None outside a script run.
    """
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    name = st.session_state.get("access_user")
    return Actor(name) if name else None


def logged_in_user(db) -> dict | None:
    """The account of this browser session, checked against the database on every rerun.

    The session's token, else the login cookie sent when the page was (re)loaded; a token
    that no longer holds (expired, logged out, account disabled) ends the login.
    """
    user = accounts.user_from_token(db, st.session_state.get("access_token"))
    if user is None:
        token = st.context.cookies.get(COOKIE)
        user = accounts.user_from_token(db, token)
        st.session_state["access_token"] = token if user else None
    st.session_state["access_user"] = user["name"] if user else None
    return user


def login_form(db) -> None:
    """Ask for a name and password; on success keep a signed token in the session and a cookie."""
    st.title("Haverford")
    st.caption("This library has accounts: log in to label. An admin creates accounts with "
               "`haverford users add NAME`.")
    if st.session_state.pop("access_clear_cookie", False):
        _set_cookie("", max_age=0)
    with st.form("access_login"):
        name = st.text_input("Name", key="access_name", max_chars=40, autocomplete="username")
        password = st.text_input("Password", type="password", key="access_secret", autocomplete="current-password")
        if not st.form_submit_button("Log in", type="primary"):
            return
    try:
        user = accounts.login(db, name, password)
    except accounts.LoginError as exc:
        st.error(str(exc))
        return
    _start_session(db, user)
    st.rerun()


def _start_session(db, user: dict) -> None:
    st.session_state["access_token"] = accounts.issue_token(db, user)
    st.session_state["access_user"] = user["name"]
    st.session_state["access_store_cookie"] = True


def account_sidebar(db, user: dict) -> None:
    """Who is logged in, the log-out button, and the cookie write after a fresh login."""
    if st.session_state.pop("access_store_cookie", False):
        _set_cookie(st.session_state["access_token"], max_age=accounts.TOKEN_MAX_AGE_S)
    st.sidebar.caption(f"Logged in as **{user['name']}** ({user['role']}); answers are saved under this name.")
    if st.sidebar.button("Log out", key="access_logout"):
        accounts.logout(db, user["name"])
        for key in ("access_token", "access_user", "app_labeller"):
            st.session_state.pop(key, None)
        st.session_state["access_clear_cookie"] = True
        st.rerun()


def _set_cookie(token: str, *, max_age: int) -> None:
    """Set (or with ``max_age=0`` clear) the login cookie from the browser.

    Streamlit has no call to set a cookie from Python, so a tiny script does it; the value is a
    signed token (URL-safe base64 and dots), never a password.
    """
    st.html(f"<script>document.cookie = '{COOKIE}={token}; Path=/; Max-Age={int(max_age)}; SameSite=Strict';"
            f"</script>", unsafe_allow_javascript=True, width=1)


# --- without accounts: the typed name, kept in the URL ----------------------------------------

LABELLER_PARAM = "labeller"


def labeller_box() -> None:
    """The sidebar name box, the single place to change the labeller's name.

    The name lives in ``st.session_state["app_labeller"]`` (a plain key, so a page switch never
    drops it) and in the URL as ``?labeller=NAME``, so a reload, a new tab or a bookmark keeps it.
    """
    if "app_labeller" not in st.session_state:  # a new browser session: the URL knows the name
        st.session_state["app_labeller"] = st.query_params.get(LABELLER_PARAM, "").strip()[:40]
    st.session_state["app_labeller_box"] = st.session_state["app_labeller"]
    st.sidebar.text_input("Your name (stored with your answers)", key="app_labeller_box", max_chars=40,
                          placeholder="e.g. tom", on_change=_name_typed)
    keep_labeller_in_url()
    if not st.session_state["app_labeller"]:
        st.sidebar.caption("Enter your name to label segments.")


def _name_typed() -> None:
    st.session_state["app_labeller"] = (st.session_state.get("app_labeller_box") or "").strip()


def keep_labeller_in_url() -> None:
    """Put the typed name into the URL (or take it out when the box is empty)."""
    name = st.session_state.get("app_labeller", "")
    if name and st.query_params.get(LABELLER_PARAM) != name:
        st.query_params[LABELLER_PARAM] = name
    elif not name and LABELLER_PARAM in st.query_params:
        del st.query_params[LABELLER_PARAM]
