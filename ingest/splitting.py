"""Split sections into chunks that fit the embedding model, at English and Chinese sentence ends.

Lengths are counted in the embedding model's own tokens (its ``tokenizer.json``), so no chunk is
ever truncated by the embedder, whatever the language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a file is split: an unchanged re-run never needs it
    from langchain_text_splitters import RecursiveCharacterTextSplitter

# Coarse to fine: paragraphs, lines (a table row is one line), table cells ("Header: value |
# ..."), sentence ends (Chinese full-width and English), clauses, words, characters. Separators
# stay at the end of the piece they close.
SEPARATORS = [
    "\n\n",
    "\n",
    " | ",
    "。",
    "！",
    "？",
    "；",
    ". ",
    "! ",
    "? ",
    "; ",
    "，",
    ", ",
    "、",
    " ",
    "",
]


# Characters ``str.split()`` cuts at that a BERT normalizer deletes (control characters): a
# text holding one is counted whole, not word by word.
_NOT_A_WORD_BREAK = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
_WORD_CACHE = 200_000  # distinct words whose counts are kept (cleared when full)


def counts_words_apart(tokenizer: Any) -> bool:
    """True when the tokenizer never joins text across whitespace (a BERT normalizer and a
    pre-tokenizer that splits at whitespace): its count of a text is then the sum of its counts
    of the text's words."""
    from tokenizers import normalizers, pre_tokenizers

    return (tokenizer.normalizer is None or isinstance(tokenizer.normalizer, normalizers.BertNormalizer)) and \
        isinstance(tokenizer.pre_tokenizer, (pre_tokenizers.BertPreTokenizer, pre_tokenizers.Whitespace,
                                             pre_tokenizers.WhitespaceSplit))


@lru_cache(maxsize=8)
def token_counter(tokenizer_file: str, limit: int = 1 << 30) -> Callable[[str], int]:
    """Count tokens with the embedding model's tokenizer (no special tokens).

    Every whitespace-separated word is at least one token, so a text of more words than
    ``limit`` is too long whatever its exact count: its word count is returned instead of the
    costly exact count (the splitter only needs to know it is over the limit).

    The splitter measures the same text many times (a paragraph, then its lines, its sentences,
    the chunks they merge into). With a tokenizer that counts words apart (MiniLM's WordPiece),
    each distinct word is tokenised once and a text's count is the sum over its words: the same
    numbers, English parsed 2 to 3 times as fast. Other tokenizers count each text whole.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(tokenizer_file)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    by_words = counts_words_apart(tokenizer)
    word_counts: dict[str, int] = {}

    def whole(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    @lru_cache(maxsize=8192)  # the splitter measures most pieces twice (split, then merge)
    def count(text: str) -> int:
        words = text.split()
        if len(words) > limit:
            return len(words)
        if not by_words or _NOT_A_WORD_BREAK.search(text):
            return whole(text)
        if len(word_counts) > _WORD_CACHE:
            word_counts.clear()
        total = 0
        for word in words:
            n = word_counts.get(word)
            if n is None:
                n = word_counts[word] = whole(word)
            total += n
        return total

    return count


def tokenizer_file(model_dir: Path) -> Path:
    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the embedding model folder has no tokenizer.json")
    return path


def make_splitter(chunk_size: int, chunk_overlap: int, count: Callable[[str], int]) -> RecursiveCharacterTextSplitter:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        length_function=count,
        strip_whitespace=True,
    )


def split_text(text: str, splitter: RecursiveCharacterTextSplitter, count: Callable[[str], int], limit: int) -> list[str]:
    """Split, then guarantee the hard limit even for text with no separators at all."""
    chunks: list[str] = []
    for piece in splitter.split_text(text):
        if count(piece) <= limit:
            chunks.append(piece)
            continue
        # Extremely long "words" (e.g. base64 blobs): cut by characters until it fits.
        start = 0
        while start < len(piece):
            end = min(len(piece), start + limit)
            while end > start + 1 and count(piece[start:end]) > limit:
                end = start + (end - start) * 3 // 4
            chunks.append(piece[start:end])
            start = end
    return [c for c in chunks if c.strip()]
