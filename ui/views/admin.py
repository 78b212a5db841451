"""Usage, for administrators: questions per day, latency, not-found rate, the most cited
documents and the questions the knowledge base could not answer (from the audit trail)."""

from __future__ import annotations

import streamlit as st

from rag.audit import stats
from rag.users import Users
from ui import auth, resources
from ui.i18n import t


def main() -> None:
    settings = resources.settings_or_stop()
    user = auth.current_user(settings)
    if user is None or not user.admin:
        st.stop()
    st.title(t("page_admin"))
    found = stats(settings)
    left, middle, right = st.columns(3)
    left.metric("Questions", found.questions)
    middle.metric("Not found", f"{found.not_found_rate:.0%}")
    right.metric("Answer p50 / p95",
                 f"{(found.answer_ms_p50 or 0) / 1000:.1f} / {(found.answer_ms_p95 or 0) / 1000:.1f} s")
    if found.per_day:
        st.bar_chart(found.per_day, x_label="day", y_label="questions")
    st.subheader("Questions without an answer (what the knowledge base is missing)")
    st.dataframe([{"question": q, "asked": n} for q, n in found.top_unanswered],
                 hide_index=True, width="stretch", placeholder="—")
    st.subheader("Most cited documents")
    st.dataframe([{"document": d, "cited": n} for d, n in found.top_documents],
                 hide_index=True, width="stretch", placeholder="—")
    st.caption(f"sign-ins {found.sign_ins}, failed {found.failed_sign_ins}; uploads "
               f"{found.uploads}; deletes {found.deletes}")
    users = Users(settings)
    try:
        st.subheader("Users")
        st.dataframe([{"user": u.name, "groups": ", ".join(sorted(u.groups)),
                       "admin": u.admin} for u in users.all()], hide_index=True, width="stretch")
    finally:
        users.close()
    st.caption("Manage users with `python -m rag users add|list|remove|passwd|groups|key|revoke`.")


main()
