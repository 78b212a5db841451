"""Nothing outside the documents folder gets in: symbolic links out are refused and reported,
links inside are followed once, and a link cycle ends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ingest.sync import run_sync
from ingest.targets import collect_targets
from rag import factories
from rag.catalog import CATALOG_NAME
from rag.config import Settings, load_settings
from rag.store import stored_chunks

OUTSIDE = "symbolic link to a path outside the documents folder"


def _settings(docs: Path, store: Path) -> Settings:
    return load_settings(docs_dir=docs, store_dir=store)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "private"
    _write(folder / "salaries.md", "# Salaries\n\nAlice earns 90000 euros.\n")
    _write(folder / "more" / "bonus.md", "# Bonus\n\nBob gets a bonus.\n")
    return folder


def _names(docs: Path, store: Path) -> tuple[list[str], dict[str, str]]:
    (target,) = collect_targets([], _settings(docs, store))
    return [p.relative_to(target.root).as_posix() for p in target.files], dict(target.refused)


def test_links_out_are_refused_with_a_reason(docs: Path, store: Path, outside: Path) -> None:
    _write(docs / "policy.md", "# Policy\n\nTwenty days.\n")
    (docs / "salaries.md").symlink_to(outside / "salaries.md")  # a file, absolute target
    (docs / "private").symlink_to(outside, target_is_directory=True)  # a folder
    (docs / "sub").mkdir()
    (docs / "sub" / "up.md").symlink_to("../../private/salaries.md")  # relative, via ..
    files, refused = _names(docs, store)
    assert files == ["policy.md"]
    assert set(refused) == {"salaries.md", "private", "sub/up.md"}
    for reason in refused.values():
        assert reason.startswith(OUTSIDE) and reason.endswith("copy the file in instead")
        assert str(outside.resolve()) in reason


def test_links_inside_are_followed_once(docs: Path, store: Path) -> None:
    _write(docs / "2024" / "policy.md", "# Policy\n\nTwenty days.\n")
    _write(docs / ".archive" / "old.md", "# Old\n\nTen days.\n")
    (docs / "current").symlink_to(docs / "2024", target_is_directory=True)  # same files again
    (docs / "same.md").symlink_to("2024/policy.md")
    (docs / "archive").symlink_to(".archive", target_is_directory=True)  # only reachable by link
    (docs / "gone.md").symlink_to("nothing-here.md")
    files, refused = _names(docs, store)
    assert files == ["2024/policy.md", "archive/old.md"]
    assert list(refused) == ["gone.md"] and refused["gone.md"].startswith("broken symbolic link")


def test_a_link_cycle_ends(docs: Path, store: Path) -> None:
    _write(docs / "a" / "note.md", "# Note\n\nHello.\n")
    (docs / "a" / "loop").symlink_to("..", target_is_directory=True)
    (docs / "a" / "self").symlink_to(".", target_is_directory=True)
    (docs / "b").symlink_to("a", target_is_directory=True)
    (docs / "a" / "ping").symlink_to("pong")
    (docs / "a" / "pong").symlink_to("ping")
    files, refused = _names(docs, store)
    assert files == ["a/note.md"]
    assert set(refused) == {"a/ping", "a/pong"}


def test_a_file_argument_linking_out_is_refused(docs: Path, store: Path, outside: Path) -> None:
    (docs / "salaries.md").symlink_to(outside / "salaries.md")
    (target,) = collect_targets([docs / "salaries.md"], _settings(docs, store))
    assert target.files == []
    assert [s for s, _ in target.refused] == ["salaries.md"]
    assert target.refused[0][1].startswith(OUTSIDE)


def test_sync_reports_links_out_and_never_stores_them(docs: Path, store: Path, outside: Path) -> None:
    settings = _settings(docs, store)
    _write(docs / "policy.md", "# Policy\n\nFull-time staff get 25 vacation days.\n")
    _write(docs / "hr" / "leave.md", "# Leave\n\nTen sick days.\n")
    (docs / "salaries.md").symlink_to(outside / "salaries.md")
    (docs / "private").symlink_to(outside, target_is_directory=True)
    (docs / "leave-current").symlink_to("hr", target_is_directory=True)
    report = run_sync([], settings)
    assert report.files_added == 2
    failed = {f.path: f.error for f in report.files_failed}
    assert set(failed) == {"salaries.md", "private"}
    assert all(error.startswith(OUTSIDE) for error in failed.values())
    with sqlite3.connect(Path(settings.store_dir) / CATALOG_NAME) as conn:
        sources = {r[0] for r in conn.execute("SELECT source FROM files")}
    assert sources == {"policy.md", "hr/leave.md"}
    stored = factories.build_chroma_client(settings).get_collection(settings.collection).get()
    assert {m["source"] for m in stored["metadatas"]} == sources
    texts = " ".join(text for _, text, _ in stored_chunks(stored))
    assert "90000" not in texts and "bonus" not in texts.lower()
