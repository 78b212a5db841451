"""The store's vector side: the Chroma client (local folder or server), the knowledge-base
collection and the multilingual one beside it, and LangChain's vector stores over them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings
from rag.embedders import (
    MULTILINGUAL_EMBEDDER,
    EmbedderInfo,
    build_embeddings,
    build_multilingual_embeddings,
    embedder_info,
)
from rag.errors import EmbedderMismatchError, StoreUnavailableError

if TYPE_CHECKING:
    from langchain_chroma import Chroma

log = logging.getLogger(__name__)

CHROMA_SUBDIR = "chroma"

# A chunk's text is kept in its metadata under this key, and Chroma's own document is left
# empty: local Chroma builds a trigram full-text index of every document, whatever the
# collection's schema asks, which nothing here reads (lexical search is the catalog's BM25) and
# which took half of each write (1.9 against 1.0 s for 2,048 chunks in writes of 256).
TEXT_KEY = "text"


def chunk_entry(text: str, metadata: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """What is written to Chroma for a chunk: its document (empty; not None, as LangChain's
    Chroma search drops a result without one) and its metadata, the text included."""
    return "", {**metadata, TEXT_KEY: text}


def stored_chunk(document: str | None, metadata: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """A chunk read back from Chroma: its text and its metadata without the text. Chunks
    written before store format 2 hold their text as Chroma's document."""
    meta = dict(metadata or {})
    text = meta.pop(TEXT_KEY, None)
    return (text if isinstance(text, str) else document or ""), meta


def stored_chunks(result: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, text, metadata without the text) of each chunk in a Chroma ``get`` result that
    includes ``documents`` and ``metadatas``."""
    return [(cid, *stored_chunk(document, metadata)) for cid, document, metadata
            in zip(result["ids"], result["documents"], result["metadatas"], strict=True)]


def multilingual_collection_name(settings: Settings) -> str:
    """The collection beside the main one that holds the multilingual vectors."""
    return f"{settings.collection}-multilingual"


def records_collection_name(settings: Settings) -> str:
    """The collection beside the main one that holds the file records (:mod:`rag.records`)."""
    return f"{settings.collection}-records"


# Chroma's client cache (one "system" per folder) is not safe to build or clear from two
# threads at once (a half-started system is handed out): both go through this lock.
_CLIENTS = threading.Lock()


def build_chroma_client(settings: Settings) -> Any:
    """A Chroma client: a local folder (default) or a Chroma server (``RAG_CHROMA_HOST``)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
            raise StoreUnavailableError(
                f"the Chroma server at {settings.chroma_host}:{settings.chroma_port} does not "
                f"answer ({exc}): start it (`chroma run --path DIR --port {settings.chroma_port}`) "
                "or fix RAG_CHROMA_HOST / RAG_CHROMA_PORT") from None
    path = Path(settings.store_dir) / CHROMA_SUBDIR
    path.mkdir(parents=True, exist_ok=True)
    with _CLIENTS:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def reset_chroma_cache() -> None:
    """Forget Chroma's per-folder client cache so the next client re-reads the folder: a local
    client does not see another process's writes (its in-memory index still returns chunks
    that were deleted). Clients already built keep working on what they saw."""
    from chromadb.api.client import SharedSystemClient

    with _CLIENTS:
        SharedSystemClient.clear_system_cache()


def not_found_errors() -> tuple[type[Exception], ...]:
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
            configuration=_hnsw(settings),
        )
    else:
        try:
            collection = client.get_collection(settings.collection)
        except not_found_errors() as exc:
            log.debug("no collection %s: %s", settings.collection, exc)
            return None
    check_embedder(collection.metadata or {}, info, settings)
    return collection


def _hnsw(settings: Settings) -> dict[str, Any]:
    """A new collection's vector index. Its build width, ef_construction, is fixed at creation:
    Chroma's default, 100, with 16 neighbours a node, left a unique passage unreachable among
    110,000 chunks of 50 near-identical copies of each document in three builds of three (top-5
    agreement with exact search 0.91-0.94, hnswlib); 200 and 400 reached it in all three (0.96,
    0.995). In Chroma's own builds 200 reached it in one of two, 400 in both, and the wider
    build cost no measurable time at that scale (bench-scale 1,605-1,615 s against 1,656-1,724
    s with 200)."""
    return {"hnsw": {"space": "cosine", "ef_search": settings.hnsw_ef_search,
                     "ef_construction": settings.hnsw_ef_construction}}


def keep_search_width(collection: Any, settings: Settings) -> None:
    """Give an existing collection the configured search width (Chroma keeps a collection's
    configuration from its creation; ef_search is a part of it that may change), and log when
    its build width (ef_construction, which may not change) differs from the settings. Called
    by the one writer, ingestion, before it writes.

    Chroma's default, 100, missed a unique passage (cosine 0.83 to the question; the best
    others 0.25) among 110,000 chunks of 50 near-identical copies of each document: near
    duplicates crowd the graph's neighbour lists. 200 found it, in the same time."""
    hnsw = (getattr(collection, "configuration", None) or {}).get("hnsw") or {}
    if hnsw.get("ef_search", settings.hnsw_ef_search) != settings.hnsw_ef_search:
        collection.modify(configuration={"hnsw": {"ef_search": settings.hnsw_ef_search}})
    built = hnsw.get("ef_construction", settings.hnsw_ef_construction)
    if built != settings.hnsw_ef_construction:
        log.info("the collection %s keeps the build width it was made with (ef_construction %s, "
                 "not RAG_HNSW_EF_CONSTRUCTION=%s): `python -m ingest --rebuild` applies it",
                 collection.name, built, settings.hnsw_ef_construction)


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
            name, metadata={"embedder": MULTILINGUAL_EMBEDDER}, configuration=_hnsw(settings))
    try:
        return client.get_collection(name)
    except not_found_errors():
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


def get_chunk_collection(client: Any, settings: Settings) -> Any:
    """The knowledge-base collection for reading its chunks (no embedder needed), or None."""
    try:
        return client.get_collection(settings.collection, embedding_function=None)
    except not_found_errors():
        return None


def delete_collection(client: Any, settings: Settings) -> None:
    """Delete the store's collections: the chunks, the multilingual vectors, the records."""
    names = (settings.collection, multilingual_collection_name(settings),
             records_collection_name(settings))
    for name in names:
        try:
            client.delete_collection(name)
        except not_found_errors():
            log.debug("no collection %s to delete", name)
