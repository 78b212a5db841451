"""``python -m devtools.bench_catalog``: times a changed and a removed file on a copy of a
store's catalog, and leaves the store's own catalog as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.bench_catalog import main
from rag.catalog import CATALOG_NAME, Catalog, FileRecord


def test_it_times_a_copy_and_leaves_the_store_alone(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    catalog = Catalog(tmp_path)
    for n in range(4):
        record = FileRecord(source=f"f{n}.md", root="/docs", sha256=f"s{n}", size=1, title=None,
                            pages=None, chunks=2, ingested_at=0.0)
        catalog.commit_file(record, [(f"f{n}-{i}", f"Paragraph {i} of file {n}.") for i in range(2)])
    catalog.close()
    before = (tmp_path / CATALOG_NAME).read_bytes()

    assert main([str(tmp_path), "--files", "2", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"changed_files": 2' in out and '"removed_files": 1' in out and '"chunks": 6' in out
    assert (tmp_path / CATALOG_NAME).read_bytes() == before


def test_a_folder_without_a_catalog_is_a_usage_error(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert "has no catalog.sqlite3" in capsys.readouterr().err
