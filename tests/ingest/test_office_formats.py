"""PPTX, XLSX, CSV, EML and DOCX tables, on files made with the real libraries."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_EXTENSIONS, load_file
from ingest.parse import SplitConfig, parse_file
from ingest.splitting import token_counter
from rag import factories
from rag.config import load_settings
from rag.errors import LoaderError
from tests.ingest.pdfmaker import make_pdf


def _deck(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    slide.shapes.title.text = "Travel policy 2024"
    slide.placeholders[1].text_frame.text = "Book trains for trips under 4 hours."
    slide.notes_slide.notes_text_frame.text = "Mention the new hotel cap."
    table_slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    table_slide.shapes.title.text = "Hotel caps"
    table = table_slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate([("City", "Cap"), ("Paris", "180 EUR"), ("Berlin", "150 EUR")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    untitled = deck.slides.add_slide(deck.slide_layouts[6])  # blank
    box = untitled.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1))
    box.text_frame.text = "Questions: travel@example.com"
    deck.save(str(path))
    return path


def test_pptx_slides_titles_body_tables_and_notes(tmp_path: Path) -> None:
    loaded = load_file(_deck(tmp_path / "travel.pptx"))
    assert loaded.title == "Travel policy 2024"
    assert loaded.pages == 3
    assert [(s.page, s.heading) for s in loaded.sections] == [
        (1, "Travel policy 2024"), (2, "Hotel caps"), (3, "Slide 3"),
    ]
    first, second, third = (s.text for s in loaded.sections)
    assert first == "Book trains for trips under 4 hours.\nNotes: Mention the new hotel cap."
    assert second == "City: Paris | Cap: 180 EUR\nCity: Berlin | Cap: 150 EUR"
    assert third == "Questions: travel@example.com"


def _workbook(path: Path, rows: int = 3) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Leave"
    sheet.append([None])  # an empty first row: the header is the first non-empty row
    sheet.append(["Name", "Department", "Leave", "Since"])
    people = [("Alice", "Sales", "3 days", dt.datetime(2024, 5, 1)), ("Bob", None, 2.0, None)]
    for i in range(rows - 1):
        sheet.append(list(people[i % 2]) if i < 2 else [f"Person {i}", "Support", f"{i} days", None])
    other = book.create_sheet("Contacts")
    other.append(["Team", "Phone"])
    other.append(["IT help desk", "4242"])
    book.create_sheet("Empty")
    book.save(str(path))
    return path


def test_xlsx_rows_keep_their_headers(tmp_path: Path) -> None:
    loaded = load_file(_workbook(tmp_path / "leave.xlsx"))
    assert loaded.title == "leave"
    assert [(s.heading, s.text) for s in loaded.sections] == [
        ("Leave", ("Name: Alice | Department: Sales | Leave: 3 days | Since: 2024-05-01\n"
                   "Name: Bob | Leave: 2")),
        ("Contacts", "Team: IT help desk | Phone: 4242"),
    ]


def _split_config(chunk_size: int = 60) -> SplitConfig:
    info = factories.embedder_info(load_settings())
    return SplitConfig(str(info.tokenizer_file), chunk_size, 10, info.max_tokens, 10**8)


def test_large_sheet_chunks_end_between_rows(tmp_path: Path) -> None:
    config = _split_config()
    count = token_counter(config.tokenizer_file)
    chunks = parse_file(str(_workbook(tmp_path / "big.xlsx", rows=3000)), config).chunks
    rows = [c for c in chunks if c.heading == "Leave"]
    assert len(rows) > 50
    assert max(count(c.text) for c in chunks) <= config.body_limit
    for chunk in rows:  # every line of every chunk is one whole row
        for line in chunk.text.split("\n"):
            assert line.startswith("Name: ") and ("| Leave: " in line), line


def test_csv_with_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "leave.csv"
    text = 'Name;Department;Leave\r\nAlice;Sales;"3 days; paid"\r\n;;\r\nBob;IT;5 days\r\n'
    path.write_bytes(text.encode("cp1252"))
    loaded = load_file(path)
    assert loaded.sections[0].text == (
        "Name: Alice | Department: Sales | Leave: 3 days; paid\nName: Bob | Department: IT | Leave: 5 days"
    )


def test_csv_decoded_like_text_and_comma_fallback(tmp_path: Path) -> None:
    path = tmp_path / "one-column.csv"
    path.write_bytes("Café\r\nCrème brûlée\r\n".encode("utf-16"))
    assert load_file(path).sections[0].text == "Café: Crème brûlée"


def _email(path: Path, *, html: bool = False) -> Path:
    message = EmailMessage()
    message["From"] = "HR <hr@example.com>"
    message["To"] = "All staff <staff@example.com>"
    message["Date"] = "Mon, 06 May 2024 09:30:00 +0200"
    message["Subject"] = "Office closed Friday"
    if html:
        message.set_content("<html><body><p>The office is <b>closed</b> on Friday.</p>"
                            "<script>var x = 1;</script></body></html>", subtype="html")
    else:
        message.set_content("The office is closed on Friday.\nWork from home.")
    pdf = make_pdf(path.parent / "rota.pdf", ["Rota: Alice on Monday."]).read_bytes()
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="rota.pdf")
    message.add_attachment(b"PK\x03\x04 zipped", maintype="application", subtype="zip",
                           filename="../../photos.zip")
    path.write_bytes(bytes(message))
    return path


def test_eml_headers_body_and_attachments(tmp_path: Path) -> None:
    loaded = load_file(_email(tmp_path / "closed.eml"))
    assert loaded.title == "Office closed Friday"
    body, attachment = loaded.sections
    lines = body.text.split("\n")
    assert lines[0] == (
        "From: HR <hr@example.com> | To: All staff <staff@example.com> | "
        "Date: Mon, 06 May 2024 09:30:00 +0200 | Subject: Office closed Friday"
    )
    assert "The office is closed on Friday.\nWork from home." in body.text
    assert lines[-1] == "Attachment not ingested: photos.zip (unsupported format)"
    assert attachment.heading == "Attachment: rota.pdf > page 1"
    assert "Rota: Alice on Monday." in attachment.text


def test_eml_html_body_is_visible_text(tmp_path: Path) -> None:
    body = load_file(_email(tmp_path / "closed.eml", html=True)).sections[0].text
    assert "The office is closed on Friday." in " ".join(body.split())
    assert "var x" not in body and "<b>" not in body


def test_eml_that_is_not_an_email(tmp_path: Path) -> None:
    path = tmp_path / "notes.eml"
    path.write_bytes(b"just some words\n")
    with pytest.raises(LoaderError, match="^not an e-mail message"):
        load_file(path)


def test_docx_table_rows_keep_the_header_in_document_order(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Leave", level=1)
    document.add_paragraph("Balances on 1 May:")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([("Name", "Department", "Leave"), ("Alice", "Sales", "3 days"),
                             ("Bob", "", "5 days")]):
        for c, value in enumerate(row):
            table.rows[r].cells[c].text = value
    document.add_paragraph("Ask HR for corrections.")
    path = tmp_path / "leave.docx"
    document.save(str(path))
    assert load_file(path).sections[0].text == (
        "Balances on 1 May:\n"
        "Name: Alice | Department: Sales | Leave: 3 days\n"
        "Name: Bob | Leave: 5 days\n"
        "Ask HR for corrections."
    )


def test_new_formats_are_supported_and_listed(tmp_path: Path) -> None:
    assert {".pptx", ".xlsx", ".csv", ".eml"} <= set(SUPPORTED_EXTENSIONS)
    path = tmp_path / "archive.zip"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(LoaderError) as info:
        load_file(path)
    assert str(info.value).startswith("unsupported file type '.zip': supported are")
    for ext in (".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".eml", ".md", ".txt", ".html"):
        assert ext in str(info.value)
