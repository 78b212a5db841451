"""The documents page: what the knowledge base holds, uploads, deletes."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import streamlit as st

from ingest import uploads
from ingest.loaders import SUPPORTED_EXTENSIONS
from ingest.manage import delete_as, document_file
from ingest.progress import IngestProgress, Snapshot
from rag.access import access_for, visible_documents
from rag.audit import record
from rag.catalog import FileRecord
from rag.config import Settings
from rag.errors import RagError
from rag.users import User, Users, parse_groups
from ui import auth, resources
from ui.i18n import t
from ui.upload_progress import progress_text

FLASH = "docs_flash"  # (kind, message) shown once at the top after a delete
CONFIRM = "docs_confirm_delete"


def catalog_view(settings: Settings, user: User | None) -> tuple[dict[str, FileRecord], dict[str, str]]:
    """Files in the store the user may see, and files that failed (source -> error)."""
    access = access_for(settings, user)
    try:
        return visible_documents(settings, access)
    except Exception:  # noqa: BLE001 - the list is shown again on the next run
        return {}, {}


def upload_form(settings: Settings, user: User | None) -> None:
    st.subheader(t("upload"))
    types = [ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS]
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader(
            t("upload_label"),
            type=types, accept_multiple_files=True, key="upload_files",
            max_upload_size=max(1, math.ceil(settings.max_file_size_mb)),
        )
        groups: list[str] | None = None
        named = ""
        if user is not None and user.groups and not user.admin:
            groups = st.multiselect(t("share_with"), sorted(user.groups),
                                    default=sorted(user.groups), key="upload_groups")
        elif user is None or user.admin:
            named = st.text_input(t("share_with_admin"), key="upload_groups_admin")
        submitted = st.form_submit_button(t("upload_button"), icon=":material/upload:")
    if not submitted:
        return
    if not files:
        st.warning(t("upload_none"))
        return
    status = st.empty()  # the progress bar while ingesting, then what was done
    status.progress(0.0, text=progress_text(Snapshot(0, len(files), 0, 0.0, 0.0, 0.0, None)))
    model = IngestProgress()

    def progress(kind: str, done: int, total: int) -> None:
        model(kind, done, total)
        snap = model.snapshot()
        status.progress(snap.fraction, text=progress_text(snap))

    try:
        if named.strip():
            groups = parse_groups(named)
        result = uploads.upload_as(settings, [(f.name, f.getvalue()) for f in files], user,
                                   groups, progress)
    except RagError as exc:
        status.empty()
        st.error(str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - a message, never a traceback
        status.empty()
        st.error(t("upload_failed", file=", ".join(f.name for f in files),
                   error=f"{type(exc).__name__}: {exc}"))
        return
    if model.started:
        status.caption(progress_text(model.snapshot(), final=True))
    else:
        status.empty()
    record(settings, "upload", user.name if user else None, via="page",
           files=[f.name for f in files], added=result.added,
           failed=[f.path for f in result.failed])
    if result.added:
        st.success(t("upload_ok", files=", ".join(f"`{s}`" for s in result.added)),
                   icon=":material/check_circle:")
    for failure in result.failed:
        st.error(t("upload_failed", file=failure.path, error=failure.error))


def document_table(files: dict[str, FileRecord]) -> None:
    st.subheader(t("doc_list"))
    if not files:
        st.info(t("no_docs"))
        return
    rows = [
        {
            t("col_file"): r.source,
            t("col_pages"): r.pages,
            t("col_chunks"): r.chunks,
            t("col_size"): round(r.size / 1024, 1),
            t("col_ingested"): dt.datetime.fromtimestamp(r.ingested_at).strftime("%Y-%m-%d %H:%M"),
        }
        for r in sorted(files.values(), key=lambda r: r.source)
    ]
    st.dataframe(rows, hide_index=True, width="stretch", placeholder="—")


def _do_delete(settings: Settings, source: str) -> None:
    st.session_state[CONFIRM] = None
    try:
        user = auth.current_user(settings)
        gone = delete_as(settings, source, user)
        record(settings, "delete", user.name if user else None, via="page", source=source,
               deleted=gone)
    except RagError as exc:
        st.session_state[FLASH] = ("error", str(exc))
        return
    except Exception as exc:  # noqa: BLE001
        st.session_state[FLASH] = ("error", f"{type(exc).__name__}: {exc}")
        return
    key = "deleted" if gone else "delete_missing"
    st.session_state[FLASH] = ("success" if gone else "warning", t(key, source=source))


def _ask_confirm() -> None:
    st.session_state[CONFIRM] = st.session_state.get("delete_pick")


def _cancel() -> None:
    st.session_state[CONFIRM] = None


def delete_section(settings: Settings, files: dict[str, FileRecord], failures: dict[str, str]) -> None:
    sources = sorted(set(files) | set(failures))
    if not sources:
        return
    st.subheader(t("delete"))
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    left.selectbox(t("delete_pick"), sources, key="delete_pick")
    right.button(t("delete_button"), icon=":material/delete:", on_click=_ask_confirm,
                 key="delete_ask", width="stretch")
    source = st.session_state.get(CONFIRM)
    if source not in sources:
        return
    record = files.get(source)
    root = record.root if record else None
    on_disk = root is not None and document_file(settings, root, source) is not None
    outside = root is not None and not on_disk
    extra = t("delete_and_file") if on_disk else ""
    st.warning(t("delete_confirm", source=source, and_file=extra)
               + (t("delete_outside") if outside else ""), icon=":material/warning:")
    yes, no = st.columns(2)
    yes.button(t("delete_yes"), type="primary", on_click=_do_delete, args=(settings, source),
               key="delete_yes", width="stretch")
    no.button(t("cancel"), on_click=_cancel, key="delete_cancel", width="stretch")


def main() -> None:
    settings = resources.settings_or_stop()
    st.title(t("docs_title"))
    folder = Path(settings.docs_dir) / uploads.UPLOADS
    st.caption(t("docs_intro", folder=folder))
    flash = st.session_state.pop(FLASH, None)
    if flash:
        getattr(st, flash[0])(flash[1])
    user = auth.current_user(settings)
    upload_form(settings, user)
    files, failures = catalog_view(settings, user)
    document_table(files)
    if user is not None and not user.admin:  # a user deletes only their own uploads
        users = Users(settings)
        try:
            mine = {s for s in set(files) | set(failures) if users.uploader(s) == user.name}
        finally:
            users.close()
        files = {s: r for s, r in files.items() if s in mine}
        failures = {s: e for s, e in failures.items() if s in mine}
    delete_section(settings, files, failures)
    if failures:
        with st.expander(t("failures", n=len(failures)), icon=":material/report:"):
            for source, error in sorted(failures.items()):
                st.markdown(f"- `{source}`: {error}")


main()
