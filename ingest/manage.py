"""Store maintenance that is not a folder sync: deleting one document.

Used by the chat page's documents page. Like :mod:`ingest.sync`, every write happens under the
store's single-writer lock, Chroma first and the catalog last, so an interrupted delete converges
when it is run again (or on the next sync).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ingest.locking import acquire_write_lock
from rag import factories
from rag.books import open_books
from rag.catalog import Catalog
from rag.catalog_refresh import open_catalog
from rag.config import Settings
from rag.users import User

log = logging.getLogger(__name__)


def _inside(path: Path, folder: Path) -> bool:
    """True when ``path`` (its folder resolved, symlinks followed) lies inside ``folder``."""
    try:
        parent = path.parent.resolve()
        return parent == folder.resolve() or parent.is_relative_to(folder.resolve())
    except OSError:
        return False


def document_file(settings: Settings, root: str, source: str) -> Path | None:
    """The file a stored document came from, if it lies inside the docs folder (else None:
    files elsewhere are never touched)."""
    docs = Path(settings.docs_dir)
    path = Path(root) / source
    if not docs.is_dir() or ".." in Path(source).parts or not _inside(path, docs):
        return None
    return path


def delete_document(settings: Settings, source: str, *, timeout: float = 0) -> bool:
    """Remove one document from the knowledge base: its chunks from Chroma, then its catalog rows
    (manifest, lexical index, recorded failure), then its file if it lies inside the docs folder,
    so the next ``make ingest`` does not bring it back.

    Returns False when the store does not know ``source``. Raises
    :class:`~rag.errors.StoreLockedError` when another process is writing the store.
    """
    stored = open_catalog(settings)
    if stored is None:
        return False
    stored.close()
    lock = acquire_write_lock(settings, timeout)
    try:
        # A long-lived process (the chat page) may hold a Chroma client that has not seen
        # another process's writes: write through a fresh one.
        factories.reset_chroma_cache()
        client = factories.build_chroma_client(settings)
        catalog = Catalog(settings.store_dir)
        try:
            books = open_books(client, settings, catalog)
            record = books.files().get(source)
            failure = books.failures().get(source)
            if record is None and failure is None:
                return False
            root = record.root if record is not None else failure[0]  # type: ignore[index]
            if record is not None:
                collection = factories.get_collection(
                    client, settings, factories.embedder_info(settings), create=False
                )
                multilingual = factories.multilingual_collection(client, settings, create=False)
                for found in (collection, multilingual):
                    if found is not None:
                        found.delete(where={"source": source})
            books.remove_file(source)
            path = document_file(settings, root, source)
            if path is not None and (path.is_file() or path.is_symlink()):
                path.unlink()
                log.info("deleted %s", path)
            books.set_meta("last_sync", str(time.time()))
            books.mark_in_step()
        finally:
            catalog.close()
    finally:
        lock.release()
    return True


def delete_as(settings: Settings, source: str, user: User | None) -> bool:
    """Delete as ``user`` (None: the operator). Admins delete any document; a user only their
    own uploads. Anything else answers False ("no such document"), so that a name the user
    may not see is not confirmed."""
    from rag.access import access_for
    from rag.users import Users

    users = Users(settings)
    try:
        if user is not None and not user.admin:
            if users.uploader(source) != user.name or not access_for(settings, user).allows(source):
                return False
        deleted = delete_document(settings, source)
        if deleted:
            users.forget_document(source)
        return deleted
    finally:
        users.close()

