"""Sign-in on the chat page (Streamlit's AppTest): the first start creates the administrator,
wrong passwords are refused and recorded, sessions expire, and a user sees only the documents
their groups may see (the documents page and the answers)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest.sync import run_sync
from ingest.workers import plain_main
from rag.config import Settings
from rag.users import Users
from tests.ui.conftest import ADMIN, ADMIN_PASSWORD, APP, KB, TIMEOUT, use_kb


def _settings(kb: KB) -> Settings:
    return Settings(_env_file=None, store_dir=kb.store, docs_dir=kb.docs)  # type: ignore[call-arg]


def _audit(kb: KB) -> list[dict[str, object]]:
    path = kb.store / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_the_first_start_creates_the_administrator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = use_kb(monkeypatch, KB(store=tmp_path / "store", docs=tmp_path / "docs"))
    kb.docs.mkdir()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert at.title[0].value == "Create the administrator account"
    at.text_input(key="admin_name").set_value("boss")
    at.text_input(key="admin_password").set_value("s3cret-pass")
    at.text_input(key="admin_again").set_value("other-pass")
    at.button[0].click().run()
    assert "differ" in at.error[0].value
    at.text_input(key="admin_again").set_value("s3cret-pass")
    at.text_input(key="admin_password").set_value("s3cret-pass")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["signed_in_user"] == "boss"
    users = Users(_settings(kb))
    assert users.require("boss").admin and users.verify_password("boss", "s3cret-pass")
    users.close()


def test_sign_in_refuses_a_wrong_password_and_expires(kb_copy: KB, monkeypatch: pytest.MonkeyPatch) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert at.button[0].label == "Sign in" and not at.chat_input
    at.text_input(key="sign_in_name").set_value(ADMIN)
    at.text_input(key="sign_in_password").set_value("wrong password")
    at.button[0].click().run()
    assert at.error[0].value == "Wrong user name or password."
    at.text_input(key="sign_in_password").set_value(ADMIN_PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["signed_in_user"] == ADMIN
    events = [(e["event"], e["user"]) for e in _audit(kb_copy)]
    assert ("sign_in_failed", ADMIN) in events and ("sign_in", ADMIN) in events
    monkeypatch.setenv("RAG_SESSION_HOURS", "0.0001")  # 0.36 s
    time.sleep(0.5)
    at.run()
    assert at.button[0].label == "Sign in"  # expired: the form again


def test_a_user_sees_only_what_their_groups_may(kb_copy: KB, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (kb_copy.docs / "hr").mkdir()
    (kb_copy.docs / "hr" / "salaries.md").write_text("# Salary bands\n\nBand zebracanary pays 90,000.\n")
    rules = tmp_path / "access.yaml"
    rules.write_text("- {path: 'hr/*', groups: [hr]}\n")
    monkeypatch.setenv("RAG_ACCESS_FILE", str(rules))
    settings = _settings(kb_copy)
    with plain_main():  # an AppTest run before this one leaves its script as __main__
        report = run_sync([kb_copy.docs / "hr" / "salaries.md"], settings)
    assert report.files_added == 1, report.files_failed
    users = Users(settings)
    users.add("carol", password="carol-password")
    users.close()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["signed_in_user"] = "carol"
    at.session_state["signed_in_at"] = time.time()
    at.switch_page("views/documents.py").run()
    assert not at.exception, at.exception
    listed = " ".join(str(df.value) for df in at.dataframe)
    assert "en/handbook.md" in listed and "salaries" not in listed
    at.switch_page("views/chat.py").run()
    at.chat_input(key="question").set_value("Which band is zebracanary?").run()
    shown = " ".join(str(e.value) for kind in ("markdown", "text", "warning", "caption", "info")
                     for e in getattr(at, kind))
    assert "zebracanary" not in shown.replace("Which band is zebracanary?", "")
    assert "salaries" not in shown


def test_an_admin_upload_for_a_group_is_hidden_from_others(kb_copy: KB) -> None:
    settings = _settings(kb_copy)
    users = Users(settings)
    users.add("carol", password="carol-password")
    users.close()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["signed_in_user"] = ADMIN
    at.session_state["signed_in_at"] = time.time()
    at.switch_page("views/documents.py").run()
    at.file_uploader(key="upload_files").set_value([
        ("bands.md", b"# Bands\n\nBand okapicanary pays 70,000.\n", "text/markdown")])
    at.text_input(key="upload_groups_admin").set_value("hr")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    assert Users(settings).document_groups()["uploads/bands.md"] == frozenset({"hr"})
    at.session_state["signed_in_user"] = "carol"
    at.run()
    assert "bands.md" not in " ".join(str(df.value) for df in at.dataframe)
    events = [e["event"] for e in _audit(kb_copy)]
    assert "upload" in events
