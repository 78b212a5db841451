"""Answer text shown as inert Markdown, and the conversation download (Markdown and JSON)."""

from __future__ import annotations

import json

from rag.schemas import Answer, Citation, Evidence
from ui.render import conversation_json, conversation_markdown, inert, inert_stream


def test_inert_markdown_loads_no_image_and_renders_no_math() -> None:
    assert inert("![x](http://evil.example/p.png)") == r"\![x](http://evil.example/p.png)"
    assert inert("costs $300 and $400") == r"costs \$300 and \$400"
    assert inert("Hello! [1]") == "Hello! [1]"


def test_inert_stream_catches_an_image_split_across_pieces() -> None:
    out = "".join(inert_stream(["see !", "[img](http://x/y.png) done!"]))
    assert out == r"see \![img](http://x/y.png) done!"


def _turns() -> list[dict[str, object]]:
    found = Answer(
        question="How many vacation days?", answer="25 days [1].",
        citations=[
            Citation(n=1, source="en/handbook.md", page=None, chunk_id="a", score=0.9,
                     snippet="Full-time employees get 25 vacation days", text="full text", used=True),
            Citation(n=2, source="en/it.txt", page=3, chunk_id="b", score=0.1, snippet="VPN",
                     used=False),
        ],
        evidence=[Evidence(text="Full-time employees get 25 vacation days.", source="en/handbook.md", n=1)],
    )
    missing = Answer(question="Mars?", answer="I could not find this in the knowledge base.", found=False)
    return [
        {"question": "How many vacation days?", "answer": found.model_dump()},
        {"question": "Mars?", "answer": missing.model_dump()},
        {"question": "Broken?", "error": "the model failed"},
    ]


def test_conversation_json_holds_answers_and_sources() -> None:
    data = json.loads(conversation_json(_turns(), {"exported_at": "2025-01-01 10:00"}))
    first, second, third = data["turns"]
    assert first["question"] == "How many vacation days?" and first["answer"] == "25 days [1]."
    assert first["citations"][0]["source"] == "en/handbook.md" and "text" not in first["citations"][0]
    assert first["evidence"][0]["text"].startswith("Full-time")
    assert second["found"] is False and second["citations"] == []
    assert third["error"] == "the model failed"


def test_conversation_markdown_lists_cited_sources_with_quotes() -> None:
    text = conversation_markdown(_turns(), {"exported_at": "2025-01-01 10:00"})
    assert "## 1. How many vacation days?" in text
    assert "> Full-time employees get 25 vacation days. — en/handbook.md" in text
    assert "- [1] en/handbook.md: Full-time employees get 25 vacation days" in text
    assert "en/it.txt" not in text  # retrieved but not cited
    assert "## 2. Mars?" in text and "could not find" in text
