"""Chunks never exceed the embedding model's input limit, in English or Chinese."""

from __future__ import annotations

from tokenizers import Tokenizer

from ingest.parse import SplitConfig, parse_file
from ingest.splitting import (
    counts_words_apart,
    make_splitter,
    split_text,
    token_counter,
)
from rag import factories
from rag.config import load_settings
from tests.conftest import SHARED_EVAL


def _config(chunk_size: int = 60) -> SplitConfig:
    info = factories.embedder_info(load_settings())
    return SplitConfig(str(info.tokenizer_file), chunk_size, 10, info.max_tokens, 10**8)


def test_no_chunk_over_the_limit_english_and_chinese(tmp_path) -> None:
    config = _config()
    count = token_counter(config.tokenizer_file)
    english = " ".join(f"Sentence number {i} talks about policy {i % 7}." for i in range(300))
    chinese = "".join(f"第{i}条规定员工每年享有带薪年假，并且需要提前申请。" for i in range(200))
    blob = "x" * 5000  # no separators at all
    for name, text in [("en.txt", english), ("zh.txt", chinese), ("blob.txt", blob)]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        chunks = parse_file(str(tmp_path / name), config).chunks
        assert len(chunks) > 3
        assert max(count(c.text) for c in chunks) <= config.body_limit


def test_chinese_splits_at_sentence_ends(tmp_path) -> None:
    config = _config()
    text = "".join(f"第{i}条规定员工每年享有带薪年假并且需要提前申请。" for i in range(60))
    (tmp_path / "zh.txt").write_text(text, encoding="utf-8")
    chunks = parse_file(str(tmp_path / "zh.txt"), config).chunks
    assert all(c.text.endswith("。") for c in chunks)


def test_body_limit_leaves_room_for_the_header() -> None:
    config = _config(chunk_size=10_000)
    assert config.body_limit <= config.max_tokens - 2 - 32


def _whole_count(tokenizer_file: str):
    tokenizer = Tokenizer.from_file(tokenizer_file)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def test_counting_word_by_word_gives_the_tokenizers_own_counts() -> None:
    """The counter sums the counts of a text's words (MiniLM's WordPiece never joins across
    whitespace): every text the splitter measures in real documents, and texts with the
    characters str.split() and the tokenizer treat differently, count as the whole text does."""
    config = _config(chunk_size=200)
    whole = _whole_count(config.tokenizer_file)
    assert counts_words_apart(Tokenizer.from_file(config.tokenizer_file))
    count = token_counter(config.tokenizer_file, config.body_limit)
    measured: list[str] = []

    def recording(text: str) -> int:
        measured.append(text)
        return count(text)

    splitter = make_splitter(config.body_limit, 20, recording)
    for folder in ("docs_en", "realistic/docs_en", "realistic/docs_zh"):
        for path in sorted((SHARED_EVAL / folder).glob("*.md"))[:6]:
            split_text(path.read_text(encoding="utf-8"), splitter, recording, config.body_limit)
    tricky = [
        "a\x0bb c", "a\x0cb", "x\x1cy\x1fz", "end\x85next", "no\u00a0break", "ideographic\u3000space",
        "line\u2028sep", "zero\u200bwidth", "café naïve Ünïcödé", "foo[SEP]bar [CLS]", "emoji 😀 ok",
        "第1条 员工每年享有带薪年假。", "tab\tnew\nline\r\nend", "  leading and trailing  ", "",
    ]
    measured += tricky
    assert len(measured) > 1000
    short = [t for t in measured if len(t.split()) <= config.body_limit]
    assert [count(t) for t in short] == [whole(t) for t in short]
