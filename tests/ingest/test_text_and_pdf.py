"""Text is text: short PDFs are ingested, and text files in any common encoding are read."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from ingest.loaders import load_file
from rag.errors import LoaderError
from tests.ingest.pdfmaker import make_pdf


@pytest.mark.parametrize(
    ("pages", "options", "expected"),
    [
        (["Office closed Friday."], {}, ["Office closed Friday."]),
        (["Header\nFoo: bar\nBaz: qux"], {}, ["Header", "Foo: bar", "Baz: qux"]),
        (["سياسة الإجازات: Leave"], {}, ["سياسة", "الإجازات", "Leave"]),
        (["Exit: B2"], {"rotate": 90}, ["Exit: B2"]),
        (["Exit: B2"], {"sideways_text": True}, ["Exit: B2"]),
    ],
    ids=["one-short-line", "header-lines", "arabic-and-latin", "rotated-page", "sideways-text"],
)
def test_short_pdfs_are_ingested(tmp_path: Path, pages: list[str | None], options: dict[str, object],
                                 expected: list[str]) -> None:
    loaded = load_file(make_pdf(tmp_path / "short.pdf", pages, **options))  # type: ignore[arg-type]
    assert [s.page for s in loaded.sections] == [1]
    for words in expected:
        assert words in loaded.sections[0].text


def test_one_short_page_among_empty_ones(tmp_path: Path) -> None:
    loaded = load_file(make_pdf(tmp_path / "notice.pdf", [None, "Office closed Friday.", None]))
    assert loaded.pages == 3
    assert [(s.page, s.text.strip()) for s in loaded.sections] == [(2, "Office closed Friday.")]


def test_pdf_without_any_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"^no extractable text: scanned\? needs OCR"):
        load_file(make_pdf(tmp_path / "blank.pdf", [None, None]))


def test_pdf_text_drawn_outside_the_page_is_not_text(tmp_path: Path) -> None:
    # What ImageMagick writes above an image-only page: a label off the visible area.
    path = make_pdf(tmp_path / "scan.pdf", ["Background"], size=(4, 4))
    with pytest.raises(LoaderError, match=r"^no extractable text: scanned\? needs OCR"):
        load_file(path)


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1252", "Café policy: the café closes at 5 pm; crème brûlée costs €4."),
        ("cp1252", "Für die Größe der Büros gilt: Mitarbeiter müssen Überstunden melden."),
        ("cp1251", "Отпуск: сотрудники получают двадцать восемь дней в году."),
        ("cp1250", "Zażółć gęślą jaźń. Urlop wypoczynkowy wynosi 26 dni."),
        ("shift_jis", "有給休暇は年に二十日です。"),
    ],
)
def test_legacy_code_pages(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(text.encode(encoding))
    assert load_file(path).sections[0].text == text


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("utf-16 (Notepad's 'Unicode')", "Café policy\r\n年假 15 天\r\n".encode("utf-16")),
        ("utf-16-le", codecs.BOM_UTF16_LE + "Café policy\r\n年假 15 天\r\n".encode("utf-16-le")),
        ("utf-16-be", codecs.BOM_UTF16_BE + "Café policy\r\n年假 15 天\r\n".encode("utf-16-be")),
        ("utf-32", "Café policy\r\n年假 15 天\r\n".encode("utf-32")),
        ("utf-8-sig", "Café policy\r\n年假 15 天\r\n".encode("utf-8-sig")),
    ],
)
def test_byte_order_marks(tmp_path: Path, name: str, data: bytes) -> None:
    assert b"\x00" in data or name == "utf-8-sig"  # NUL bytes, yet text
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    text = load_file(path).sections[0].text
    assert text == "Café policy\r\n年假 15 天\r\n"


def test_markdown_and_html_use_the_same_decoding(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes("# Café\n\nOpen at 8.".encode("utf-16"))
    (tmp_path / "b.html").write_bytes("<title>Café</title><p>Crème brûlée on Friday.</p>".encode("cp1252"))
    assert load_file(tmp_path / "a.md").title == "Café"
    assert "Crème brûlée" in load_file(tmp_path / "b.html").sections[0].text


@pytest.mark.parametrize(
    "data",
    [
        os.urandom(20000),
        bytes(b % 255 + 1 for b in os.urandom(20000)),  # random, without NUL bytes
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40,
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + os.urandom(5000),
        "Café".encode("utf-16-le") * 50,  # UTF-16 without a byte-order mark
    ],
    ids=["random", "random-without-nul", "png", "zip", "utf16-without-bom"],
)
def test_binary_is_still_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "renamed.txt"
    path.write_bytes(data)
    with pytest.raises(LoaderError, match="^binary file with a text extension .*convert it to UTF-8"):
        load_file(path)
