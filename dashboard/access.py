"""Who may use the dashboard: an optional password and list of allowed labellers.

Both come from Streamlit's secrets (``.streamlit/secrets.toml`` where ``haverford serve`` runs,
or ``~/.streamlit/secrets.toml``)::

    [haverford]
    password = "a long shared secret"
    allowed_labellers = ["tom", "donna", "ben"]

With neither set, the dashboard is open (the default for a local, single-user tool).
"""

from __future__ import annotations

import hmac

import streamlit as st


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
