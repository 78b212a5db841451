"""PowerPoint (.pptx): one section per slide, its title as the heading, its number as the page."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ingest.document import LoadedFile, Section, has_words, require_sections
from ingest.tables import table_lines
from rag.errors import LoaderError


def _flat(shapes: Iterable[Any]) -> Iterator[Any]:
    """Every shape, those inside groups included, in the slide's order."""
    from pptx.shapes.group import GroupShape

    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _flat(shape.shapes)
        else:
            yield shape


def _frame_text(frame: Any) -> str:
    # python-pptx gives a line break inside a paragraph as a vertical tab
    return "\n".join(line.strip() for line in frame.text.replace("\v", "\n").splitlines() if line.strip())


def _shape_lines(shape: Any) -> list[str]:
    if getattr(shape, "has_table", False):
        rows = ([cell.text for cell in row.cells] for row in shape.table.rows)
        return list(table_lines(rows))
    if getattr(shape, "has_text_frame", False):
        text = _frame_text(shape.text_frame)
        return [text] if text else []
    return []


def _slide_section(slide: Any, number: int) -> Section | None:
    title_shape = slide.shapes.title
    title = ""
    if title_shape is not None and title_shape.has_text_frame:
        title = " ".join(_frame_text(title_shape.text_frame).split())
    lines: list[str] = []
    for shape in _flat(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        lines.extend(_shape_lines(shape))
    if slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        notes = _frame_text(frame) if frame is not None else ""
        if notes:
            lines.append(f"Notes: {notes}")
    text = "\n".join(lines) or title
    if not has_words(text):
        return None
    return Section(text=text, page=number, heading=title or f"Slide {number}")


def load_pptx(path: Path) -> LoadedFile:
    """Text of every shape (text boxes, placeholders, tables, groups) and the speaker notes."""
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    # SyntaxError: XML parse errors of lxml derive from it.
    broken = (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, TypeError,
              AttributeError, IndexError, SyntaxError)
    try:
        deck = Presentation(str(path))
        sections = [s for n, slide in enumerate(deck.slides, start=1)
                    if (s := _slide_section(slide, n)) is not None]
        pages = len(deck.slides)
        title = (deck.core_properties.title or "").strip()
    except broken as exc:
        raise LoaderError(
            f"malformed PPTX ({type(exc).__name__}: {exc}): open it in PowerPoint or LibreOffice "
            "and save it as .pptx again, without a password"
        ) from None
    require_sections(sections, "presentation")
    if not title:
        first = sections[0]
        title = first.heading if first.page == 1 and first.heading != "Slide 1" else path.stem
    return LoadedFile(title=title or path.stem, sections=sections, pages=pages)
