"""``make bench-scale``'s parts on a small real folder: the generated corpus is unique text, and
after a 1% change and a sync the in-step check sees the lexical index and Chroma agree (and
would see them disagree)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devtools.bench_scale import change_one_percent, in_step, make_corpus
from ingest.sync import run_sync
from rag import factories
from rag.config import load_settings

EVAL_DOCS = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "docs_en"


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    if not EVAL_DOCS.is_dir():
        pytest.skip("../shared/eval is not beside the project")
    folder = tmp_path / "source"
    folder.mkdir()
    for name in ("super-bowl-50.md", "apollo-program.md"):
        shutil.copy(EVAL_DOCS / name, folder / name)
    return folder


def test_the_corpus_is_shuffled_marked_copies(source: Path, tmp_path: Path) -> None:
    files = make_corpus(source, tmp_path / "docs", copies=3)
    assert len(files) == 6
    references = [p for f in files for p in f.read_text(encoding="utf-8").split("\n\n")[2::2]]
    assert all(r.startswith("Reference ") for r in references)
    assert len(set(references)) == len(references)  # every paragraph's reference is unique
    first, second = (tmp_path / "docs" / f"part-00{i}" / "apollo-program.md" for i in (0, 1))
    assert first.read_text() != second.read_text()  # shuffled differently
    assert sorted(first.read_text().split("\n\n")[1::2]) == sorted(second.read_text().split("\n\n")[1::2])
    assert make_corpus(source, tmp_path / "again", copies=3)[0].read_text() == files[0].read_text()


@pytest.mark.slow
def test_after_a_change_the_lexical_index_and_chroma_are_in_step(source: Path, tmp_path: Path) -> None:
    docs, store = tmp_path / "docs", tmp_path / "store"
    files = make_corpus(source, docs, copies=2)
    settings = load_settings(store_dir=store)
    run_sync([docs], settings)
    change = change_one_percent(files, docs)
    assert (change["edited"], change["removed"], change["added"]) == (2, 1, 1)
    report = run_sync([docs], settings)
    assert (report.files_updated, report.files_removed, report.files_added) == (2, 1, 1)
    step = in_step(store, change["marker"], change["marked_file"])
    assert step["same_ids"] and step["lexical_chunks"] == step["chroma_chunks"] == report.chunks_total
    assert step["edited_found"] == {"bm25": True, "dense": True}

    # the check can fail: a chunk removed from Chroma alone is seen
    collection = factories.build_chroma_client(settings).get_collection(settings.collection)
    collection.delete(ids=collection.get(include=[], limit=1)["ids"])
    assert not in_step(store, change["marker"], change["marked_file"])["same_ids"]


def test_the_ingesting_process_reports_its_own_peak_memory(tmp_path: Path) -> None:
    """Not the bench's: ``getrusage`` would count the size of the process that started it."""
    from devtools.bench_scale import ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nAnnual leave is 25 days.\n", encoding="utf-8")
    ballast = bytearray(1500 * 2**20)  # this process: 1.5 GB more than the ingesting one needs
    ballast[:: 4096] = b"\1" * len(ballast[:: 4096])
    result = ingest(docs, tmp_path / "store")
    assert result["report"]["chunks_written"] == 1
    assert 100 < result["peak_rss_mb"] < 1400
