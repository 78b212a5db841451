"""Results passed between the packages and printed by the edges (pydantic models)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FileFailure(BaseModel):
    """A file that could not be ingested, and why."""

    path: str
    error: str


class IngestReport(BaseModel):
    """What one ingestion run did. ``--json`` prints it as the last stdout line."""

    files_added: int = 0
    files_updated: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    files_failed: list[FileFailure] = Field(default_factory=list)
    chunks_written: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    chunks_per_second: float = 0.0
    dry_run: bool = False
    store_dir: str = ""
    collection: str = ""

    @property
    def ok(self) -> bool:
        return not self.files_failed


class Citation(BaseModel):
    """One numbered source shown with an answer."""

    n: int
    source: str
    page: int | None = None
    chunk_id: str
    score: float
    snippet: str
    text: str = ""
    used: bool = True
    ocr: bool = False  # the passage was read from a scanned page or image by OCR


class Evidence(BaseModel):
    """A sentence quoted verbatim from a cited source: what backs the answer."""

    text: str
    source: str
    page: int | None = None
    n: int | None = None
    score: float = 0.0


class Timings(BaseModel):
    retrieval_ms: float = 0.0
    ttft_ms: float | None = None  # from the question to the first text shown
    llm_ttft_ms: float | None = None  # from the prompt to the model's first token
    total_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    queued_ms: float = 0.0


class Answer(BaseModel):
    """A cited answer. ``found`` is False when nothing relevant was in the knowledge base."""

    question: str = ""
    answer: str
    found: bool = True
    grounded: bool = True  # False: the model's answer was not held by the sources (withheld)
    generated: str | None = None  # the model's withheld answer, when ``grounded`` is False
    follow_up: bool = False  # searched together with the previous question
    citations: list[Citation] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    timings: Timings = Field(default_factory=Timings)
    cached: bool = False  # answered from the cache of repeated questions

    def contract(self) -> dict[str, object]:
        """The ``--json`` shape other tools rely on (keys are only ever added)."""
        return {
            "answer": self.answer,
            "found": self.found,
            "grounded": self.grounded,
            "follow_up": self.follow_up,
            "citations": [
                c.model_dump(include={"n", "source", "page", "chunk_id", "score", "snippet", "used"})
                for c in self.citations
            ],
            "evidence": [e.model_dump(include={"text", "source", "page", "n"}) for e in self.evidence],
            "timings": self.timings.model_dump(),
            "cached": self.cached,
        }
