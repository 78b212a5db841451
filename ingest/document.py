"""What every loader returns: a title and sections of text with page and heading."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.errors import LoaderError

WORD = re.compile(r"\w", re.UNICODE)


@dataclass(slots=True)
class Section:
    """A piece of a document: one PDF page or slide, one sheet, one Markdown/DOCX section, or a
    whole text file."""

    text: str
    page: int | None = None
    heading: str | None = None
    ocr: bool = False  # the text was read from an image by OCR


@dataclass(slots=True)
class LoadedFile:
    title: str
    sections: list[Section]
    pages: int | None = None


def has_words(text: str) -> bool:
    return WORD.search(text) is not None


def require_text(text: str, what: str = "file") -> None:
    if not has_words(text):
        raise LoaderError(f"empty {what}: no text to index")


def require_sections(sections: list[Section], kind: str) -> None:
    if not any(has_words(s.text) for s in sections):
        raise LoaderError(f"empty file: the {kind} holds no text")
