"""Heavy objects, built once per process and shared by every session (``st.cache_resource``
over :mod:`rag.factories`): the language model, the embedder, and the store's retriever.

The retriever is rebuilt when the store changes under it (a ``make ingest``, an upload, a
delete): a long-lived Chroma client does not see another process's writes (it even fails on
chunk ids it has not seen), so the catalog is checked on every script run and a change makes a
fresh client. The model and the embedder are kept.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from rag import catalog_refresh, factories
from rag.config import Settings, load_settings

# Settings that do not change how the model is built (the model is kept when only these differ).
_NOT_MODEL = {
    "docs_dir", "store_dir", "collection", "chroma_host", "chroma_port", "embedding_model",
    "embedding_device", "embedding_backend", "embedding_threads", "embedding_languages",
    "chunk_size", "chunk_overlap", "batch_size",
    "max_file_size_mb", "parse_timeout_s", "top_k", "retrieval_mode", "candidates",
    "min_relevance", "history_turns", "ui_host", "ui_port", "ui_language",
}


def settings() -> Settings:
    """The settings, read for each script run (environment and ``.env``; RAG_STORE_DIR and
    RAG_DOCS_DIR apply). Raises :class:`~rag.errors.ConfigError` on a bad value."""
    return load_settings()


def settings_or_stop() -> Settings:
    """The settings, or a clear error on the page (never a traceback) and the run stops."""
    from rag.errors import RagError
    from ui.i18n import t

    try:
        return settings()
    except RagError as exc:
        st.error(t("settings_error", error=exc))
        st.stop()
        raise  # st.stop() does not return


def _key(settings: Settings, exclude: set[str] | None = None) -> str:
    fields = set(type(settings).model_fields)
    return settings.model_dump_json(exclude=(exclude or set()) & fields)


# --- the model and the embedder ---------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=2)
def _llm(key: str, _settings: Settings) -> factories.LLMHandle:
    return factories.build_llm(_settings)


def llm(settings: Settings) -> factories.LLMHandle:
    """The language model (one per process; its lock serialises every call)."""
    return _llm(_key(settings, _NOT_MODEL), settings)


@st.cache_resource(show_spinner=False, max_entries=2)
def _embedder_label(model: str | None, device: str, _settings: Settings) -> str:
    return factories.embedder_info(_settings).label()


def embedder_label(settings: Settings) -> str:
    return _embedder_label(settings.embedding_model, settings.embedding_device, settings)


@st.cache_resource(show_spinner=False, max_entries=2)
def _embeddings(key: str, _settings: Settings) -> Any:
    return factories.build_embeddings(_settings)


def embeddings(settings: Settings) -> Any:
    """The embedder (one per process)."""
    key = settings.model_dump_json(include={"embedding_model", "embedding_device",
                                            "embedding_backend", "embedding_threads"})
    return _embeddings(key, settings)


# --- the store --------------------------------------------------------------------------
StoreStats = catalog_refresh.StoreStats
store_stats = catalog_refresh.store_stats


@st.cache_resource(show_spinner=False, max_entries=8)
def _store(key: str, _settings: Settings) -> factories.RetrieverHandle:
    return factories.RetrieverHandle(_settings)


def store(settings: Settings) -> factories.RetrieverHandle:
    return _store(_key(settings), settings)


def assistant(settings: Settings, *, refresh: bool = False) -> Any:
    """An :class:`~rag.chain.Assistant` over the shared model and the current retriever.
    ``refresh`` forces a fresh Chroma client (after a read failed on a changed store)."""
    retriever = store(settings).retriever(store_stats(settings).stamp, force=refresh)
    return factories.build_assistant(settings, llm=llm(settings), retriever=retriever)


@st.cache_resource(show_spinner=False)
def _rate_limit(per_minute: int) -> Any:
    from rag.limits import RateLimit

    return RateLimit(per_minute)


def rate_limit(settings: Settings) -> Any:
    """The per-user request limit, shared by every session of this process."""
    return _rate_limit(settings.rate_per_minute)

