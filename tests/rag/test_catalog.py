"""The lexical index's counts and candidates (SQLite FTS5, a real file)."""

from __future__ import annotations

from pathlib import Path

from rag.catalog import Catalog, FileRecord
from rag.lexical import index_tokens


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


def test_common_terms_only_rescore_and_the_scores_stay_fts5s(tmp_path: Path, monkeypatch) -> None:
    """Over the postings budget the commonest terms no longer choose candidates, but a
    candidate's score is still FTS5's BM25 over every term (compared with SQLite's own)."""
    catalog = Catalog(tmp_path)
    texts = [f"Report {i} on the {('budget', 'office', 'canteen')[i % 3]}." for i in range(60)]
    texts += ["The office budget for travel was cut.", "Travel budget: office travel rules.",
              "Travel expenses are refunded monthly."]
    _add(catalog, "a.md", texts)
    question = "What is the office travel budget?"
    exact = catalog.search(question, k=100)  # 3 + 22 + 22 rows of postings: under the budget
    assert len(exact) == 43
    monkeypatch.setattr("rag.bm25.POSTINGS_BUDGET", 5)
    bounded = catalog.search(question, k=100)
    # "travel" (3 rows) chooses; "budget" and "offic" (22 rows each) only add to the scores.
    assert [cid for cid, _ in bounded] == ["a.md-61", "a.md-60", "a.md-62"]
    for (cid, score), (exact_cid, exact_score) in zip(bounded, exact[:3], strict=True):
        assert cid == exact_cid and abs(score - exact_score) < 1e-9
    assert len(catalog.search(question, k=2)) == 2
    rows, tokens = catalog._index_sizes()
    assert (rows, tokens) == (63, sum(len(index_tokens(t)) for t in texts))


def test_a_new_file_is_added_without_scanning_the_index_and_a_changed_one_replaced(
        tmp_path: Path) -> None:
    """A file the catalog does not have has no rows, so its commit deletes none."""
    catalog = Catalog(tmp_path)
    statements: list[str] = []
    catalog.conn.set_trace_callback(statements.append)
    _add(catalog, "a.md", ["Invoices are paid within 30 days.", "The canteen opens at nine."])
    assert not [s for s in statements if s.startswith("DELETE FROM chunks_fts")]
    _add(catalog, "a.md", ["Invoices are paid within 45 days."])  # changed: its old rows go
    assert [s for s in statements if s.startswith("DELETE FROM chunks_fts")]
    rows = catalog.conn.execute("SELECT chunk_id, tokens FROM chunks_fts").fetchall()
    assert rows == [("a.md-0", " ".join(index_tokens("Invoices are paid within 45 days.")))]
    catalog.remove_file("a.md")
    _add(catalog, "a.md", ["Back again."])
    assert catalog.conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0] == 1


def test_a_files_rows_are_found_through_the_row_map_also_in_a_catalog_from_before_it(
        tmp_path: Path) -> None:
    """FTS5 finds a source's rows only by reading every row (70 ms at 110,000 chunks): a changed
    or removed file's rows are found through ``fts_rows``, which an older catalog gets on open."""
    catalog = Catalog(tmp_path)
    _add(catalog, "a.md", ["Invoices are paid within 30 days.", "The canteen opens at nine."])
    _add(catalog, "b.md", ["Parking is free.", "Badges are blue."])
    with catalog.conn:  # as a catalog written before the row map was
        catalog.conn.execute("DELETE FROM fts_rows")
        catalog.conn.execute("DELETE FROM meta WHERE key = 'fts_rows'")
    catalog.close()

    catalog = Catalog(tmp_path)
    statements: list[str] = []
    catalog.conn.set_trace_callback(statements.append)
    _add(catalog, "a.md", ["Invoices are paid within 45 days."])
    catalog.remove_file("b.md")
    _add(catalog, "c.md", ["Lockers are in the basement."])

    deletes = [s for s in statements if s.startswith("DELETE FROM chunks_fts")]
    assert len(deletes) == 2 and all("rowid IN (SELECT row FROM fts_rows" in s for s in deletes)
    rows = catalog.conn.execute("SELECT rowid, chunk_id, source FROM chunks_fts ORDER BY rowid").fetchall()
    assert [r[1] for r in rows] == ["a.md-0", "c.md-0"]
    mapped = catalog.conn.execute("SELECT row, source FROM fts_rows ORDER BY row").fetchall()
    assert mapped == [(r[0], r[2]) for r in rows]
    assert catalog.search("invoices paid", 5)[0][0] == "a.md-0"
