"""One loader per format: a file -> sections of text with page and heading, or a clear error.

Text, Markdown, HTML, DOCX and images (by OCR) are read here; PDF (``pdf``), PPTX (``slides``),
XLSX and CSV (``tabular``) and EML (``mail``) in their own modules. :data:`LOADERS` maps each
extension to its loader.

Loaders never see the store; they raise :class:`rag.errors.LoaderError` with a message a user can
act on, and ingestion records it in the report and goes on with the next file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest import ocr as ocr_support
from ingest.decoding import decode_text
from ingest.document import WORD as _WORD
from ingest.document import LoadedFile, Section
from ingest.document import require_text as _require_text
from ingest.mail import load_eml
from ingest.pdf import load_pdf
from ingest.slides import load_pptx
from ingest.tables import table_lines
from ingest.tabular import load_csv, load_xlsx
from rag.errors import LoaderError

DEFAULT_OCR = ocr_support.DEFAULT_LANGUAGES

__all__ = ["LOADERS", "SUPPORTED_EXTENSIONS", "LoadedFile", "Section", "decode_text", "load_file"]


def load_text(path: Path) -> LoadedFile:
    text = decode_text(path.read_bytes())
    _require_text(text)
    return LoadedFile(title=path.stem, sections=[Section(text=text)])


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def load_markdown(path: Path) -> LoadedFile:
    """Sections at each heading; the heading path (``A > B``) is kept as metadata."""
    text = decode_text(path.read_bytes())
    _require_text(text)
    title: str | None = None
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    current: list[str] = []
    heading: str | None = None
    in_fence = False

    def flush() -> None:
        body = "\n".join(current).strip()
        if _WORD.search(body):
            sections.append(Section(text=body, heading=heading))
        current.clear()

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _MD_HEADING.match(line)
        if match:
            flush()
            level, name = len(match.group(1)), match.group(2).strip()
            if title is None and level == 1:
                title = name
            stack = [(lvl, h) for lvl, h in stack if lvl < level] + [(level, name)]
            heading = " > ".join(h for _, h in stack)
            continue
        current.append(line)
    flush()
    if not sections:  # only headings
        sections.append(Section(text=text.strip(), heading=None))
    return LoadedFile(title=title or path.stem, sections=sections)


def html_text(markup: str) -> tuple[str, str]:
    """The title and the visible text of an HTML page: scripts, styles and hidden elements are
    dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe"]):
        tag.decompose()
    for tag in soup.select('[hidden], [aria-hidden="true"], [style*="display:none"]'):
        tag.decompose()
    text = soup.get_text("\n")
    return title, re.sub(r"\n\s*\n+", "\n\n", text).strip()


def load_html(path: Path) -> LoadedFile:
    """Visible text only."""
    title, text = html_text(decode_text(path.read_bytes()))
    _require_text(text)
    return LoadedFile(title=title or path.stem, sections=[Section(text=text)])


def _docx_table_lines(table: Any) -> list[str]:
    """Rows that keep the header row's names; a cell merged across columns counts once."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            cells.append("" if cell._tc is previous else cell.text)
            previous = cell._tc
        rows.append(cells)
    return list(table_lines(rows))


def load_docx(path: Path) -> LoadedFile:
    """Paragraphs and tables, in sections at each heading style."""
    import zipfile

    import docx  # python-docx
    from docx.opc.exceptions import OpcError

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, OpcError, KeyError, ValueError) as exc:
        raise LoaderError(f"malformed DOCX (not a valid Word file): {exc}") from None
    title = (document.core_properties.title or "").strip() or None
    sections: list[Section] = []
    heading: str | None = None
    current: list[str] = []

    def flush() -> None:
        body = "\n".join(current).strip()
        if body:
            sections.append(Section(text=body, heading=heading))
        current.clear()

    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            current.extend(_docx_table_lines(block))
            continue
        style = (block.style.name if block.style is not None else "") or ""
        text = block.text.strip()
        if not text:
            continue
        if style.startswith("Heading") or style == "Title":
            flush()
            heading = text
            if title is None and style in ("Title", "Heading 1"):
                title = text
            continue
        current.append(text)
    flush()
    if not sections:
        raise LoaderError("empty file: the DOCX holds no text")
    return LoadedFile(title=title or path.stem, sections=sections)


def load_image(path: Path, ocr: str = DEFAULT_OCR) -> LoadedFile:
    """A scanned page or photo of a document: its text by OCR, one section per frame."""
    languages = ocr_support.usable_languages(ocr)
    if not languages:
        raise LoaderError(ocr_support.unavailable_message("an image", ocr))
    sections = []
    for page, image in ocr_support.image_frames(path):
        text = ocr_support.image_text(image, languages)
        if _WORD.search(text):
            sections.append(Section(text=text, page=page, ocr=True))
    if not sections:
        raise LoaderError("empty image: OCR (Tesseract) found no text in it (a picture, or a "
                          "scan too faint to read)")
    return LoadedFile(title=path.stem, sections=sections, pages=len(sections) if sections[0].page else None)


LOADERS: dict[str, Callable[[Path], LoadedFile]] = {
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".text": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pptx": load_pptx,
    ".xlsx": load_xlsx,
    ".csv": load_csv,
    ".eml": load_eml,
}
_OCR_LOADERS: dict[str, Callable[..., LoadedFile]] = {
    ".pdf": load_pdf,
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"), load_image),
}
LOADERS.update(_OCR_LOADERS)

SUPPORTED_EXTENSIONS = tuple(sorted(LOADERS))


def load_file(path: Path, max_bytes: int | None = None, ocr: str = DEFAULT_OCR) -> LoadedFile:
    """Load one file, or raise :class:`LoaderError` saying what is wrong and what to do.
    ``ocr``: Tesseract's languages for scanned pages and images ("" turns OCR off)."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoaderError(
            f"unsupported file type '{path.suffix or '(none)'}': supported are "
            + ", ".join(SUPPORTED_EXTENSIONS)
        )
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise LoaderError(
                f"file too large ({size / 1048576:.1f} MB > limit {max_bytes / 1048576:.1f} MB): "
                "split it or raise RAG_MAX_FILE_SIZE_MB"
            )
        if size == 0:
            raise LoaderError("empty file: it has 0 bytes")
        if path.suffix.lower() in _OCR_LOADERS:
            return _OCR_LOADERS[path.suffix.lower()](path, ocr=ocr)
        return loader(path)
    except PermissionError:
        raise LoaderError("unreadable file: permission denied (check the file's permissions)") from None
    except (FileNotFoundError, IsADirectoryError):
        raise LoaderError("file vanished while it was being read") from None
    except OSError as exc:
        raise LoaderError(f"unreadable file: {exc.strerror or exc}") from None
