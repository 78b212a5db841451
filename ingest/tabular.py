"""Spreadsheets and CSV: every row one line that keeps its column headers (see ``tables``)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from ingest.decoding import decode_text
from ingest.document import LoadedFile, Section, require_sections
from ingest.tables import table_lines
from rag.errors import LoaderError

_SNIFF_CHARS = 64 * 1024
_DELIMITERS = ",;\t|"


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The delimiter and quoting of a CSV file, from its start. When the sniffer cannot tell,
    the delimiter the first line holds most of, else a comma."""
    sample = text[:_SNIFF_CHARS].replace("\r\n", "\n")  # the sniffer misses quotes before \r\n
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        pass
    first = next((line for line in sample.split("\n") if line.strip()), "")
    counts = {d: first.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0 or best == ",":
        return csv.excel

    class FirstLine(csv.excel):
        delimiter = best

    return FirstLine


def load_csv(path: Path) -> LoadedFile:
    """One section; the first non-empty row is the header. Decoded like a text file."""
    text = decode_text(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    try:
        body = "\n".join(table_lines(reader))
    except csv.Error as exc:
        raise LoaderError(
            f"malformed CSV (line {reader.line_num}: {exc}): fix the quoting, or save it again "
            "from a spreadsheet program"
        ) from None
    sections = [Section(text=body)]
    require_sections(sections, "CSV file")
    return LoadedFile(title=path.stem, sections=sections)


def load_xlsx(path: Path) -> LoadedFile:
    """One section per sheet (heading: the sheet's name). Rows are streamed from the file, and
    formulas give their last computed value."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # SyntaxError: XML parse errors of both ElementTree and lxml derive from it.
    broken = (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError,
              IndexError, AttributeError, SyntaxError)
    try:
        workbook = load_workbook(str(path), read_only=True, data_only=True)
    except broken as exc:
        raise LoaderError(
            f"malformed XLSX ({type(exc).__name__}: {exc}): open it in Excel or LibreOffice and "
            "save it as .xlsx again, without a password"
        ) from None
    sections: list[Section] = []
    try:
        title = (workbook.properties.title or "").strip() or path.stem
        for sheet in workbook.worksheets:
            # A wrongly stored size would pad every row to the claimed width: read what is there.
            sheet.reset_dimensions()  # type: ignore[union-attr]
            body = "\n".join(table_lines(sheet.iter_rows(values_only=True)))
            if body:
                sections.append(Section(text=body, heading=sheet.title))
    except broken as exc:
        raise LoaderError(
            f"malformed XLSX ({type(exc).__name__}: {exc}): open it in Excel or LibreOffice and "
            "save it as .xlsx again"
        ) from None
    finally:
        workbook.close()
    require_sections(sections, "workbook")
    return LoadedFile(title=title, sections=sections)
