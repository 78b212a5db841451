"""Entry of the chat page: ``streamlit run ui/app.py`` (``make run`` does it for you)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run ui/app.py` puts only ui/ on the path
    sys.path.insert(0, str(ROOT))

from rag.config import load_settings  # noqa: E402
from rag.errors import RagError  # noqa: E402
from ui import auth, i18n  # noqa: E402
from ui.sidebar import PERSISTENT_KEYS  # noqa: E402

HERE = Path(__file__).resolve().parent
# The pages live in views/, not pages/: a pages/ folder beside the entry script switches on
# Streamlit's older multipage mode, in which a first visit to /documents runs that page alone.


def configured_language() -> str:
    try:
        return load_settings().ui_language
    except RagError:
        return "auto"  # the page itself shows the settings error


def main() -> None:
    st.set_page_config(page_title="Knowledge base", page_icon="📚",
                       layout="centered")
    i18n.init_language(configured_language())
    for key in PERSISTENT_KEYS:  # keep the answer settings while another page is shown
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    try:
        settings = load_settings()
    except RagError as exc:
        st.error(i18n.t("settings_error", error=exc))
        return
    user = auth.require_user(settings)  # the sign-in form (and a stop) until someone signs in
    pages = [
        st.Page(HERE / "views" / "chat.py", title=i18n.t("page_chat"), icon=":material/forum:",
                url_path="chat", default=True),
        st.Page(HERE / "views" / "documents.py", title=i18n.t("page_documents"),
                icon=":material/folder_open:", url_path="documents"),
    ]
    if user.admin:
        pages.append(st.Page(HERE / "views" / "admin.py", title=i18n.t("page_admin"),
                             icon=":material/monitoring:", url_path="usage"))
    page = st.navigation(pages)
    i18n.language_switch()
    with st.sidebar:
        st.caption(i18n.t("signed_in_as", name=user.name))
        if st.button(i18n.t("sign_out"), key="sign_out"):
            auth.sign_out()
            st.rerun()
    page.run()


main()
