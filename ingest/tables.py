"""Table rows as self-describing lines: ``Name: Alice | Department: Sales | Leave: 3 days``.

Every row keeps its column headers, so a chunk cut from the middle of a long table still says
what each value is. Rows are joined by newlines, where the splitter cuts first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence

_SPACE = re.compile(r"\s+")


def cell_text(value: object) -> str:
    """One cell as a single line: ``3.0`` -> ``3``, a date without a time -> ``2024-05-01``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return _SPACE.sub(" ", str(value)).strip()


def row_line(headers: Sequence[str], row: Sequence[str]) -> str:
    """``Header: value | ...``; a value without a header stands alone, empty values are left out."""
    parts: list[str] = []
    for index, value in enumerate(row):
        if not value:
            continue
        header = headers[index] if index < len(headers) else ""
        parts.append(f"{header}: {value}" if header and header != value else value)
    return " | ".join(parts)


def table_lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The first non-empty row is the header; every later non-empty row becomes one line that
    keeps the headers. A table of one row yields it as is. Rows are consumed one at a time."""
    headers: list[str] | None = None
    has_body = False
    for raw in rows:
        row = [cell_text(value) for value in raw]
        if not any(row):
            continue
        if headers is None:
            headers = row
            continue
        line = row_line(headers, row)
        if line:
            has_body = True
            yield line
    if headers is not None and not has_body:
        yield " | ".join(dict.fromkeys(h for h in headers if h))
