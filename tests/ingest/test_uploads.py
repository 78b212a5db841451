"""Uploads: safe file names that never leave the docs folder, the same limits as `make ingest`,
nothing left behind when an upload is refused or the store is busy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.uploads import (
    UPLOADS,
    check_upload,
    ingest_uploads,
    sanitize_filename,
    target_path,
)
from rag.config import Settings
from rag.errors import ConfigError, StoreLockedError

HOSTILE = [
    "../../etc/passwd.md", "..\\..\\windows\\evil.md", "/etc/cron.d/x.txt", "C:\\temp\\x.txt",
    "..", ".", "...", "", " ", "....md", ".hidden.md", "~$lock.docx", "a/../../b.md",
    "name\x00.md", "tab\tand\nnewline.md", "$(rm -rf ~).md", "`id`.txt", "*?<>|:.md",
    "uploads/../../../x.md", "%2e%2e%2fx.md", "\u202egnp.md", "a" * 400 + ".pdf",
    "报告" * 200 + ".md", "-rf.md", "CON.md", "naïve café.html",
]


def settings_for(tmp_path: Path, **extra: object) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    return Settings(_env_file=None, docs_dir=docs, store_dir=tmp_path / "store", **extra)  # type: ignore[arg-type,call-arg]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\evil.md", "evil.md"),
        ("/abs/path/report.PDF", "report.pdf"),
        (".hidden.md", "hidden.md"),
        ("..", "upload"),
        ("", "upload"),
        ("....md", "md"),
        ("员工手册 2024.md", "员工手册 2024.md"),
        ("a\x00b.md", "ab.md"),
        ("$(rm -rf ~).md", "(rm -rf _).md"),
        ("my report (final).docx", "my report (final).docx"),
    ],
)
def test_sanitize_filename(raw: str, safe: str) -> None:
    assert sanitize_filename(raw) == safe


@pytest.mark.parametrize("name", HOSTILE)
def test_an_upload_name_never_leaves_the_uploads_folder(tmp_path: Path, name: str) -> None:
    settings = settings_for(tmp_path)
    uploads = (tmp_path / "docs" / UPLOADS).resolve()
    path = target_path(settings, name)
    assert path.parent.resolve() == uploads
    assert path.name and not path.name.startswith(".")
    assert path.name not in (".", "..")
    assert "/" not in path.name and "\\" not in path.name and "\x00" not in path.name
    assert len(path.name.encode("utf-8")) <= 200


def test_a_symlink_in_the_uploads_folder_is_not_followed(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    outside = tmp_path / "outside.md"
    outside.write_text("keep me")
    (tmp_path / "docs" / UPLOADS).mkdir()
    os.symlink(outside, tmp_path / "docs" / UPLOADS / "link.md")
    with pytest.raises(ConfigError):
        target_path(settings, "link.md")
    assert outside.read_text() == "keep me"


def test_an_uploads_folder_linked_outside_the_docs_folder_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "docs" / UPLOADS)
    with pytest.raises(ConfigError, match="outside the documents folder"):
        target_path(settings, "a.md")


def test_type_and_size_limits_match_make_ingest(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_file_size_mb=1)
    assert check_upload(settings, "notes.md", 10) is None
    assert check_upload(settings, "Scan.PDF", 10) is None
    assert "unsupported file type '.exe'" in (check_upload(settings, "setup.exe", 10) or "")
    assert "unsupported file type '(none)'" in (check_upload(settings, "README", 10) or "")
    too_big = check_upload(settings, "big.pdf", 2 * 1024 * 1024) or ""
    assert too_big.startswith("file too large (2.0 MB > limit 1 MB)") and "RAG_MAX_FILE_SIZE_MB" in too_big
    assert check_upload(settings, "empty.txt", 0) == "empty file: no text to index"


def test_refused_uploads_are_not_saved(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_file_size_mb=1)
    result = ingest_uploads(settings, [("x.exe", b"MZ"), ("big.txt", b"a" * (2 * 1024 * 1024))])
    assert result.report is None and not result.added
    assert [f.path for f in result.failed] == ["x.exe", "big.txt"]
    assert not (tmp_path / "docs" / UPLOADS).exists()


def test_an_upload_while_the_store_is_being_written_is_refused_and_not_kept(tmp_path: Path) -> None:
    from ingest.locking import acquire_write_lock

    settings = settings_for(tmp_path)
    lock = acquire_write_lock(settings)  # as a running `make ingest` holds it
    try:
        with pytest.raises(StoreLockedError, match="wait for it to finish"):
            ingest_uploads(settings, [("notes.md", b"# Notes\n\nSome text.\n")])
        # the lock is taken before anything is written: a running ingestion never sees it
        assert not (tmp_path / "docs" / UPLOADS / "notes.md").exists()
    finally:
        lock.release()
    assert not (tmp_path / "docs" / UPLOADS / "notes.md").exists()


def test_spawned_parse_workers_do_not_rerun_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit runs a page as ``__main__``; a spawned worker would run that file again."""
    import sys
    import types
    from multiprocessing import spawn

    from ingest.workers import plain_main

    page = types.ModuleType("__main__")
    page.__file__ = "/srv/ui/views/documents.py"
    monkeypatch.setitem(sys.modules, "__main__", page)
    assert spawn.get_preparation_data("w").get("init_main_from_path") == page.__file__
    with plain_main():
        data = spawn.get_preparation_data("w")
        assert "init_main_from_path" not in data and "init_main_from_name" not in data
    assert sys.modules["__main__"] is page
