"""A small folder of every supported office format, made with the real libraries, for
``make bench-ingest``'s mixed-folder line (a company share in miniature).

    python -m devtools.mixed_folder DIR    # writes the files into DIR
"""

from __future__ import annotations

import shutil
import sys
from email.message import EmailMessage
from pathlib import Path

KINDS = ("pdf", "docx", "pptx", "xlsx", "csv", "eml", "scanned pdf")


def _docx(path: Path) -> None:
    from docx import Document

    document = Document()
    document.add_heading("Expense policy", level=1)
    document.add_paragraph("Receipts are submitted within 30 days of the trip.")
    table = document.add_table(rows=3, cols=2)
    for r, row in enumerate([("Item", "Limit"), ("Hotel", "180 EUR a night"), ("Meals", "45 EUR a day")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.save(str(path))


def _pptx(path: Path) -> None:
    from pptx import Presentation

    deck = Presentation()
    for n in range(1, 6):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Quarterly review, part {n}"
        slide.placeholders[1].text_frame.text = f"Sales grew in region {n}; hiring continues."
        slide.notes_slide.notes_text_frame.text = f"Speaker notes for part {n}."
    deck.save(str(path))


def _xlsx(path: Path, rows: int = 2000) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Leave")
    sheet.append(["Name", "Department", "Leave days", "Manager"])
    for i in range(rows):
        sheet.append([f"Employee {i}", ("Sales", "Support", "R&D")[i % 3], 20 + i % 10, f"Manager {i % 40}"])
    book.save(str(path))


def _csv(path: Path, rows: int = 2000) -> None:
    lines = ["Asset;Owner;Location"] + [f"Laptop {i};Employee {i};Floor {i % 12}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _eml(path: Path, attachment: Path) -> None:
    message = EmailMessage()
    message["From"] = "Facilities <facilities@example.com>"
    message["To"] = "All staff <staff@example.com>"
    message["Date"] = "Mon, 06 May 2024 09:30:00 +0200"
    message["Subject"] = "Parking garage closed for repairs"
    message.set_content("The parking garage is closed from 13 to 17 May. Use the lot on Elm Street.")
    message.add_attachment(attachment.read_bytes(), maintype="application",
                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                           filename="expenses.docx")
    path.write_bytes(bytes(message))


def _scanned_pdf(path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    lines = ["Fire safety instructions", "Leave the building by the nearest exit.",
             "Do not use the lifts.", "Meet at the assembly point in the car park."]
    for i, line in enumerate(lines):
        draw.text((120, 150 + i * 90), line, fill=0, font=font)
    image.save(path, resolution=200.0)


def make_mixed_folder(folder: Path, pdf: Path | None = None) -> list[Path]:
    """Write one file of each kind in :data:`KINDS` into ``folder`` (``pdf``: a real text PDF
    to copy; without it the text PDF is left out). Returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    if pdf is not None and pdf.is_file():
        files.append(Path(shutil.copy(pdf, folder / pdf.name)))
    _docx(folder / "expenses.docx")
    _pptx(folder / "quarterly-review.pptx")
    _xlsx(folder / "leave.xlsx")
    _csv(folder / "assets.csv")
    _eml(folder / "parking.eml", folder / "expenses.docx")
    _scanned_pdf(folder / "fire-safety-scan.pdf")
    files += [folder / name for name in ("expenses.docx", "quarterly-review.pptx", "leave.xlsx",
                                         "assets.csv", "parking.eml", "fire-safety-scan.pdf")]
    return files


if __name__ == "__main__":
    for file in make_mixed_folder(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("mixed")):
        print(file)
