"""Is a question a follow-up of the conversation, or does it stand on its own?

A follow-up ("And for part-time staff?", "那兼职员工呢？", "How long is it?") leaves its subject
in an earlier question, so it is searched together with that question. A question that stands
on its own ("What is the capital of France?") is searched on its own: searching it together with
the previous question would let it inherit an unrelated subject and pass the relevance cut.

The test is on the question's form, in the two languages the product answers in: it opens with
a connective that continues a thought ("and", "what about", "那", "还有"), ends in the Chinese
follow-up particle 呢, refers back with a pronoun ("it", "they", "这个", "它"), or has almost no
words of its own. No list is tuned to an evaluation set; they are the language's closed classes.
"""

from __future__ import annotations

import re

from rag.lexical import content_tokens, query_text
from rag.text import is_cjk

_EN_OPENERS = re.compile(
    r"^\s*(and|but|also|or|so|then|same|what about|how about|what if|and if|and what|and how|"
    r"is that|are those|is it|was it)\b", re.IGNORECASE)
_EN_PRONOUNS = re.compile(r"\b(it|its|they|them|their|theirs|he|she|him|her|those|these|such)\b",
                          re.IGNORECASE)
_ZH_OPENERS = re.compile(r"^\s*(那么|那|还有|另外|而且|并且|如果|要是|假如|那如果|同样|也)")
_ZH_BACKREF = re.compile(r"(这个|那个|这些|那些|这种|那种|这样|它们|它|他们|她们|他|她|上述|该|此|其)")
_ZH_PARTICLE = re.compile(r"呢\s*[？?]?\s*$")


def _own_words(question: str) -> list[str]:
    """The question's content tokens (stemmed words, CJK characters) minus function words."""
    words = []
    for token in content_tokens(query_text(question)):
        words.extend(token if is_cjk(token) else [token])  # CJK: its characters
    return list(dict.fromkeys(words))


def is_follow_up(question: str, has_history: bool) -> bool:
    """Whether ``question`` continues the conversation (see the module docstring)."""
    if not has_history:
        return False
    text = question.strip()
    if _EN_OPENERS.search(text) or _ZH_OPENERS.search(text) or _ZH_PARTICLE.search(text):
        return True
    if _EN_PRONOUNS.search(text) or _ZH_BACKREF.search(text):
        return True
    own = _own_words(text)
    cjk = sum(1 for w in own if is_cjk(w))
    latin = len(own) - cjk
    return latin + cjk / 2 < 2  # "How many?", "多久？": no subject of its own

