"""ingest.manage.delete_document: Chroma first, then the catalog, then the file if it is in the
docs folder; under the store's write lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.locking import acquire_write_lock
from ingest.manage import delete_document
from ingest.sync import run_sync
from rag import factories
from rag.catalog import Catalog
from rag.config import load_settings
from rag.errors import StoreLockedError
from tests.ui.conftest import KB


def chroma_sources(settings: object) -> set[str]:
    factories.reset_chroma_cache()
    client = factories.build_chroma_client(settings)  # type: ignore[arg-type]
    got = client.get_collection(settings.collection).get(include=["metadatas"])  # type: ignore[attr-defined]
    return {m["source"] for m in got["metadatas"]}


def test_delete_removes_chunks_and_catalog_rows_but_not_files_outside_the_docs_folder(
    kb_copy: KB, ui_kb: KB
) -> None:
    settings = load_settings()
    assert "en/it.txt" in chroma_sources(settings)
    catalog = Catalog.open_readonly(settings.store_dir)
    assert catalog is not None
    before = catalog.get_meta("last_sync")
    catalog.close()

    assert delete_document(settings, "en/it.txt") is True

    assert "en/it.txt" not in chroma_sources(settings)
    catalog = Catalog.open_readonly(settings.store_dir)
    assert catalog is not None
    assert "en/it.txt" not in catalog.files() and "en/handbook.md" in catalog.files()
    assert catalog.search("NetGate VPN", 5) == []
    assert catalog.get_meta("last_sync") != before  # the chat page sees the change
    catalog.close()
    # The copy's catalog names the shared docs folder, which is not this store's docs folder.
    assert (ui_kb.docs / "en" / "it.txt").is_file()
    assert delete_document(settings, "en/it.txt") is False
    assert delete_document(settings, "no/such.md") is False


def test_delete_removes_the_file_from_the_docs_folder(kb_copy: KB) -> None:
    settings = load_settings()
    extra = kb_copy.docs / "extra" / "note.md"
    extra.parent.mkdir()
    extra.write_text("# Note\n\nThe canteen opens at half past eleven.\n", encoding="utf-8")
    report = run_sync([extra], settings)
    assert report.files_added == 1
    assert delete_document(settings, "extra/note.md") is True
    assert not extra.exists()
    assert "extra/note.md" not in chroma_sources(settings)
    # The next `make ingest` of the docs folder does not bring it back.
    run_sync([], settings)
    catalog = Catalog.open_readonly(settings.store_dir)
    assert catalog is not None and "extra/note.md" not in catalog.files()
    catalog.close()


def test_delete_is_refused_while_the_store_is_written(kb_copy: KB) -> None:
    settings = load_settings()
    lock = acquire_write_lock(settings)
    try:
        with pytest.raises(StoreLockedError):
            delete_document(settings, "en/it.txt")
    finally:
        lock.release()
    assert delete_document(settings, "en/it.txt") is True


def test_delete_on_an_empty_store_is_false(empty_kb: KB) -> None:
    assert delete_document(load_settings(), "a.md") is False
    assert not Path(empty_kb.store).exists()
