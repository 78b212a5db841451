"""Lexical units of text, one tokeniser for the whole project: words (lower-cased, diacritics
folded, English-stemmed) and CJK characters and bigrams. The BM25 index
(:mod:`rag.catalog`), the retriever's lexical vote, grounding checks and evidence quotes all
read text through it.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from rag.text import CJK_RANGE, is_cjk

_CJK = CJK_RANGE
_TOKEN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)", re.UNICODE)  # (CJK run, word)

# Version of the lexical tokenisation. A catalog indexed by another version is re-indexed by the
# next sync (see Catalog.__init__). 2: CJK characters indexed as well as bigrams; diacritics
# folded before stemming.
LEXICAL_VERSION = "2"

# The interrogative of a question names what is asked for, not what the answer passage says:
# documents rarely contain it, so its IDF is high and it pulls in whatever text happens to hold
# "what" or "什么". The first one in the question is dropped before lexical matching (only the
# first: "Who produces Doctor Who?" keeps the title). Longest alternatives first.
_INTERROGATIVE = re.compile(
    r"\b(?:what|which|who|whom|whose|when|where|why|how)\b"
    r"|为什么|什么|哪些|哪个|哪里|哪儿|哪|谁|多少|怎么样|怎么|怎样|如何",
    re.IGNORECASE,
)


_stemmers = threading.local()


def _stem(word: str) -> str:
    """English Snowball (Porter2) stem. PyStemmer is Snowball's C build: the same stems as the
    pure-Python ``snowballstemmer`` (all 72,189 distinct words of the eval sets) about 19 times
    faster. A stemmer object keeps state while it works, so each thread has its own."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import Stemmer

        stemmer = _stemmers.english = Stemmer.Stemmer("english", 0)  # no cache: _unit has one
    return stemmer.stemWord(word)


def _fold(word: str) -> str:
    """Lower-case, diacritics removed (as SQLite's unicode61 tokenizer does in the index)."""
    word = word.lower()
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _unit() -> Callable[[str], str]:
    """A word as it is indexed: folded, then stemmed (cached: retrieval tokenises every
    candidate chunk of every question, and the same words come back)."""
    return lru_cache(maxsize=200_000)(lambda word: _stem(_fold(word)))


def lexical_runs(text: str) -> list[list[str]]:
    """The text as runs of consecutive units: stemmed words (a run of words ends only at CJK
    text), or the characters of one CJK run. Adjacent units of a run form the text's phrases."""
    unit = _unit()
    runs: list[list[str]] = []
    words: list[str] = []
    for cjk, word in _TOKEN.findall(text):
        if cjk:
            if words:
                runs.append(words)
                words = []
            runs.append(list(cjk))
        else:
            words.append(unit(word))
    if words:
        runs.append(words)
    return runs


def terms_and_phrases(text: str) -> tuple[list[str], list[str]]:
    """Units (words, CJK characters) and phrases (adjacent word pairs "a b", CJK bigrams)."""
    terms: list[str] = []
    phrases: list[str] = []
    for run in lexical_runs(text):
        terms.extend(run)
        if run and is_cjk(run[0]):
            phrases.extend(a + b for a, b in itertools.pairwise(run))
        else:
            phrases.extend(f"{a} {b}" for a, b in itertools.pairwise(run))
    return terms, phrases


def lexical_tokens(text: str) -> list[str]:
    """Words for alphabetic scripts (lower-cased, diacritics folded, English-stemmed), character
    bigrams (and the single characters of one-character runs) for Chinese and other CJK text."""
    tokens: list[str] = []
    for run in lexical_runs(text):
        if is_cjk(run[0]):
            tokens.extend(run if len(run) == 1 else (a + b for a, b in itertools.pairwise(run)))
        else:
            tokens.extend(run)
    return tokens


# Words that carry no content: question words and the commonest function words of English
# (stemmed forms included) and Chinese (characters).
_FUNCTION_WORDS = (
    "a an the is are was were be been do does did i me my we our you your can could may might "
    "must should would will shall of for to in on at by with about from as what which who whom "
    "whose when where why how many much long often there any some please tell know if than "
    "and or but also so then it its they them their this that these those get")
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split()) | frozenset(
    token for word in _FUNCTION_WORDS.split() for token in lexical_tokens(word))
FUNCTION_CHARS = frozenset("的了吗呢吧啊么是在有和与及或也都还就要会能可以什么怎么多少几哪谁为何请问我你他她它们这那个")


def content_tokens(text: str) -> list[str]:
    """:func:`lexical_tokens` without function words or numbers: what a text says. CJK tokens
    keep only their content characters (a bigram of two function characters goes)."""
    out = []
    for token in lexical_tokens(text):
        if is_cjk(token):
            kept = "".join(ch for ch in token if ch not in FUNCTION_CHARS)
            if kept:
                out.append(kept)
        elif token not in FUNCTION_WORDS and not token[:1].isdigit():
            out.append(token)
    return out


def is_function_token(token: str) -> bool:
    return token in FUNCTION_WORDS or (len(token) == 1 and token in FUNCTION_CHARS)


def index_tokens(text: str) -> list[str]:
    """What the BM25 index holds: :func:`lexical_tokens` plus every CJK character.

    Characters and bigrams together are the usual way to index Chinese without a dictionary
    (bigrams alone miss one-character words and names split differently in the question);
    word segmenters (jieba) were measured and added nothing on top of them.
    """
    tokens: list[str] = []
    for run in lexical_runs(text):
        if is_cjk(run[0]):
            tokens.extend(run)
            tokens.extend(a + b for a, b in itertools.pairwise(run))
        else:
            tokens.extend(run)
    return tokens


def query_text(question: str) -> str:
    """The question as matched lexically: its first interrogative word removed."""
    return _INTERROGATIVE.sub(" ", question, count=1)
