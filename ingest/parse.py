"""Parsing and splitting of one file, run in a worker process under a time limit.

The worker imports no torch and no chromadb: only the loaders and the tokenizer, so it starts
quickly, and a hostile file that hangs or crashes the parser only costs that worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders import load_file
from ingest.splitting import make_splitter, split_text, token_counter

# Room kept for the title/heading line that is embedded with every chunk.
HEADER_TOKENS = 32


@dataclass(slots=True)
class ParsedChunk:
    text: str
    page: int | None
    heading: str | None
    ocr: bool = False


@dataclass(slots=True)
class ParsedFile:
    title: str
    pages: int | None
    chunks: list[ParsedChunk] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SplitConfig:
    tokenizer_file: str
    chunk_size: int
    chunk_overlap: int
    max_tokens: int  # the embedder's input limit (incl. 2 special tokens)
    max_bytes: int
    ocr_languages: str = "eng+chi_sim"  # Tesseract's, for scanned pages; "": no OCR

    @property
    def body_limit(self) -> int:
        return max(16, min(self.chunk_size, self.max_tokens - 2 - HEADER_TOKENS))


def parse_file(path: str, config: SplitConfig) -> ParsedFile:
    """Load and split one file. Raises ``LoaderError`` with a user-facing message."""
    loaded = load_file(Path(path), max_bytes=config.max_bytes, ocr=config.ocr_languages)
    limit = config.body_limit
    count = token_counter(config.tokenizer_file, limit)
    overlap = min(config.chunk_overlap, limit // 2)
    splitter = make_splitter(limit, overlap, count)
    parsed = ParsedFile(title=loaded.title, pages=loaded.pages)
    for section in loaded.sections:
        for text in split_text(section.text, splitter, count, limit):
            parsed.chunks.append(ParsedChunk(text=text, page=section.page, heading=section.heading,
                                             ocr=section.ocr))
    return parsed


def truncate_to_tokens(text: str, tokenizer_file: str, limit: int) -> str:
    count = token_counter(tokenizer_file)
    if count(text) <= limit:
        return text
    while text and count(text) > limit:
        text = text[: max(1, len(text) * 3 // 4)]
    return text
