"""Is the answer held by its sources? Checked while it streams, and once more at the end.

While the answer streams, every number is held back until it is complete and then compared with
the numbers of the sources the model was shown: a number the sources do not hold ("10 vacation
days" where they say 25) is never shown; the generation stops there and the answer is replaced
by the best evidence sentence, quoted and cited (see :mod:`rag.chain`). At the end, what the
answer adds to the question must be held by one sentence the model was shown (:func:`grounded`).
"""

from __future__ import annotations

import re

import cn2an

from rag.citations import strip_markers
from rag.lexical import content_tokens, lexical_tokens
from rag.text import is_cjk

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_SO_FAR = re.compile(r"\d+(?:[.,]\d+)*[.,]?")  # a number, perhaps cut before its next part
_OPEN_MARKER = re.compile(r"\[[\d,，\s]*$")
# Chinese numbers written in characters, with their unit ("十五年", "三倍", "五百元", "七日") or
# as a percentage ("百分之二十"): a bare 一 is a word ("一般", "统一"), not a number.
_ZH_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_ZH_QUANTITY = re.compile(
    rf"百分之(?P<percent>[{_ZH_DIGITS}]+)|(?P<number>[{_ZH_DIGITS}]+)(?=[年月日天周倍元个家次人岁项条])")


def normalise_number(number: str) -> str:
    """"5,000" and "5000" are one number; "1.5" stays itself; trailing separators go."""
    number = number.rstrip(".,")
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", number):
        number = number.replace(",", "")
    return number


def numbers_in(text: str) -> set[str]:
    """The numbers of a text (citation markers excluded), normalised: those written in digits,
    and Chinese numbers with their unit or as a percentage, by value ("二十年" holds "20",
    "百分之二十" "20"), so that "20年" and "二十年", "二十天" and "二十日" are one claim."""
    text = strip_markers(text, " ")
    found = {normalise_number(n) for n in _NUMBER.findall(text)}
    for match in _ZH_QUANTITY.finditer(text):
        value = zh_value(match.group("number") or match.group("percent"))
        if value is not None:
            found.add(value)
    return found


def zh_value(numeral: str) -> str | None:
    """A Chinese numeral's value in digits ("十五" -> "15", "一九九七" -> "1997"), or None."""
    try:
        value = cn2an.cn2an(numeral, "smart")
    except (ValueError, KeyError):  # cn2an's errors for what is not a number
        return None
    return normalise_number(str(int(value)) if float(value).is_integer() else str(value))


class NumberGuard:
    """Feed streamed answer text; get back what is safe to show. A number is held back until a
    character that cannot continue it arrives; a number the sources do not hold sets
    ``unsupported`` and nothing from it on is released."""

    def __init__(self, sources_text: str) -> None:
        self.allowed = numbers_in(sources_text)
        self.held = ""
        self.shown = ""
        self.unsupported: str | None = None

    def feed(self, text: str) -> str:
        if self.unsupported is not None:
            return ""
        buffer, out = self.held + text, []
        self.held = ""
        i = 0
        while i < len(buffer):
            if not buffer[i].isdigit():
                out.append(buffer[i])
                i += 1
                continue
            match = _NUMBER_SO_FAR.match(buffer, i)
            assert match is not None
            end = match.end()
            if end == len(buffer):  # it may go on in the next piece
                self.held = buffer[i:]
                break
            number = normalise_number(match.group(0))
            before = "".join(out)
            if not _OPEN_MARKER.search(self.shown + before) and number not in self.allowed:
                self.unsupported = number
                break
            out.append(match.group(0))
            i = end
        released = "".join(out)
        self.shown += released
        return released

    def flush(self) -> str:
        held, self.held = self.held, ""
        if held and self.unsupported is None:
            number = normalise_number(held)
            if not _OPEN_MARKER.search(self.shown) and number not in self.allowed:
                self.unsupported = number
                return ""
            self.shown += held
            return held
        return ""


# What small models put before an answer ("According to the sources, ..."): not a claim.
_PREAMBLE = re.compile(
    r"^\s*(?:(?:according to|based on|as stated in|as per) (?:the )?(?:information |text |sources? |"
    r"documents? |context )?(?:provided|given|above|numbered sources?)?[^,:，：]{0,30}[,:，：]\s*|"
    r"根据(?:所)?(?:提供的)?(?:信息|资料|内容|出处|来源|文档|原文|规定|法律)?[^，,：:]{0,12}[，,：:]\s*)",
    re.IGNORECASE)


def claim_tokens(text: str) -> set[str]:
    """The content of a text for grounding: words, and single CJK characters (a paraphrase in
    Chinese recombines the source's characters, rarely its bigrams)."""
    out: set[str] = set()
    for token in content_tokens(text):
        out.update(token if is_cjk(token) else [token])
    return out


def grounded(answer: str, sources_text: str, question: str = "",
             sentences: list[str] | None = None) -> bool:
    """Whether the answer only states what its sources hold: every number in it occurs in the
    sources, and at least half of the words it adds to the question occur in one of their
    ``sentences`` (or anywhere in them, without sentences): "The capital of France is Paris"
    adds "Paris", which sources about travel expenses do not hold, and an answer stitched from
    words of unrelated sentences is not held by any. An answer that adds nothing to the question
    ("兼职员工" to "那兼职员工呢？") is no answer."""
    core = _PREAMBLE.sub("", strip_markers(answer))
    if not core.strip():
        return True
    if not numbers_in(core) <= numbers_in(sources_text):
        return False
    terms = claim_tokens(core) - claim_tokens(question) - set(lexical_tokens(question))
    if not terms:
        # Only the question's words (and numbers, checked above): an answer if it has a number.
        return bool(numbers_in(core))
    for text in sentences or [sources_text]:
        present = claim_tokens(text) | set(lexical_tokens(text))
        if len(terms & present) >= 0.5 * len(terms):
            return True
    return False
