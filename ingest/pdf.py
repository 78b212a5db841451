"""PDF files: the text layer of each page (pypdf), and OCR for pages without one.

A page whose only words lie outside its visible area counts as having no text layer, so a scan
with off-page labels is still read by OCR.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ingest import ocr as ocr_support
from ingest.document import WORD as _WORD
from ingest.document import LoadedFile, Section
from rag.errors import LoaderError

logging.getLogger("pypdf").setLevel(logging.ERROR)


def _has_forms(page: Any) -> bool:
    from pypdf.generic import DictionaryObject, NullObject

    def resolved(obj: Any) -> Any:
        return None if obj is None or isinstance(obj, NullObject) else obj.get_object()

    resources = resolved(page.get("/Resources"))
    xobjects = resolved(resources.get("/XObject")) if isinstance(resources, DictionaryObject) else None
    if not isinstance(xobjects, DictionaryObject):
        return False
    return any(isinstance(x := resolved(v), DictionaryObject) and x.get("/Subtype") == "/Form"
               for v in xobjects.values())


def _pdf_page_text(page: Any) -> str:
    """The page's text, or "" when every word of it lies outside the page's visible area
    (labels some image converters write off the page: an image-only page has no text).
    Text inside form XObjects is reported in the form's own coordinates: no such check then."""
    if _has_forms(page):
        return page.extract_text() or ""
    box = page.cropbox
    left, bottom, right, top = (float(v) for v in (box.left, box.bottom, box.right, box.top))
    placed = {"on": 0, "off": 0}

    def visit(text: str, cm: list[float], tm: list[float], *_: Any) -> None:
        if _WORD.search(text):
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            inside = left - 1 <= x <= right + 1 and bottom - 1 <= y <= top + 1
            placed["on" if inside else "off"] += 1

    text = page.extract_text(visitor_text=visit) or ""
    return "" if placed["off"] and not placed["on"] else text


def load_pdf(path: Path, ocr: str = ocr_support.DEFAULT_LANGUAGES) -> LoadedFile:
    """One section per page with its page number (1-based). Pages without a text layer are read
    by OCR (languages ``ocr``, Tesseract's codes) when Tesseract is installed."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PdfStreamError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except (NotImplementedError, FileNotDecryptedError) as exc:
                raise LoaderError(f"encrypted: {exc}; save a decrypted copy and add that") from None
            if not ok:
                raise LoaderError(
                    "encrypted: the PDF needs a password; save a copy without a password "
                    "and add that"
                )
        title = None
        try:
            meta = reader.metadata
            title = (meta.title or "").strip() if meta else None
        except Exception:  # noqa: BLE001 - broken metadata never stops the text
            title = None
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = _pdf_page_text(page)
            if text.strip():
                sections.append(Section(text=text, page=number))
        pages = len(reader.pages)
    except LoaderError:
        raise
    except FileNotDecryptedError as exc:
        raise LoaderError(f"encrypted: {exc}; save a decrypted copy and add that") from None
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, AttributeError,
            IndexError, AssertionError, RecursionError, OSError) as exc:
        raise LoaderError(f"malformed PDF ({type(exc).__name__}: {exc}): repair or re-export it") from None
    blank = [n for n in range(1, pages + 1) if not any(s.page == n for s in sections)]
    languages = ocr_support.usable_languages(ocr)
    if blank and languages:
        for number, image in ocr_support.pdf_page_images(path, blank):
            text = ocr_support.image_text(image, languages)
            if _WORD.search(text):
                sections.append(Section(text=text, page=number, ocr=True))
        sections.sort(key=lambda s: s.page or 0)
    if not any(_WORD.search(s.text) for s in sections):  # any text at all makes a document
        if languages:
            raise LoaderError(
                "no extractable text: scanned? needs OCR, and OCR (Tesseract) found no text on "
                "its pages either: a picture, or a scan too faint to read"
            )
        raise LoaderError("no extractable text: scanned? needs OCR (the PDF has no text layer); "
                          + ocr_support.unavailable_reason(ocr))
    return LoadedFile(title=title or path.stem, sections=sections, pages=pages)
