"""``RAG_REDACT_CONTACTS``: e-mail addresses and phone numbers in answers, evidence and source
snippets are replaced by ``[email]`` and ``[phone]``."""

from __future__ import annotations

import re

from rag.schemas import Answer

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PHONE = re.compile(r"(?<![\w.,])\+?\(?\d[\d ().-]{5,}\d(?![\w]|[.,]\d)")
_DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15 or _DATE.match(text.strip()):
        return text  # an amount, a date or a short number, not a phone number
    return "[phone]"


def redact(text: str) -> str:
    return _PHONE.sub(_phone, _EMAIL.sub("[email]", text))


def redact_answer(answer: Answer) -> Answer:
    return answer.model_copy(update={
        "answer": redact(answer.answer),
        "generated": redact(answer.generated) if answer.generated else answer.generated,
        "evidence": [e.model_copy(update={"text": redact(e.text)}) for e in answer.evidence],
        "citations": [c.model_copy(update={"snippet": redact(c.snippet), "text": redact(c.text)})
                      for c in answer.citations],
    })
