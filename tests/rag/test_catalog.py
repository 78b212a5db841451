"""The lexical index's counts and candidates (SQLite FTS5, a real file)."""

from __future__ import annotations

from pathlib import Path

from rag.catalog import Catalog, FileRecord


def _add(catalog: Catalog, source: str, texts: list[str]) -> None:
    record = FileRecord(source=source, root="/docs", sha256=source, size=1, title=source,
                        pages=None, chunks=len(texts), ingested_at=0.0)
    catalog.commit_file(record, [(f"{source}-{i}", t) for i, t in enumerate(texts)])


def test_document_frequencies_follow_writes_of_other_connections_and_its_own(tmp_path: Path) -> None:
    writer = Catalog(tmp_path)
    _add(writer, "a.md", ["The warehouse audit found misfiled invoices.", "The canteen opens at nine."])
    reader = Catalog.open_readonly(tmp_path)
    assert reader is not None
    assert reader.document_frequencies(["invoic", "the", "zebra"]) == (2, {"invoic": 1, "the": 2})
    _add(writer, "b.md", ["Invoices are paid within 30 days."])
    assert reader.document_frequencies(["invoic", "the"]) == (3, {"invoic": 2, "the": 2})
    assert writer.document_frequencies(["invoic"]) == (3, {"invoic": 2})
    writer.remove_file("a.md")
    assert writer.document_frequencies(["invoic", "the"]) == (1, {"invoic": 1})
    assert reader.document_frequencies(["invoic", "the"]) == (1, {"invoic": 1})


def test_function_words_do_not_bring_candidates_unless_they_are_all_there_is(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    _add(catalog, "a.md", ["The audit of the warehouse was at the end of the year."] * 3
         + ["Invoices are paid within 30 days."])
    hits = catalog.search("When are the invoices paid?", k=10)
    assert [cid for cid, _ in hits] == ["a.md-3"]  # not every chunk holding "the" or "are"
    assert len(catalog.search("What is it?", k=10)) == 0  # "is", "it": nothing to match
    assert len(catalog.search("the end", k=10)) == 3  # "end" is a content word
    assert len(catalog.search("at the", k=10)) == 3  # function words only: they are kept
