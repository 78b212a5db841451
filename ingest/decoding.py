"""Bytes of a text file -> text: byte-order mark, UTF-8, GB18030, then a detected code page.

Binary content is refused with :class:`rag.errors.LoaderError`, but only when no encoding fits.
"""

from __future__ import annotations

import codecs

from rag.errors import LoaderError

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAMPLE = 20000
# charset-normalizer's "mess ratio" of a reading: 0 is clean text, 1 is noise. A GB18030
# reading messier than this is another code page read wrongly (Windows-1252 "Größe" is valid
# GB18030 too: "Gr鲞e").
_MAX_GB18030_MESS = 0.1
# Legacy Western text (Windows-1252) reading at most this messy is taken as such: on short
# texts the detector ties between dozens of code pages and often picks a DOS or Mac one.
_MAX_CP1252_MESS = 0.2
# Language coherence (0..1) another code page may beat Windows-1252 by before it is preferred:
# in mostly-ASCII text, tiny differences are noise.
_COHERENCE_SLACK = 0.1
# Looser than the detector's default (0.2): short texts in a legacy code page often read a
# little messy in every candidate; binary content still matches none.
_MAX_DETECTED_MESS = 0.5
# Without a byte-order mark these are never guessed (their text would hold NUL bytes).
_NEVER_GUESSED = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le", "utf_7"]

BINARY_MESSAGE = (
    "binary file with a text extension (no text encoding fits: not UTF-8, UTF-16, UTF-32, "
    "GB18030 or a detectable code page): convert it to UTF-8 text or remove it"
)


def _plausible(text: str) -> bool:
    """Text, not binary read as text: few control characters."""
    sample = text[:_SAMPLE]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return controls <= max(8, len(sample) // 100)


def _try(data: bytes, encoding: str) -> str | None:
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return text if _plausible(text) else None


def _mess(text: str, limit: float) -> float:
    from charset_normalizer.md import mess_ratio

    return float(mess_ratio(text[:_SAMPLE], limit))


def _by_bom(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _try(data, encoding)
            if text is not None:
                return text
    return None


def _detected(data: bytes) -> str | None:
    """Windows-1252 if it reads cleanly and no candidate reads more coherently, else the
    cleanest reading charset-normalizer finds, else None."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data, threshold=_MAX_DETECTED_MESS, cp_exclusion=_NEVER_GUESSED))
    western = _try(data, "cp1252")
    if western is not None and _mess(western, _MAX_CP1252_MESS) < _MAX_CP1252_MESS:
        coherence = next((m.coherence for m in matches if "cp1252" in m.could_be_from_charset), 0.0)
        if not matches or coherence >= matches[0].coherence - _COHERENCE_SLACK:
            return western
    for match in matches:
        text = _try(data, match.encoding)
        if text is not None:
            return text
    return None


def decode_text(data: bytes) -> str:
    """Decode a text file, or raise :class:`LoaderError` when it is binary."""
    text = _by_bom(data)
    if text is not None:
        return text
    if b"\x00" in data[:8192]:  # UTF-16/32 without a byte-order mark is taken for binary
        raise LoaderError(BINARY_MESSAGE)
    text = _try(data, "utf-8")
    if text is not None:
        return text
    chinese = _try(data, "gb18030")
    if chinese is not None and _mess(chinese, _MAX_GB18030_MESS) < _MAX_GB18030_MESS:
        return chinese
    text = _detected(data)
    if text is not None:
        return text
    if chinese is not None:  # messy, but the only encoding that fits
        return chinese
    raise LoaderError(BINARY_MESSAGE)
