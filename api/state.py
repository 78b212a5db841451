"""What one API process holds: the model (built once), the retriever (rebuilt when the store
changes under it, as the chat page does) and the write paths shared with the chat page."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from api.auth import Requester
from ingest.manage import delete_as
from ingest.uploads import upload_as
from rag import factories
from rag.access import Access, access_for, visible_documents
from rag.config import Settings
from rag.users import parse_groups


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._llm: factories.LLMHandle | None = None
        self._store = factories.RetrieverHandle(settings)

    def llm(self) -> factories.LLMHandle:
        with self._lock:
            if self._llm is None:
                self._llm = factories.build_llm(self.settings)
            return self._llm

    def model_name(self) -> str:
        return self.llm().name

    def assistant(self) -> Any:
        """The answering chain over the current store (cheap: the model is shared)."""
        return factories.build_assistant(self.settings, llm=self.llm(),
                                         retriever=self._store.retriever())

    def access(self, who: Requester) -> Access:
        """What ``who`` may see, read now (rules, groups, uploads)."""
        return access_for(self.settings, who.user)

    def documents(self, who: Requester) -> list[dict[str, Any]]:
        """The stored documents ``who`` may see."""
        files, failures = visible_documents(self.settings, self.access(who))
        rows: list[dict[str, Any]] = [
            {"id": r.source, "object": "document", "status": "ready", "title": r.title,
             "pages": r.pages, "chunks": r.chunks, "bytes": r.size,
             "ingested_at": round(r.ingested_at, 3), "error": None}
            for r in files.values()]
        rows += [{"id": source, "object": "document", "status": "failed", "title": None,
                  "pages": None, "chunks": 0, "bytes": None, "ingested_at": None, "error": error}
                 for source, error in failures.items() if source not in files]
        return sorted(rows, key=lambda row: row["id"])

    def upload(self, files: Sequence[tuple[str, bytes]], who: Requester,
               groups: str | None) -> dict[str, Any]:
        chosen = parse_groups(groups) if groups is not None else None
        result = upload_as(self.settings, files, who.user, chosen)
        report = result.report.model_dump() if result.report else None
        return {"object": "ingest.report", "added": result.added,
                "failed": [f.model_dump() for f in result.failed], "report": report}

    def delete(self, source: str, who: Requester) -> bool:
        return delete_as(self.settings, source, who.user)
