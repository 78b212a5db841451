"""Citation markers in a streamed answer: [n] that match no source are removed as they stream."""

from __future__ import annotations

import re

_MARK = re.compile(r"\[(\d{1,3})(?:\s*[,，]\s*(\d{1,3}))*\]")
_MARK_WITH_SPACE = re.compile(r"\s*" + _MARK.pattern)
_NUMS = re.compile(r"\d{1,3}")


def strip_markers(text: str, replacement: str = "") -> str:
    """The text without its ``[n]`` citation markers (and the spaces before them)."""
    return _MARK_WITH_SPACE.sub(replacement, text)


def cited_numbers(text: str) -> set[int]:
    return {int(n) for m in _MARK.finditer(text) for n in _NUMS.findall(m.group(0))}


class CitationFilter:
    """Feed streamed text; get back text with invalid ``[n]`` markers dropped.

    Text from a ``[`` is held back until the marker closes (or clearly is not a marker), so
    what is streamed is exactly the final answer.
    """

    _MAX_HOLD = 12

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self.held = ""

    def _clean(self, marker: str) -> str:
        numbers = [int(n) for n in _NUMS.findall(marker)]
        keep = [n for n in dict.fromkeys(numbers) if n in self.valid]
        return "[" + ", ".join(str(n) for n in keep) + "]" if keep else ""

    def feed(self, text: str) -> str:
        out: list[str] = []
        buffer = self.held + text
        self.held = ""
        while buffer:
            start = buffer.find("[")
            if start < 0:
                out.append(buffer)
                break
            out.append(buffer[:start])
            rest = buffer[start:]
            end = rest.find("]")
            if end < 0:
                if len(rest) <= self._MAX_HOLD and re.fullmatch(r"\[[\d,，\s]*", rest):
                    # Maybe a marker: wait for more, with the spaces before it.
                    joined = "".join(out)
                    stripped = joined.rstrip(" ")
                    out = [stripped]
                    self.held = joined[len(stripped):] + rest
                    break
                out.append(rest[0])
                buffer = rest[1:]
                continue
            candidate = rest[: end + 1]
            if _MARK.fullmatch(candidate):
                cleaned = self._clean(candidate)
                if not cleaned:
                    joined = "".join(out).rstrip(" ")  # "answer [9]." -> "answer."
                    out = [joined]
                out.append(cleaned)
            else:
                out.append(candidate)
            buffer = rest[end + 1 :]
        result = "".join(out)
        if not self.held:
            # Hold trailing spaces back: if an invalid marker follows, they go with it.
            stripped = result.rstrip(" ")
            self.held, result = result[len(stripped):], stripped
        return result

    def flush(self) -> str:
        held, self.held = self.held, ""
        return held
