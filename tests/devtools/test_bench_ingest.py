"""``make bench-ingest`` compares ours with the bare encoder on the same texts: the texts it
encodes bare are exactly the ones ingestion embedded (title/heading line and chunk), for a
folder with headings, a file in a subfolder and a file ingestion refuses; the parsing worker's
memory is measured on its own."""

from __future__ import annotations

from pathlib import Path

from devtools.bench_ingest import embedded_texts, parser_alone
from ingest.sync import run_sync
from rag import factories
from rag.config import load_settings
from rag.store import stored_chunks


def test_the_bare_texts_are_the_ones_ingestion_embedded(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "policies").mkdir(parents=True)
    (docs / "travel.md").write_text(
        "# Travel policy\n\n## Hotels\n\n" + "Hotels are booked through the travel desk. " * 40
        + "\n\n## Trains\n\nSecond class for trips under four hours.\n", encoding="utf-8")
    (docs / "policies" / "leave.txt").write_text("Annual leave is 25 days a year.\n", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really a PDF")
    settings = load_settings(docs_dir=docs, store_dir=tmp_path / "store")

    texts = embedded_texts(docs, settings)
    report = run_sync([docs], settings)

    assert len(report.files_failed) == 1 and report.chunks_written == len(texts) > 3
    got = factories.build_chroma_client(settings).get_collection(settings.collection).get(
        include=["documents", "metadatas"])
    # what ingestion embedded: the header line it recorded with each chunk, then the chunk
    stored = [f"{m['header']}\n{text}" for _, text, m in stored_chunks(got)]
    assert sorted(texts) == sorted(stored)
    assert any(t.startswith("Travel policy > ") and t.split("\n")[0].endswith("Hotels") for t in texts)


def test_the_parsers_memory_is_its_own(tmp_path: Path) -> None:
    """Measured in a process of its own: a worker's kernel figure is its parent's size at fork."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nSome text.\n", encoding="utf-8")
    ballast = bytearray(600 * 2**20)  # this process grows; the parser's figure must not
    ballast[:: 4096] = b"\1" * len(ballast[:: 4096])
    settings = load_settings(docs_dir=docs, store_dir=tmp_path / "store")
    peak_mb, cpu_s = parser_alone(docs, settings)
    assert 20 < peak_mb < 400
    assert 0 < cpu_s < 60
