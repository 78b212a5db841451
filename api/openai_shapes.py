"""The OpenAI chat-completions wire format, with the knowledge base's extensions (``sources``,
``evidence``, ``found``) as top-level fields, where the OpenAI SDK's ``extra_body`` and its
lenient response models reach them."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.prompts import Turn
from rag.schemas import Answer, Citation

MODEL_ID = "knowledge-base"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``. Unknown fields are accepted and ignored, as OpenAI's
    clients send many; ``top_k`` is ours (``extra_body={"top_k": 3}`` in the SDK)."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)
    top_k: int | None = Field(None, ge=1, le=20, description="sources retrieved per answer")

    def question_and_history(self) -> tuple[str, list[Turn]]:
        """The last user message is the question; earlier user/assistant pairs the conversation."""
        turns = [m for m in self.messages if m.role in ("user", "assistant")]
        if not turns or turns[-1].role != "user":
            raise ValueError("the last message must be the user's question (role \"user\")")
        history: list[Turn] = []
        pending: str | None = None
        for message in turns[:-1]:
            if message.role == "user":
                pending = message.text()
            elif pending is not None:
                history.append(Turn(question=pending, answer=message.text()))
                pending = None
        return turns[-1].text().strip(), history

    def overrides(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "temperature": self.temperature,
                "max_tokens": self.max_completion_tokens or self.max_tokens}


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def source_rows(citations: list[Citation], *, used: bool = True) -> list[dict[str, Any]]:
    """Citations shaped like ``ask --json``'s (``used`` only once the answer is complete)."""
    keys = {"n", "source", "page", "chunk_id", "score", "snippet"} | ({"used"} if used else set())
    return [c.model_dump(include=keys) for c in citations]


def usage(answer: Answer) -> dict[str, int]:
    prompt, completion = answer.timings.prompt_tokens, answer.timings.completion_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def completion(answer: Answer, cid: str, model: str) -> dict[str, Any]:
    """A whole ``chat.completion`` with the answer, its sources and evidence."""
    contract = answer.contract()
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": answer.answer}}],
        "usage": usage(answer),
        "sources": contract["citations"], "evidence": contract["evidence"],
        "found": answer.found, "grounded": answer.grounded, "timings": contract["timings"],
        "cached": answer.cached,
    }


def chunk(cid: str, model: str, *, delta: dict[str, Any] | None = None,
          finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    """One ``chat.completion.chunk``; ``extra`` adds top-level fields."""
    choices = [] if delta is None else [
        {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]
    return {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "choices": choices, **extra}
