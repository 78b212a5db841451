"""Fixtures of the chat page tests: one tiny knowledge base ingested once per test session."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

APP = ROOT / "ui" / "app.py"
ARTIFACTS = ROOT / "tests" / "artifacts"
TIMEOUT = 120  # seconds for one AppTest run (the real model and embedder)

CORPUS = {
    "en/handbook.md": (
        "# Employee handbook\n\n## Vacation\n\nFull-time employees get 25 vacation days per "
        "calendar year, in addition to public holidays. Part-time employees get vacation days "
        "pro rata to their contract.\n\n## Remote work\n\nEmployees may work remotely for up to "
        "3 days a week, in agreement with their team.\n"
    ),
    "en/it.txt": (
        "IT onboarding. The VPN client is called NetGate and the help desk installs it on "
        "your first day. Laptops are replaced every four years.\n"
    ),
    "zh/员工手册.md": (
        "# 员工手册\n\n## 年假\n\n上海办公室正式员工每年享有 15 天带薪年假（包含法定年休假）。\n\n"
        "## 报销\n\n出差的出租车费用凭发票报销。\n"
    ),
}
EN_QUESTION = "How many vacation days do full-time employees get per year?"
ADMIN, ADMIN_PASSWORD = "admin", "correct horse battery"


def add_admin(store: Path, users_db: Path | None = None) -> None:
    """The page needs a signed-in user: the administrator of this store."""
    from rag.config import Settings
    from rag.users import Users

    users = Users(Settings(_env_file=None, store_dir=store, users_db=users_db))  # type: ignore[call-arg]
    try:
        if users.get(ADMIN) is None:
            users.add(ADMIN, admin=True, password=ADMIN_PASSWORD)
    finally:
        users.close()


@dataclass(frozen=True)
class KB:
    store: Path
    docs: Path


def write_corpus(docs: Path, corpus: dict[str, str] = CORPUS) -> None:
    for name, text in corpus.items():
        path = docs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="session")
def ui_kb(tmp_path_factory: pytest.TempPathFactory) -> KB:
    """The tiny corpus, ingested once (read-only for the tests: copy it to change it)."""
    from ingest.sync import run_sync
    from ingest.workers import plain_main
    from rag.config import Settings

    base = tmp_path_factory.mktemp("ui-kb")
    kb = KB(store=base / "store", docs=base / "docs")
    write_corpus(kb.docs)
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("RAG_"):
                mp.delenv(key)
        settings = Settings(_env_file=None, store_dir=kb.store, docs_dir=kb.docs)  # type: ignore[call-arg]
        with plain_main():  # an AppTest run before this one leaves its script as __main__
            report = run_sync([], settings)
    assert report.ok and report.files_added == len(CORPUS), report
    add_admin(kb.store)
    return kb


def use_kb(monkeypatch: pytest.MonkeyPatch, kb: KB) -> KB:
    monkeypatch.setenv("RAG_STORE_DIR", str(kb.store))
    monkeypatch.setenv("RAG_DOCS_DIR", str(kb.docs))
    return kb


@pytest.fixture()
def kb(ui_kb: KB, monkeypatch: pytest.MonkeyPatch) -> KB:
    """The shared knowledge base, named by RAG_STORE_DIR / RAG_DOCS_DIR."""
    return use_kb(monkeypatch, ui_kb)


@pytest.fixture()
def kb_copy(ui_kb: KB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KB:
    """A private copy of the knowledge base, for tests that write to it. (Its catalog still
    names the shared docs folder as the root of the copied documents.)"""
    copy = KB(store=tmp_path / "kb" / "store", docs=tmp_path / "kb" / "docs")
    shutil.copytree(ui_kb.store, copy.store)
    shutil.copytree(ui_kb.docs, copy.docs)
    (copy.store / ".write.lock").unlink(missing_ok=True)
    return use_kb(monkeypatch, copy)


@pytest.fixture()
def empty_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KB:
    kb = KB(store=tmp_path / "empty-store", docs=tmp_path / "empty-docs")
    kb.docs.mkdir()
    users_db = tmp_path / "users.sqlite3"  # beside, so that the store folder stays absent
    add_admin(kb.store, users_db)
    monkeypatch.setenv("RAG_USERS_DB", str(users_db))
    return use_kb(monkeypatch, kb)
