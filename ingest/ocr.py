"""Optical character recognition for scanned PDF pages and images, through Tesseract.

Tesseract is a system program (Debian: ``tesseract-ocr`` with ``tesseract-ocr-eng`` and
``tesseract-ocr-chi-sim``; ``make ocr`` installs them), driven by ``pytesseract``; PDF pages are
rendered by PDFium (``pypdfium2``). Both run offline. Without Tesseract, a file that needs OCR
is refused with a message that says how to enable it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.errors import LoaderError

DPI = 300  # Tesseract reads best at 300 dpi
DEFAULT_LANGUAGES = "eng+chi_sim"  # as RAG_OCR_LANGUAGES' default
INSTALL_HINT = (
    "install Tesseract to read it by OCR (Debian/Ubuntu: `sudo apt-get install tesseract-ocr "
    "tesseract-ocr-eng tesseract-ocr-chi-sim`, or `make ocr`), then run the ingestion again"
)


@lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    """The language data Tesseract has (empty: Tesseract is not installed)."""
    if shutil.which("tesseract") is None:
        return frozenset()
    import pytesseract

    try:
        return frozenset(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractError, OSError):
        return frozenset()


def usable_languages(wanted: str) -> str | None:
    """``wanted`` ("eng+chi_sim") restricted to the installed language data, or None when OCR
    is off (empty setting) or impossible (no Tesseract, none of the languages installed)."""
    have = installed_languages()
    languages = [code for code in wanted.split("+") if code.strip() and code.strip() in have]
    return "+".join(code.strip() for code in languages) or None


def unavailable_reason(wanted: str) -> str:
    """Why OCR cannot run with the languages ``wanted``, and what to do."""
    if not wanted.strip():
        return "its text needs OCR, which is off (set RAG_OCR_LANGUAGES, e.g. eng+chi_sim)"
    if not installed_languages():
        return f"its text needs OCR; {INSTALL_HINT}"
    return (f"its text needs OCR, but Tesseract has none of the languages '{wanted}' "
            f"(it has {', '.join(sorted(installed_languages()))}): install their data packages "
            "or change RAG_OCR_LANGUAGES")


def unavailable_message(what: str, wanted: str) -> str:
    """Why ``what`` could not be read by OCR, and what to do."""
    return f"{what}: {unavailable_reason(wanted)}"


def image_text(image: Any, languages: str) -> str:
    """The text Tesseract reads in a PIL image."""
    import pytesseract

    try:
        return str(pytesseract.image_to_string(image, lang=languages))
    except pytesseract.TesseractError as exc:
        raise LoaderError(f"OCR failed ({exc}): check the Tesseract installation") from None


def pdf_page_images(path: Path, pages: list[int]) -> Iterator[tuple[int, Any]]:
    """The given 1-based pages of a PDF, rendered in grayscale at :data:`DPI`."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise LoaderError(f"cannot render the PDF for OCR ({exc}): repair or re-export it") from None
    try:
        for number in pages:
            page = document[number - 1]
            try:
                yield number, page.render(scale=DPI / 72, grayscale=True).to_pil()
            finally:
                page.close()
    finally:
        document.close()


def image_frames(path: Path) -> Iterator[tuple[int | None, Any]]:
    """The frames of an image file (a multi-page TIFF has several), numbered from 1 when there
    are several, else None."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
            for index, frame in enumerate(ImageSequence.Iterator(image), start=1):
                yield (index if frames > 1 else None), frame.convert("L")
    except (UnidentifiedImageError, OSError) as exc:
        raise LoaderError(f"not a readable image ({exc}): re-save it as PNG or JPEG") from None
