"""One writer per knowledge base: the store folder's lock, and on a Chroma server also this
machine's claim on the store (:func:`rag.records.claim_writer`). Ingestion, uploads from the
chat page and deletions all take it before they write."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from rag.config import Settings
from rag.errors import StoreLockedError
from rag.records import claim_writer

LOCK_NAME = ".write.lock"


def write_lock(settings: Settings) -> FileLock:
    """The store's single-writer lock. Acquire with ``timeout=0`` to refuse, not wait."""
    store = Path(settings.store_dir)
    store.mkdir(parents=True, exist_ok=True)
    return FileLock(str(store / LOCK_NAME))


def acquire_write_lock(settings: Settings, timeout: float = 0, *, take_over: bool = False) -> FileLock:
    """The store's one writer, acquired (release it when done). ``take_over``: this machine
    becomes the writer of a Chroma server's store that another machine wrote."""
    lock = write_lock(settings)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise StoreLockedError(
            f"another ingestion is writing the knowledge base at {settings.store_dir} "
            "(a `make ingest` or an upload from the chat page): wait for it to finish, then run again"
        ) from None
    try:
        claim_writer(settings, take_over=take_over)
    except BaseException:
        lock.release()
        raise
    return lock
