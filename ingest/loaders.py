"""One loader per format: a file -> sections of text with page and heading, or a clear error.

Loaders never see the store; they raise :class:`rag.errors.LoaderError` with a message a user can
act on, and ingestion records it in the report and goes on with the next file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import LoaderError

logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(slots=True)
class Section:
    """A piece of a document: one PDF page, one Markdown/DOCX section, or a whole text file."""

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass(slots=True)
class LoadedFile:
    title: str
    sections: list[Section]
    pages: int | None = None


TEXT_ENCODINGS = ("utf-8-sig", "gb18030")
_MIN_PDF_CHARS_PER_PAGE = 20
_WORD = re.compile(r"\w", re.UNICODE)


def _check_not_binary(data: bytes) -> None:
    if b"\x00" in data[:8192]:
        raise LoaderError("binary file with a text extension: it holds NUL bytes, not text")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030/GBK; binary content is refused."""
    _check_not_binary(data)
    for encoding in TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\t\n\r\f")
        if controls > max(8, len(text[:20000]) // 100):
            break
        return text
    raise LoaderError(
        "binary file with a text extension (not UTF-8 or GB18030 text): convert it to "
        "UTF-8 text or remove it"
    )


def _require_text(text: str, what: str = "file") -> None:
    if not _WORD.search(text):
        raise LoaderError(f"empty {what}: no text to index")


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


def load_html(path: Path) -> LoadedFile:
    """Visible text only: scripts, styles and hidden elements are dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(path.read_bytes()), "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe"]):
        tag.decompose()
    for tag in soup.select('[hidden], [aria-hidden="true"], [style*="display:none"]'):
        tag.decompose()
    text = soup.get_text("\n")
    text = re.sub(r"\n\s*\n+", "\n\n", text).strip()
    _require_text(text)
    return LoadedFile(title=title or path.stem, sections=[Section(text=text)])


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
            for row in block.rows:
                cells = [c.text.strip() for c in row.cells]
                current.append(" | ".join(dict.fromkeys(c for c in cells if c)))
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


def load_pdf(path: Path) -> LoadedFile:
    """One section per page with its page number (1-based)."""
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
            text = page.extract_text() or ""
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
    chars = sum(len(_WORD.findall(s.text)) for s in sections)
    if chars < _MIN_PDF_CHARS_PER_PAGE * max(pages, 1):
        raise LoaderError(
            "no extractable text: scanned? needs OCR (the PDF has no text layer; run it "
            "through OCR, e.g. ocrmypdf, and add the result)"
        )
    return LoadedFile(title=title or path.stem, sections=sections, pages=pages)


LOADERS: dict[str, Callable[[Path], LoadedFile]] = {
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".text": load_text,
    ".html": load_html,
    ".htm": load_html,
}

SUPPORTED_EXTENSIONS = tuple(sorted(LOADERS))


def load_file(path: Path, max_bytes: int | None = None) -> LoadedFile:
    """Load one file, or raise :class:`LoaderError` saying what is wrong and what to do."""
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
        return loader(path)
    except PermissionError:
        raise LoaderError("unreadable file: permission denied (check the file's permissions)") from None
    except (FileNotFoundError, IsADirectoryError):
        raise LoaderError("file vanished while it was being read") from None
    except OSError as exc:
        raise LoaderError(f"unreadable file: {exc.strerror or exc}") from None
