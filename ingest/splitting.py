"""Split sections into chunks that fit the embedding model, at English and Chinese sentence ends.

Lengths are counted in the embedding model's own tokens (its ``tokenizer.json``), so no chunk is
ever truncated by the embedder, whatever the language.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

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


@lru_cache(maxsize=8)
def token_counter(tokenizer_file: str, limit: int = 1 << 30) -> Callable[[str], int]:
    """Count tokens with the embedding model's tokenizer (no special tokens).

    Every whitespace-separated word is at least one token, so a text of more words than
    ``limit`` is too long whatever its exact count: its word count is returned instead of the
    costly exact count (the splitter only needs to know it is over the limit).
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(tokenizer_file)
    tokenizer.no_truncation()
    tokenizer.no_padding()

    @lru_cache(maxsize=8192)  # the splitter measures most pieces twice (split, then merge)
    def count(text: str) -> int:
        words = len(text.split())
        if words > limit:
            return words
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def tokenizer_file(model_dir: Path) -> Path:
    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the embedding model folder has no tokenizer.json")
    return path


def make_splitter(chunk_size: int, chunk_overlap: int, count: Callable[[str], int]) -> RecursiveCharacterTextSplitter:
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
