"""Generation by an OpenAI-compatible language-model server (llama.cpp server, vLLM, Ollama)
instead of the in-process GGUF model: ``RAG_LLM_BASE_URL``, ``RAG_LLM_MODEL``,
``RAG_LLM_API_KEY``.

The prompt is built exactly as for an in-process chat model (instructions, numbered sources,
question) and sent as chat messages, so the server applies its own model's chat template; the
answer streams back token by token into the same chain (citations, number guard, grounding).
The official ``openai`` client speaks the protocol; a server that is down, slow or refuses
the request becomes a :class:`~rag.errors.ModelError` that says what to do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import GenerationChunk
from pydantic import ConfigDict

from rag.errors import ModelError


def messages_text(messages: list[dict[str, str]]) -> str:
    """The chat messages as the prompt text the chain passes along (and counts)."""
    return json.dumps(messages, ensure_ascii=False)


def estimate_tokens(text: str) -> int:
    """An upper bound on the tokens of ``text`` without the server's tokenizer: about one token
    per 3 bytes of UTF-8 (English words run 4 to 5 bytes a token, Chinese 3 bytes a character,
    about one token)."""
    return len(text.encode("utf-8")) // 3 + 1


def server_error(exc: Exception, base_url: str, timeout_s: float) -> ModelError:
    """What went wrong with the server, and what to do."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ModelError(
            f"the language-model server at {base_url} sent nothing for {timeout_s:g} s: it is "
            "overloaded or stuck; try again, or raise RAG_LLM_TIMEOUT_S")
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(
            f"cannot reach the language-model server at {base_url} ({exc.__cause__ or exc}): start "
            "it, or fix RAG_LLM_BASE_URL (unset it to use the in-process model)")
    if isinstance(exc, openai.AuthenticationError):
        return ModelError(f"the language-model server at {base_url} refused the API key: set "
                          "RAG_LLM_API_KEY to a key it accepts")
    if isinstance(exc, openai.APIStatusError):
        return ModelError(f"the language-model server at {base_url} answered {exc.status_code}: "
                          f"{exc.message} (check RAG_LLM_MODEL and the server's log)")
    return ModelError(f"the language-model server at {base_url} failed: {exc}")


class ServerLLM(LLM):
    """LangChain's LLM interface over an OpenAI-compatible chat-completions endpoint. The prompt
    is :func:`messages_text` of the chat messages."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: Any  # openai.OpenAI
    model: str
    base_url: str
    timeout_s: float
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 0.9
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return "openai-compatible-server"

    def _call(self, prompt: str, stop: list[str] | None = None,
              run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> str:
        return "".join(chunk.text for chunk in self._stream(prompt, stop, run_manager, **kwargs))

    def _stream(self, prompt: str, stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[GenerationChunk]:
        import openai

        request = {
            "model": self.model, "messages": json.loads(prompt), "stream": True,
            "max_tokens": int(kwargs.get("max_tokens") or self.max_tokens),
            "temperature": float(kwargs.get("temperature", self.temperature)),
            "top_p": self.top_p,
        }
        if stop:
            request["stop"] = stop[:4]  # the API takes at most four
        if self.seed is not None:
            request["seed"] = self.seed
        produced = finished = False
        try:
            stream = self.client.chat.completions.create(**request)
            for event in stream:
                if not event.choices:
                    continue
                finished = finished or event.choices[0].finish_reason is not None
                text = event.choices[0].delta.content
                if text:
                    produced = True
                    chunk = GenerationChunk(text=text)
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
        except openai.OpenAIError as exc:
            raise server_error(exc, self.base_url, self.timeout_s) from None
        if not finished:
            raise ModelError(
                f"the model server at {self.base_url} ended the answer before finishing it "
                "(llama-cpp-python's server cuts a streaming answer short when another question "
                "arrives): start it with `--interrupt_requests False`")
        if not produced:  # an empty answer is an answer (the chain says "not found"), not an error
            yield GenerationChunk(text="")


def first_model(client: Any, base_url: str, timeout_s: float) -> str:
    """The first model the server lists (what a one-model server such as llama.cpp serves)."""
    import openai

    try:
        models = [m.id for m in client.models.list()]
    except openai.OpenAIError as exc:
        raise server_error(exc, base_url, timeout_s) from None
    if not models:
        raise ModelError(f"the language-model server at {base_url} lists no model: load one, "
                         "or name it with RAG_LLM_MODEL")
    return str(models[0])
