"""Uploads from the chat page's documents page and the HTTP API: checked, saved under
``<docs>/uploads`` with a safe name, and ingested by the same pipeline as ``make ingest``
(:func:`ingest.sync.run_sync`), under the store's one-writer rule.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders import SUPPORTED_EXTENSIONS
from rag import factories
from rag.config import Settings
from rag.errors import ConfigError, PermissionDenied
from rag.schemas import FileFailure, IngestReport
from rag.users import User

UPLOADS = "uploads"
_MAX_NAME_BYTES = 180  # well under the usual 255-byte limit of a file name
_UNSAFE = re.compile(r"[^\w.\- ()（）]+", re.UNICODE)

ProgressFn = Callable[[str, int, int], None]


def sanitize_filename(name: str) -> str:
    """A file name that is safe to create in the uploads folder: no folder part, no control or
    shell-special characters, not hidden, not empty, not too long. Letters of any script stay."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" ._-~")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = stem.strip(" ._-") or "upload"
    ext = ext.strip(" ._").lower()
    suffix = f".{ext}" if ext else ""
    while len((stem + suffix).encode("utf-8")) > _MAX_NAME_BYTES and len(stem) > 1:
        stem = stem[:-1]
    return stem.rstrip(" .") + suffix


def uploads_dir(settings: Settings, owner: str | None = None) -> Path:
    """``<docs>/uploads`` (``<docs>/uploads/<owner>`` for a user's own uploads), created if
    needed, and checked to lie inside the docs folder."""
    docs = Path(settings.docs_dir)
    folder = docs / UPLOADS / sanitize_filename(owner) if owner else docs / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    if not folder.resolve().is_relative_to(docs.resolve()):
        raise ConfigError(
            f"{folder} points outside the documents folder {docs}: remove that link"
        )
    return folder


def target_path(settings: Settings, name: str, owner: str | None = None) -> Path:
    """Where an upload called ``name`` is saved; never outside the uploads folder."""
    folder = uploads_dir(settings, owner)
    path = folder / sanitize_filename(name)
    if path.is_symlink() or path.parent.resolve() != folder.resolve():
        raise ConfigError(f"refusing to write {path}: not a plain file in {folder}")
    return path


def check_upload(settings: Settings, name: str, size: int) -> str | None:
    """The reason an upload is refused (the same words as ``make ingest``), or None."""
    suffix = Path(sanitize_filename(name)).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        return (f"unsupported file type '{suffix or '(none)'}': supported are "
                + ", ".join(SUPPORTED_EXTENSIONS))
    if size > settings.max_file_bytes:
        return (f"file too large ({size / 1048576:.1f} MB > limit {settings.max_file_size_mb:g} MB):"
                " split it or raise RAG_MAX_FILE_SIZE_MB")
    if size == 0:
        return "empty file: no text to index"
    return None


def _write(path: Path, data: bytes) -> None:
    """Write atomically (a hidden temporary file, which ingestion skips, then a rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class UploadResult:
    """What happened to a batch of uploads."""

    report: IngestReport | None = None
    refused: list[FileFailure] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # sources now in the store

    @property
    def failed(self) -> list[FileFailure]:
        return self.refused + (self.report.files_failed if self.report else [])


@dataclass
class _Saved:
    path: Path
    name: str
    previous: bytes | None


def _restore(saved: _Saved) -> None:
    if saved.previous is None:
        saved.path.unlink(missing_ok=True)
    else:
        _write(saved.path, saved.previous)


def ingest_uploads(settings: Settings, files: Sequence[tuple[str, bytes]],
                   progress: ProgressFn | None = None, *, owner: str | None = None,
                   before_ingest: Callable[[list[str]], None] | None = None) -> UploadResult:
    """Check, save and ingest uploaded files ``(name, content)``. ``owner``: a user's own
    uploads go to ``uploads/<owner>/`` (users never replace each other's files);
    ``before_ingest(sources)`` runs under the write lock before anything is ingested (who may
    see the files is recorded before anyone can).

    A refused or failed file is not left in the docs folder (a replaced file gets its previous
    content back), so ``make ingest`` does not trip over it later. Raises
    :class:`~rag.errors.StoreLockedError` (nothing saved) when another ingestion is running.
    """
    from ingest.locking import acquire_write_lock
    from ingest.sync import run_sync

    result = UploadResult()
    accepted: list[tuple[str, bytes]] = []
    for name, data in files:
        reason = check_upload(settings, name, len(data))
        if reason:
            result.refused.append(FileFailure(path=sanitize_filename(name), error=reason))
        else:
            accepted.append((name, data))
    if not accepted:
        return result
    # The write lock first: a `make ingest` running meanwhile must never see (and then lose)
    # a file that this upload writes and takes back.
    lock = acquire_write_lock(settings)
    saved: list[_Saved] = []
    try:
        docs = Path(settings.docs_dir)
        if before_ingest is not None:
            before_ingest([target_path(settings, n, owner).resolve().relative_to(docs.resolve())
                           .as_posix() for n, _ in accepted])
        for name, data in accepted:
            path = target_path(settings, name, owner)
            previous = path.read_bytes() if path.is_file() else None
            _write(path, data)
            saved.append(_Saved(path=path, name=path.name, previous=previous))
        # Write through a fresh Chroma client: this long-lived process may hold one that has
        # not seen another process's writes.
        factories.reset_chroma_cache()
        report = run_sync([s.path for s in saved], settings, progress=progress, locked=True)
    except BaseException:
        for item in saved:
            _restore(item)
        raise
    finally:
        lock.release()
    result.report = report
    failed = {Path(f.path).name for f in report.files_failed}
    for item in saved:
        if item.name in failed:
            _restore(item)
        else:
            result.added.append(
                item.path.resolve().relative_to(Path(settings.docs_dir).resolve()).as_posix())
    return result


def upload_as(settings: Settings, files: Sequence[tuple[str, bytes]], user: User | None,
              groups: list[str] | None, progress: ProgressFn | None = None) -> UploadResult:
    """Uploads by ``user`` (None: the operator). Admins and the operator upload to
    ``uploads/`` for the groups they name (None: the access rules decide); a user uploads to
    ``uploads/<user>/`` for some of their own groups (default: all of them). Who may see a
    file is recorded before it is ingested; a file that does not get in keeps the record it
    had. Raises :class:`~rag.errors.PermissionDenied` for groups the user is not in."""
    from rag.users import Users

    chosen = groups
    if user is not None and not user.admin:
        chosen = sorted(user.groups) if chosen is None else chosen
        if not set(chosen) <= user.groups:
            raise PermissionDenied(
                f"you may share uploads only with your own groups "
                f"({', '.join(sorted(user.groups)) or 'none'}); an admin may widen them")
    uploader = user.name if user else None
    owner = user.name if user is not None and not user.admin else None
    users = Users(settings)
    try:
        before = users.document_groups()
        recorded: list[str] = []

        def record(sources: list[str]) -> None:
            if chosen is not None:
                for source in sources:
                    recorded.append(source)
                    users.set_document_groups(source, chosen, uploader)

        added: list[str] = []
        try:
            result = ingest_uploads(settings, files, progress, owner=owner, before_ingest=record)
            added = result.added
        finally:
            for source in set(recorded) - set(added):
                if source in before:
                    users.set_document_groups(source, sorted(before[source]), uploader)
                else:
                    users.forget_document(source)
    finally:
        users.close()
    return result

