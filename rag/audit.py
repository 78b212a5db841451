"""The audit trail: one JSON line per event (a question and its answer, an upload, a delete, a
sign-in or a failed one) in ``RAG_AUDIT_LOG`` (default ``audit.jsonl`` in the store folder),
appended by every edge; :func:`stats` sums it up (``python -m rag stats``, the admin page)."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.config import Settings

_lock = threading.Lock()


def audit_path(settings: Settings) -> Path:
    return settings.audit_log or Path(settings.store_dir) / "audit.jsonl"


def append(path: Path, record: dict[str, Any]) -> None:
    """Append one event (a line is written whole: concurrent writers never interleave)."""
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(line)


def record(settings: Settings, event: str, user: str | None, **fields: Any) -> None:
    append(audit_path(settings), {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "event": event,
                                  "user": user, **fields})


def answer_fields(answer: Any) -> dict[str, Any]:
    """What the trail keeps of an answer: found, the sources it used, latencies."""
    return {"found": answer.found, "sources": sorted({c.source for c in answer.citations if c.used}),
            "retrieval_ms": answer.timings.retrieval_ms, "ttft_ms": answer.timings.ttft_ms,
            "answer_ms": answer.timings.total_ms, "cached": answer.cached}


def events(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash


@dataclass
class Stats:
    per_day: dict[str, int] = field(default_factory=dict)
    questions: int = 0
    not_found_rate: float = 0.0
    answer_ms_p50: float | None = None
    answer_ms_p95: float | None = None
    top_documents: list[tuple[str, int]] = field(default_factory=list)
    top_unanswered: list[tuple[str, int]] = field(default_factory=list)
    sign_ins: int = 0
    failed_sign_ins: int = 0
    uploads: int = 0
    deletes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "top_documents": [list(t) for t in self.top_documents],
                "top_unanswered": [list(t) for t in self.top_unanswered]}


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


def stats(settings: Settings, days: int | None = None, top: int = 10) -> Stats:
    since = time.strftime("%Y-%m-%d", time.localtime(time.time() - days * 86400)) if days else ""
    out = Stats()
    per_day: Counter[str] = Counter()
    documents: Counter[str] = Counter()
    unanswered: Counter[str] = Counter()
    latencies: list[float] = []
    not_found = 0
    for event in events(audit_path(settings)):
        day = str(event.get("time", ""))[:10]
        if day < since:
            continue
        kind = event.get("event")
        if kind == "question" and event.get("status", 200) == 200 and "found" in event:
            per_day[day] += 1
            out.questions += 1
            if event.get("answer_ms") is not None:
                latencies.append(float(event["answer_ms"]))
            documents.update(event.get("sources") or [])
            if not event["found"]:
                not_found += 1
                question = " ".join(str(event.get("question", "")).lower().split())
                if question:
                    unanswered[question] += 1
        elif kind == "sign_in":
            out.sign_ins += 1
        elif kind == "sign_in_failed":
            out.failed_sign_ins += 1
        elif kind == "upload":
            out.uploads += 1
        elif kind == "delete":
            out.deletes += 1
    out.per_day = dict(sorted(per_day.items()))
    out.not_found_rate = round(not_found / out.questions, 3) if out.questions else 0.0
    out.answer_ms_p50, out.answer_ms_p95 = _pct(latencies, 50), _pct(latencies, 95)
    out.top_documents = documents.most_common(top)
    out.top_unanswered = unanswered.most_common(top)
    return out
