"""The language model: the bundled or a local GGUF in process (llama-cpp-python), or an
OpenAI-compatible server; the gate that gives it one question at a time."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import BusyError, ModelError

log = logging.getLogger(__name__)


GGUF_MAGIC = b"GGUF"


def default_model_path(settings: Settings) -> Path:
    """The bundled model ``RAG_BUNDLED_MODEL`` names, assembled into ``models_dir`` on first use."""
    from rag.bundled_models import assemble

    return assemble(settings.bundled_model, Path(settings.models_dir))


def model_path(settings: Settings) -> Path:
    """The GGUF file the settings name, checked to exist and look like GGUF."""
    path = Path(settings.model_path).expanduser() if settings.model_path else default_model_path(settings)
    if not path.is_file():
        raise ModelError(
            f"model file {path} not found: set RAG_MODEL_PATH to a local GGUF file, or unset it "
            "to use the bundled model (RAG_BUNDLED_MODEL)"
        )
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise ModelError(
                f"model file {path} is not a GGUF file (corrupt or incomplete copy?): copy it "
                "again or point RAG_MODEL_PATH at a valid .gguf"
            )
    return path


class LLMGate:
    """Access to one model, first come first served: a waiting request is told its place in
    the queue; past ``max_waiting`` waiting requests, the next one is refused at once
    (:class:`~rag.errors.BusyError`) instead of waiting without bound."""

    def __init__(self, lock: threading.Lock | threading.BoundedSemaphore,
                 max_waiting: int | None = None) -> None:
        self.lock = lock
        self.max_waiting = max_waiting
        self._waiting = 0
        self._count_lock = threading.Lock()

    def acquire(self, on_event: Any = None) -> float:
        """Wait for the model; returns the seconds spent queued. ``on_event(kind, data)`` hears
        "queued" (with the position in the queue) and then "started"."""
        if self.lock.acquire(blocking=False):
            return 0.0
        with self._count_lock:
            if self.max_waiting is not None and self._waiting >= self.max_waiting:
                raise BusyError(
                    f"the language model is busy: {self._waiting} questions are already waiting; "
                    "try again in a moment (RAG_LLM_QUEUE sets how many may wait)")
            self._waiting += 1
            position = self._waiting
        if on_event:
            on_event("queued", {"position": position})
        started = time.perf_counter()
        self.lock.acquire()
        with self._count_lock:
            self._waiting -= 1
        if on_event:
            on_event("started", {})
        return time.perf_counter() - started

    def release(self) -> None:
        self.lock.release()


@dataclass
class LLMHandle:
    """The language model behind LangChain's interface, with what the chain needs to know
    about it. ``gate`` (over ``lock``) serialises every call: one llama.cpp context is not
    thread-safe."""

    llm: Any
    fmt: Any  # rag.prompts.PromptFormat
    n_ctx: int
    count_tokens: Any
    name: str
    raw: Any = None  # the llama_cpp.Llama object (for the raw benchmark)
    lock: threading.Lock | threading.BoundedSemaphore = None  # type: ignore[assignment]
    gate: LLMGate = None  # type: ignore[assignment]
    max_waiting: int | None = None  # questions that may wait for the model (None: any number)

    def __post_init__(self) -> None:
        if self.lock is None:
            self.lock = threading.Lock()
        if self.gate is None:
            self.gate = LLMGate(self.lock, self.max_waiting)


def _chat_renderer(metadata: dict[str, str]) -> tuple[Any, list[str]]:
    template = metadata.get("tokenizer.chat_template")
    if not template:
        return None, []
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template=template, eos_token="", bos_token="",
                                    add_generation_prompt=True)

    def render(messages: list[dict[str, str]]) -> str:
        return formatter(messages=messages).prompt

    probe = formatter(messages=[{"role": "user", "content": "x"}])
    # An empty stop string (the template's eos, unknown here) would end every answer at once;
    # llama.cpp stops at the model's end-of-generation tokens by itself.
    return render, [s for s in (probe.stop or []) if s]


_llama_log_callback: Any = None


def _route_llama_logs() -> None:
    """llama.cpp prints its own log lines (context sizes, warnings) straight to stderr; send
    them to Python logging at DEBUG instead, so the CLI's output stays the product's own."""
    global _llama_log_callback
    if _llama_log_callback is not None:
        return
    import ctypes

    import llama_cpp
    import llama_cpp._logger  # noqa: F401 - installs its callback first; ours replaces it

    llama_log = logging.getLogger("llama_cpp")

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        llama_log.debug(text.decode("utf-8", errors="replace").rstrip())

    _llama_log_callback = callback  # keep a reference: llama.cpp calls it for the process's life
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def build_server_llm(settings: Settings) -> LLMHandle:
    """An OpenAI-compatible model server (``RAG_LLM_BASE_URL``) behind the same handle: the
    prompt goes as chat messages (the server applies its model's template); up to
    ``RAG_LLM_PARALLEL`` questions are sent at once, the server queues and batches them."""
    import openai

    from rag.llm_server import ServerLLM, estimate_tokens, first_model, messages_text
    from rag.prompts import PromptFormat

    base_url = str(settings.llm_base_url).rstrip("/")
    client = openai.OpenAI(base_url=base_url, api_key=settings.llm_api_key or "not-needed",
                           timeout=settings.llm_timeout_s, max_retries=0)
    model = settings.llm_model or first_model(client, base_url, settings.llm_timeout_s)
    llm = ServerLLM(client=client, model=model, base_url=base_url, timeout_s=settings.llm_timeout_s,
                    max_tokens=settings.max_tokens, temperature=settings.temperature,
                    top_p=settings.top_p, seed=settings.seed)
    fmt = PromptFormat("chat", stop=["\nQuestion:"], render_chat=messages_text)
    lock = threading.BoundedSemaphore(settings.llm_parallel)
    return LLMHandle(llm=llm, fmt=fmt, n_ctx=settings.n_ctx, count_tokens=estimate_tokens,
                     name=f"{model} at {base_url}", lock=lock, max_waiting=settings.llm_queue)


def build_llm(settings: Settings) -> LLMHandle:
    """The language model the settings name: a model server (``RAG_LLM_BASE_URL``), else the
    local GGUF model through LangChain's ``LlamaCpp``, with sane settings (the wrapper's
    defaults are ``n_ctx=512``, ``n_batch=8``, ``verbose=True``)."""
    if settings.llm_base_url:
        return build_server_llm(settings)
    from langchain_community.llms import LlamaCpp

    from rag.prompts import choose_format

    path = model_path(settings)
    _route_llama_logs()
    if settings.lora_path and not Path(settings.lora_path).is_file():
        raise ModelError(f"LoRA adapter {settings.lora_path} not found: fix or unset RAG_LORA_PATH")
    import os

    threads = settings.n_threads or max(1, len(os.sched_getaffinity(0)))
    try:
        llm = LlamaCpp(
            model_path=str(path),
            lora_path=str(settings.lora_path) if settings.lora_path else None,
            n_ctx=settings.n_ctx,
            n_batch=settings.n_batch,
            n_threads=threads,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k_sampling,
            repeat_penalty=settings.repeat_penalty,
            seed=settings.seed,
            streaming=True,
            verbose=False,
            model_kwargs={"n_threads_batch": threads},
        )
    except Exception as exc:  # noqa: BLE001 - llama.cpp reports load failures as ValueError/OSError
        raise ModelError(
            f"cannot load the model {path}: {exc}. Is it a complete GGUF file this llama.cpp "
            "version supports? Copy it again or choose another with RAG_MODEL_PATH"
        ) from None
    raw = llm.client
    metadata = dict(raw.metadata or {})
    renderer, stops = _chat_renderer(metadata)
    fmt = choose_format(metadata, renderer, stops)

    def count_tokens(text: str) -> int:
        return len(raw.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    name = metadata.get("general.name") or path.stem
    return LLMHandle(llm=llm, fmt=fmt, n_ctx=settings.n_ctx, count_tokens=count_tokens,
                     name=str(name), raw=raw, max_waiting=settings.llm_queue)
