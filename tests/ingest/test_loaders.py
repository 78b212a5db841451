"""Loaders on real files: the shared sample PDFs (four broken on purpose) and generated files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import load_file
from rag.errors import LoaderError


def test_pdf_one_section_per_page_with_page_numbers(eval_pdfs: Path) -> None:
    loaded = load_file(eval_pdfs / "pdflatex-4-pages.pdf")
    assert [s.page for s in loaded.sections] == [1, 2, 3, 4]
    assert loaded.pages == 4
    assert all(len(s.text) > 200 for s in loaded.sections)


@pytest.mark.parametrize(
    "name",
    ["minimal-document.pdf", "002-trivial-libre-office-writer.pdf", "google-doc-document.pdf",
     "crazyones-pdfa.pdf", "multicolumn.pdf", "pdflatex-outline.pdf"],
)
def test_normal_pdfs_have_text(eval_pdfs: Path, name: str) -> None:
    loaded = load_file(eval_pdfs / name)
    assert sum(len(s.text) for s in loaded.sections) > 300


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("libreoffice-writer-password.pdf", "encrypted:"),
        ("unreadablemetadata.pdf", "malformed PDF"),
        ("imagemagick-images.pdf", "no extractable text: scanned? needs OCR"),
        ("grayscale-image.pdf", "no extractable text: scanned? needs OCR"),
    ],
)
def test_broken_pdfs_get_clear_errors(eval_pdfs: Path, name: str, message: str) -> None:
    with pytest.raises(LoaderError) as info:
        load_file(eval_pdfs / name)
    assert str(info.value).startswith(message)


def test_markdown_sections_keep_heading_path(tmp_path: Path) -> None:
    path = tmp_path / "h.md"
    path.write_text("# Handbook\n\nIntro.\n\n## Leave\n\nTwenty days.\n\n### Sick\n\nTen days.\n")
    loaded = load_file(path)
    assert loaded.title == "Handbook"
    assert [(s.heading, s.text) for s in loaded.sections] == [
        ("Handbook", "Intro."),
        ("Handbook > Leave", "Twenty days."),
        ("Handbook > Leave > Sick", "Ten days."),
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_text_encodings_for_chinese(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "zh.txt"
    path.write_bytes("员工每年享有十五天带薪年假。".encode(encoding))
    assert load_file(path).sections[0].text == "员工每年享有十五天带薪年假。"


def test_html_visible_text_only(tmp_path: Path) -> None:
    path = tmp_path / "p.html"
    path.write_text(
        "<html><head><title>FAQ</title><style>.x{color:red}</style></head><body>"
        "<script>var secret = 'do not index';</script><h1>Parking</h1><p>Free for staff.</p>"
        "<div hidden>hidden text</div></body></html>"
    )
    loaded = load_file(path)
    text = loaded.sections[0].text
    assert loaded.title == "FAQ"
    assert "Free for staff." in text and "Parking" in text
    assert "secret" not in text and "color" not in text and "hidden text" not in text


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Onboarding", level=1)
    document.add_paragraph("Collect your laptop on day one.")
    document.add_heading("Accounts", level=2)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Help desk"
    table.rows[0].cells[1].text = "extension 4242"
    path = tmp_path / "o.docx"
    document.save(str(path))
    loaded = load_file(path)
    assert loaded.title == "Onboarding"
    assert loaded.sections[0].text == "Collect your laptop on day one."
    assert loaded.sections[1].heading == "Accounts"
    assert "extension 4242" in loaded.sections[1].text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.md", b"", "empty file"),
        ("blank.txt", b"  \n\n ", "empty file"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary file"),
        ("old.xls", b"\xd0\xcf\x11\xe0 whatever", "unsupported file type '.xls'"),
        ("table.xlsx", b"PK\x03\x04 whatever", "malformed XLSX"),
        ("deck.pptx", b"PK\x03\x04 whatever", "malformed PPTX"),
        ("fake.docx", b"this is not a zip", "malformed DOCX"),
        ("fake.pdf", b"%PDF-1.4 garbage", "malformed PDF"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoaderError) as info:
        load_file(path)
    assert str(info.value).startswith(message)


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000)
    with pytest.raises(LoaderError, match="file too large"):
        load_file(path, max_bytes=100)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Running as root, chmod cannot make a file unreadable: simulate the OS refusing it.
    path = tmp_path / "secret.txt"
    path.write_text("text")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(LoaderError, match="unreadable file: permission denied"):
        load_file(path)
