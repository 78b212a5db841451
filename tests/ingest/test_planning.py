"""Planning a sync from the books and the files on disk (the books are a stand-in here: the
real store's planning runs in every test of ``tests/ingest/test_sync.py``)."""

from __future__ import annotations

from pathlib import Path

from ingest.planning import FileToParse, plan_sync
from ingest.targets import collect_targets
from rag.catalog import FileRecord, sha256_file
from rag.config import load_settings


class Books:
    def __init__(self, files: dict[str, FileRecord], failures: dict[str, tuple[str, str, str]]):
        self._files, self._failures = files, failures

    def files(self) -> dict[str, FileRecord]:
        return self._files

    def failures(self) -> dict[str, tuple[str, str, str]]:
        return self._failures


def _record(source: str, root: Path, sha256: str) -> FileRecord:
    return FileRecord(source=source, root=str(root), sha256=sha256, size=1, title=source,
                      pages=None, chunks=1, ingested_at=0.0)


def test_plan_sorts_files_into_new_changed_unchanged_refused_and_removed(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in {"same.md": "same", "edited.md": "new text", "added.md": "added",
                       "broken.md": "still broken", "fixed.md": "fixed now",
                       "huge.md": "x" * 2048}.items():
        (docs / name).write_text(text, encoding="utf-8")
    settings = load_settings(docs_dir=docs, store_dir=tmp_path / "store",
                             max_file_size_mb=1024 / 1048576)
    sha = {path.name: sha256_file(path) for path in docs.iterdir()}
    books = Books(
        files={"same.md": _record("same.md", docs, sha["same.md"]),
               "edited.md": _record("edited.md", docs, "an older hash"),
               "gone.md": _record("gone.md", docs, "whatever"),
               "elsewhere.md": _record("elsewhere.md", tmp_path / "other", "kept")},
        failures={"broken.md": (str(docs), sha["broken.md"], "could not parse the file"),
                  "fixed.md": (str(docs), "the broken version's hash", "could not parse"),
                  "gone-broken.md": (str(docs), "whatever", "could not parse")},
    )
    plan = plan_sync(collect_targets([docs], settings), books, settings)

    assert plan.to_parse == [
        FileToParse(docs / "added.md", "added.md", str(docs), sha["added.md"], True),
        FileToParse(docs / "edited.md", "edited.md", str(docs), sha["edited.md"], False),
        FileToParse(docs / "fixed.md", "fixed.md", str(docs), sha["fixed.md"], True),
    ]
    assert plan.unchanged == 1
    refused = {failure.path: failure.error for failure in plan.failures}
    assert refused["broken.md"] == "could not parse the file"  # same content: the same error
    assert refused["huge.md"].startswith("file too large")
    assert "RAG_MAX_FILE_SIZE_MB" in refused["huge.md"]
    assert set(refused) == {"broken.md", "huge.md"}
    assert plan.removed == ["gone.md"]  # a file of another root is not this run's to remove
    assert plan.stale_failures == ["gone-broken.md"]
    assert not plan.nothing_to_do
    assert plan.hashes == {docs / name: sha[name]
                           for name in ("added.md", "broken.md", "edited.md", "fixed.md", "same.md")}

    # a second plan of the same run takes the hashes the first one read
    again = plan_sync(collect_targets([docs], settings), books, settings,
                      {**plan.hashes, docs / "added.md": "as read before"})
    assert again.to_parse[0].sha256 == "as read before"


def test_an_unchanged_folder_needs_nothing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("a", encoding="utf-8")
    settings = load_settings(docs_dir=docs, store_dir=tmp_path / "store")
    books = Books({"a.md": _record("a.md", docs, sha256_file(docs / "a.md"))}, {})
    plan = plan_sync(collect_targets([docs], settings), books, settings)
    assert plan.nothing_to_do and plan.unchanged == 1 and not plan.failures


def test_a_single_file_target_removes_nothing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("a", encoding="utf-8")
    settings = load_settings(docs_dir=docs, store_dir=tmp_path / "store")
    books = Books({"b.md": _record("b.md", docs, "b")}, {"c.md": (str(docs), "c", "bad")})
    plan = plan_sync(collect_targets([docs / "a.md"], settings), books, settings)
    assert [item.source for item in plan.to_parse] == ["a.md"]
    assert plan.removed == [] and plan.stale_failures == []
