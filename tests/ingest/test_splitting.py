"""Chunks never exceed the embedding model's input limit, in English or Chinese."""

from __future__ import annotations

from ingest.parse import SplitConfig, parse_file
from ingest.splitting import token_counter
from rag import factories
from rag.config import load_settings


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
