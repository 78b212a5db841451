"""OCR of scanned pages and images with the real Tesseract (`make test` installs it), and
`rag search` finding text from every new format in one mixed folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import ocr
from ingest.loaders import load_file
from ingest.sync import run_sync
from rag import factories
from rag.config import load_settings
from rag.errors import LoaderError
from rag.retrieval import Hit
from tests.ingest.test_office_formats import _deck, _email, _workbook

NOTICE = ["Warehouse safety notice", "Forklift drivers must wear", "orange helmets in aisle 7."]


def scanned_page(path: Path, lines: list[str] = NOTICE) -> Path:
    """A page of text as a picture only, as a scanner writes it (PDF, PNG or TIFF by suffix)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1700, 800), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=56)
    for i, line in enumerate(lines):
        draw.text((100, 100 + i * 110), line, fill=0, font=font)
    image.save(path, resolution=200.0)
    return path


def test_tesseract_is_installed_with_english_and_chinese() -> None:
    assert {"eng", "chi_sim"} <= ocr.installed_languages(), "run `make ocr`"


def test_a_scanned_pdf_page_is_read_by_ocr(tmp_path: Path) -> None:
    loaded = load_file(scanned_page(tmp_path / "notice.pdf"))
    assert [s.page for s in loaded.sections] == [1] and loaded.sections[0].ocr
    text = " ".join(loaded.sections[0].text.split())
    assert "Forklift drivers must wear" in text and "orange helmets" in text


def test_an_image_is_read_by_ocr(tmp_path: Path) -> None:
    for suffix in (".png", ".tiff", ".jpg"):
        loaded = load_file(scanned_page(tmp_path / f"notice{suffix}"))
        assert loaded.sections[0].ocr and "helmets" in loaded.sections[0].text


def test_a_picture_without_text_is_still_refused(eval_pdfs: Path) -> None:
    with pytest.raises(LoaderError, match="OCR \\(Tesseract\\) found no text"):
        load_file(eval_pdfs / "grayscale-image.pdf")  # a drawing of a boy scout


def test_without_tesseract_the_message_says_how_to_enable_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = scanned_page(tmp_path / "notice.pdf")
    monkeypatch.setattr(ocr.shutil, "which", lambda _: None)
    ocr.installed_languages.cache_clear()
    try:
        with pytest.raises(LoaderError, match="needs OCR.*apt-get install tesseract-ocr"):
            load_file(path)
        with pytest.raises(LoaderError, match="^an image: its text needs OCR.*make ocr"):
            load_file(scanned_page(tmp_path / "notice.png"))
    finally:
        ocr.installed_languages.cache_clear()
    with pytest.raises(LoaderError, match="OCR, which is off"):
        load_file(path, ocr="")


def test_rag_search_finds_text_from_every_new_format_and_from_ocr(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _deck(docs / "travel.pptx")
    _workbook(docs / "leave.xlsx")
    (docs / "budget.csv").write_text("Team;Budget\nRobotics;48,000 EUR\n", encoding="utf-8")
    mail = tmp_path / "mail"
    mail.mkdir()
    (docs / "closed.eml").write_bytes(_email(mail / "closed.eml").read_bytes())
    scanned_page(docs / "notice.pdf")
    scanned_page(docs / "badge.png", ["Visitor badges are", "collected at gate 3."])
    store = tmp_path / "store"
    settings = load_settings(docs_dir=docs, store_dir=store)
    report = run_sync([docs], settings)
    assert report.files_failed == [] and report.files_added == 6

    # The CLI's hits say which passage was read by OCR ...
    result = subprocess.run(
        [sys.executable, "-m", "rag", "search", "forklift drivers helmets", "--store", str(store),
         "--k", "1", "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    notice = json.loads(result.stdout.strip().splitlines()[-1])["hits"][0]
    assert (notice["source"], notice["page"], notice["ocr"]) == ("notice.pdf", 1, True)

    # ... and the same search finds every format.
    retriever = factories.build_retriever(settings)

    def top(query: str) -> Hit:
        return retriever.search(query, 1)[0]

    assert top("trains for trips under 4 hours").source == "travel.pptx"
    assert top("Robotics budget").source == "budget.csv"
    badge = top("where are visitor badges collected")
    assert badge.source == "badge.png" and badge.metadata.get("ocr") is True
    assert top("is the office closed on Friday").source == "closed.eml"
    assert "Rota" in top("who is on the rota on Monday").text  # the e-mail's PDF attachment
    leave = top("How many leave days does Alice from Sales have?")
    assert leave.source == "leave.xlsx" and not leave.metadata.get("ocr")
