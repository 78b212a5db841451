"""Repeated questions come from the cache: the real chain and model, the real store; a sync, a
setting or what the asker may see makes it another question."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ingest.sync import run_sync
from rag import factories
from rag.access import Access, Rule
from rag.answer_cache import AnswerCache, cache_key, normalise
from rag.config import Settings, load_settings
from rag.schemas import Answer
from rag.users import User

pytestmark = pytest.mark.slow
POLICY = "# Leave policy\n\nFull-time staff get 25 vacation days a year.\n"
QUESTION = "How many vacation days do full-time staff get a year?"


@pytest.fixture()
def kb(docs: Path, store: Path) -> Settings:
    (docs / "policy.md").write_text(POLICY)
    settings = load_settings(docs_dir=docs, store_dir=store, answer_cache_size=1000)
    run_sync([], settings)
    return settings


def _ask(assistant: Any, question: str, access: Access | None = None, **overrides: Any) -> Answer:
    if access is None:
        return assistant.answer(question, **overrides)
    return assistant.answer(question, access=access, **overrides)


def test_a_repeated_question_is_answered_from_the_cache_until_the_store_changes(
        kb: Settings, docs: Path) -> None:
    assistant = factories.build_assistant(kb)
    first = _ask(assistant, QUESTION)
    assert first.found and not first.cached and "25" in first.answer
    again = _ask(assistant, "  how many VACATION days do full-time staff get a year ")
    assert again.cached and again.answer == first.answer
    assert again.citations == first.citations and again.evidence == first.evidence
    assert again.timings.total_ms < first.timings.total_ms / 5 and again.contract()["cached"] is True
    assert not _ask(assistant, QUESTION, top_k=1).cached  # other answer settings
    other = factories.build_assistant(kb.model_copy(update={"top_k": 2}), llm=assistant.llm)
    assert not _ask(other, QUESTION, top_k=None).cached  # as the CLI passes "not given"
    assert _ask(assistant, QUESTION, top_k=None, temperature=None).cached
    (docs / "policy.md").write_text(POLICY.replace("25", "27"))
    assert run_sync([], kb).files_updated == 1
    assistant = factories.build_assistant(kb, llm=assistant.llm)  # as the page does after a sync
    changed = _ask(assistant, QUESTION)
    assert not changed.cached and "27" in changed.answer


def test_what_the_asker_may_see_is_part_of_the_question(kb: Settings) -> None:
    assistant = factories.build_assistant(kb)
    assert _ask(assistant, QUESTION).found
    outsider = Access(user=User("eve", frozenset({"sales"})),
                      rules=(Rule("policy.md", frozenset({"hr"})),))
    hidden = _ask(assistant, QUESTION, outsider)
    assert not hidden.found and not hidden.cached and "25" not in hidden.answer
    insider = Access(user=User("hal", frozenset({"hr"})), rules=outsider.rules)
    assert _ask(assistant, QUESTION, insider).cached  # sees what the first asker saw


def test_the_cli_marks_a_cached_answer(kb: Settings) -> None:
    env = {**os.environ, "RAG_STORE_DIR": str(kb.store_dir), "RAG_DOCS_DIR": str(kb.docs_dir),
           "RAG_ANSWER_CACHE_SIZE": "1000"}

    def ask() -> dict[str, Any]:
        proc = subprocess.run([sys.executable, "-m", "rag", "ask", QUESTION, "--json"],
                              capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first, second = ask(), ask()
    assert first["cached"] is False and second["cached"] is True
    assert second["answer"] == first["answer"] and second["citations"] == first["citations"]
    assert second["timings"]["total_ms"] < first["timings"]["total_ms"] / 5


def test_the_cache_is_bounded_and_keeps_the_latest_version(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path, size=2)
    for i in range(3):
        cache.put(f"k{i}", "v1", Answer(answer=f"a{i}"))
    assert cache.get("k0") is None and cache.get("k2") is not None
    cache.put("k3", "v2", Answer(answer="new"))  # a write of another version drops the old ones
    assert cache.get("k1") is None and cache.get("k2") is None and cache.get("k3") is not None
    off = AnswerCache(tmp_path / "off", size=0)
    off.put("k", "v", Answer(answer="x"))
    assert off.get("k") is None


def test_keys() -> None:
    assert normalise(" How many  days？ ") == normalise("how many days") == "how many days"
    base = ("q", [], "v1", "model", {"top_k": 4}, frozenset())
    assert cache_key(*base) == cache_key("Q?", *base[1:])
    assert cache_key(*base) != cache_key("q", [], "v2", "model", {"top_k": 4}, frozenset())
    assert cache_key(*base) != cache_key("q", [], "v1", "model", {"top_k": 4}, frozenset({"a.md"}))
    assert cache_key(*base) != cache_key("q", [("earlier", "answer")], "v1", "model", {"top_k": 4},
                                         frozenset())
