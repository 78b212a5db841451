"""The progress text of an upload on the documents page: the CLI's line in the page's words."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ingest.progress import Snapshot
from tests.conftest import ROOT
from ui.i18n import LABELS
from ui.upload_progress import progress_text

KEYS = ("ingesting", "time_left", "time_left_unknown", "last_chunks", "ingested")


def test_files_chunks_rates_and_time_left() -> None:
    assert progress_text(Snapshot(120, 480, 3410, 57.1, 2.1, 14.2, 171.0)) == (
        "Ingesting: 120 of 480 files, 3,410 chunks · 14.2 chunks/s, 2.1 files/s · about 2m51s left")
    assert progress_text(Snapshot(0, 2, 0, 0.0, 0.0, 0.0, None)).endswith(
        "0 of 2 files, 0 chunks · 0.0 chunks/s, 0.0 files/s · estimating the time left")
    assert progress_text(Snapshot(2, 2, 9, 3.0, 0.7, 3.0, 0.0)).endswith("writing the last chunks")


def test_the_final_text_says_how_long_it_took() -> None:
    assert progress_text(Snapshot(2, 2, 14, 3.2, 0.6, 4.4, 0.0), final=True) == (
        "Processed 2 of 2 files, 14 chunks written in 4s (4.4 chunks/s, 0.6 files/s)")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_language_has_the_same_placeholders(lang: str) -> None:
    values = {"done": 1, "total": 2, "chunks": 3, "chunk_rate": "1.0", "file_rate": "0.5",
              "left": "x", "time": "1s"}
    for key in KEYS:
        assert LABELS[key][lang].format(**values)


def test_the_page_side_imports_no_heavy_library() -> None:
    code = ("import sys, ui.upload_progress, ingest.progress; "
            "print(sorted(m for m in ('chromadb', 'llama_cpp', 'torch', 'tqdm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "[]"
