"""Sign-in for the chat page: the first start creates the administrator account; afterwards
every page needs a signed-in user (passwords checked by :mod:`rag.users`), for
``RAG_SESSION_HOURS``. The user is read afresh on every run, so a change of groups (or a removed
account) takes effect at once. Sign-ins and failed ones go to the audit trail."""

from __future__ import annotations

import time

import streamlit as st

from rag.audit import record
from rag.config import Settings
from rag.errors import ConfigError
from rag.users import User, Users
from ui.i18n import t

_USER, _SINCE = "signed_in_user", "signed_in_at"


def current_user(settings: Settings) -> User | None:
    """The signed-in user, or None (expired, removed, or never signed in)."""
    name, since = st.session_state.get(_USER), st.session_state.get(_SINCE, 0.0)
    if not name or time.time() - since > settings.session_hours * 3600:
        return None
    users = Users(settings)
    try:
        return users.get(name)
    finally:
        users.close()


def sign_in(name: str) -> None:
    st.session_state[_USER] = name
    st.session_state[_SINCE] = time.time()


def sign_out() -> None:
    for key in (_USER, _SINCE):
        st.session_state.pop(key, None)


def require_user(settings: Settings) -> User:
    """The signed-in user; otherwise the sign-in (or first-admin) form, and the run stops."""
    user = current_user(settings)
    if user is not None:
        return user
    sign_out()
    users = Users(settings)
    try:
        if not users.has_admin():
            _create_admin(settings, users)
        else:
            _sign_in_form(settings, users)
    finally:
        users.close()
    st.stop()
    raise AssertionError("st.stop() does not return")


def _sign_in_form(settings: Settings, users: Users) -> None:
    st.title(t("app_title"))
    with st.form("sign_in"):
        name = st.text_input(t("user_name"), key="sign_in_name")
        password = st.text_input(t("password"), type="password", key="sign_in_password")
        if st.form_submit_button(t("sign_in"), type="primary"):
            user = users.verify_password(name.strip(), password)
            if user is None:
                record(settings, "sign_in_failed", name.strip()[:64] or None, via="page")
                st.error(t("wrong_sign_in"))
                return
            record(settings, "sign_in", user.name, via="page")
            sign_in(user.name)
            st.rerun()


def _create_admin(settings: Settings, users: Users) -> None:
    st.title(t("create_admin"))
    st.caption(t("create_admin_intro"))
    with st.form("create_admin"):
        name = st.text_input(t("user_name"), value="admin", key="admin_name")
        password = st.text_input(t("password"), type="password", key="admin_password")
        again = st.text_input(t("password_again"), type="password", key="admin_again")
        if st.form_submit_button(t("create_admin"), type="primary"):
            if password != again:
                st.error(t("passwords_differ"))
                return
            try:
                user, _ = users.add(name.strip(), admin=True, password=password)
            except ConfigError as exc:
                st.error(str(exc))
                return
            record(settings, "sign_in", user.name, via="page", created_admin=True)
            sign_in(user.name)
            st.rerun()
