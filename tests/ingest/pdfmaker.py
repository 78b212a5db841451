"""Tiny text PDFs for tests, written with pypdf (which has no text-drawing API of its own).

ASCII is drawn in Helvetica (a standard font); any other character with a Type0 font whose
ToUnicode map gives its code point, as a PDF producer embedding a font would. Right-to-left
runs are stored in visual order, as producers store them.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    TextStringObject,
)


def _name(value: str) -> NameObject:
    return NameObject(value)


def _add(writer: PdfWriter, obj: DictionaryObject) -> IndirectObject:
    return writer._add_object(obj)  # pypdf has no public way to add an indirect object


def _stream(writer: PdfWriter, data: bytes) -> IndirectObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    return _add(writer, stream)


def _dict(**items: object) -> DictionaryObject:
    return DictionaryObject({_name(f"/{k}"): v for k, v in items.items()})


def _fonts(writer: PdfWriter, chars: list[str]) -> DictionaryObject:
    helvetica = _dict(Type=_name("/Font"), Subtype=_name("/Type1"), BaseFont=_name("/Helvetica"),
                      Encoding=_name("/WinAnsiEncoding"))
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
        "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
        f"{max(len(chars), 1)} beginbfchar\n"
        + "".join(f"<{i + 1:04X}> <{ord(c):04X}>\n" for i, c in enumerate(chars or ["?"]))
        + "endbfchar\nendcmap CMapName currentdict /CMap defineresource pop end end\n"
    )
    descendant = _dict(
        Type=_name("/Font"), Subtype=_name("/CIDFontType2"), BaseFont=_name("/NotoSans"),
        CIDSystemInfo=_dict(Registry=TextStringObject("Adobe"), Ordering=TextStringObject("Identity"),
                            Supplement=NumberObject(0)),
        DW=NumberObject(500),
    )
    unicode_font = _dict(
        Type=_name("/Font"), Subtype=_name("/Type0"), BaseFont=_name("/NotoSans"),
        Encoding=_name("/Identity-H"), DescendantFonts=ArrayObject([_add(writer, descendant)]),
        ToUnicode=_stream(writer, cmap.encode("ascii")),
    )
    return _dict(F1=_add(writer, helvetica), F2=_add(writer, unicode_font))


def _runs(line: str) -> list[tuple[bool, str]]:
    runs: list[tuple[bool, str]] = []
    for ch in line:
        ascii_ = ord(ch) < 0x7F
        if runs and runs[-1][0] == ascii_:
            runs[-1] = (ascii_, runs[-1][1] + ch)
        else:
            runs.append((ascii_, ch))
    return runs


def _visual(text: str) -> str:
    if any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        return text[::-1]
    return text


def _content(lines: list[str], chars: list[str], matrix: str) -> bytes:
    ops = ["BT", "/F1 12 Tf", "14 TL", f"{matrix} Tm"]
    for line in lines:
        for is_ascii, text in _runs(line):
            if is_ascii:
                escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                ops += ["/F1 12 Tf", f"({escaped}) Tj"]
            else:
                codes = "".join(f"{chars.index(c) + 1:04X}" for c in _visual(text))
                ops += ["/F2 12 Tf", f"<{codes}> Tj"]
        ops.append("T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def make_pdf(path: Path, pages: list[str | None], *, rotate: int = 0, sideways_text: bool = False,
             size: tuple[float, float] = (612, 792)) -> Path:
    """One page per item (None: a page without text); ``rotate`` sets the pages' /Rotate,
    ``sideways_text`` draws the text turned 90 degrees on an upright page."""
    writer = PdfWriter()
    chars = sorted({c for text in pages if text for c in text if ord(c) >= 0x7F})
    fonts = _fonts(writer, chars)
    matrix = "0 1 -1 0 300 100" if sideways_text else "1 0 0 1 72 700"
    for text in pages:
        page = writer.add_blank_page(*size)
        if text:
            page[_name("/Contents")] = _stream(writer, _content(text.split("\n"), chars, matrix))
            page[_name("/Resources")] = _dict(Font=fonts)
        if rotate:
            page.rotate(rotate)
    writer.write(str(path))
    return path
