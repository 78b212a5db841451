"""The one place that builds heavy objects, by kind: embedders (:mod:`rag.embedders`), the
Chroma store (:mod:`rag.store`) and the language model (:mod:`rag.models`), and from them the
retriever and the answering chain. The CLI calls these directly; the chat page wraps them in
``st.cache_resource``. Nothing else imports chromadb, sentence_transformers or llama_cpp.
"""

from __future__ import annotations

import threading
from typing import Any

from rag.config import Settings
from rag.embedders import (
    MULTILINGUAL_EMBEDDER,
    EmbedderInfo,
    LockedEmbeddings,
    MultilingualEmbeddings,
    build_embeddings,
    build_multilingual_embeddings,
    embedder_info,
    embedding_model_dir,
)
from rag.errors import RagError
from rag.models import (
    GGUF_MAGIC,
    LLMGate,
    LLMHandle,
    build_llm,
    build_server_llm,
    default_model_path,
    model_path,
)
from rag.store import (
    CHROMA_SUBDIR,
    build_chroma_client,
    build_multilingual_store,
    build_vectorstore,
    check_embedder,
    delete_collection,
    get_collection,
    keep_search_width,
    max_write_batch,
    multilingual_collection,
    multilingual_collection_name,
    reset_chroma_cache,
)

__all__ = [
    "CHROMA_SUBDIR", "GGUF_MAGIC", "MULTILINGUAL_EMBEDDER", "EmbedderInfo", "LLMGate", "LLMHandle",
    "LockedEmbeddings", "MultilingualEmbeddings", "RagError", "build_assistant",
    "RetrieverHandle", "build_chroma_client", "build_embeddings", "build_llm", "build_multilingual_embeddings",
    "build_multilingual_store", "build_retriever", "build_server_llm", "build_vectorstore",
    "check_embedder", "default_model_path", "delete_collection", "embedder_info",
    "embedding_model_dir", "get_collection", "keep_search_width", "max_write_batch", "model_path",
    "multilingual_collection", "multilingual_collection_name", "reset_chroma_cache",
]


def build_retriever(settings: Settings) -> Any:
    from rag.retrieval import Retriever

    client = build_chroma_client(settings)
    return Retriever(settings, build_vectorstore(settings, client), build_embeddings(settings),
                     multilingual=build_multilingual_store(settings, client), client=client)


def build_assistant(settings: Settings, llm: LLMHandle | None = None, retriever: Any = None) -> Any:
    """The answering chain over the store and the model the settings name."""
    from rag.chain import Assistant

    return Assistant(settings, retriever or build_retriever(settings), llm or build_llm(settings))


class RetrieverHandle:
    """The retriever over one store for a long-lived process (chat page, HTTP API), rebuilt
    with a fresh Chroma client when the store changes: a local Chroma client does not see
    another process's writes. A caller holding the previous retriever keeps using it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._retriever: Any = None
        self._stamp: object = None

    def retriever(self, stamp: object = None, *, force: bool = False) -> Any:
        """``stamp``: the store's :class:`~rag.catalog_refresh.StoreStats` stamp (read if not
        given)."""
        if stamp is None:
            from rag.catalog_refresh import store_stats

            stamp = store_stats(self.settings).stamp
        with self._lock:
            if force or self._retriever is None or stamp != self._stamp:
                reset_chroma_cache()
                self._retriever = build_retriever(self.settings)
                self._stamp = stamp
            return self._retriever

