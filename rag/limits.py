"""Per-user request rate (``RAG_RATE_PER_MINUTE``), shared by the HTTP API and the chat page."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from rag.errors import RagError


class RateLimited(RagError):
    """Too many requests from one user in a minute."""

    exit_code = 3

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimit:
    """At most ``per_minute`` requests per requester in any 60 seconds (0: no limit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, who: str) -> None:
        """Count one request of ``who``; raises :class:`RateLimited` past the limit."""
        if not self.per_minute:
            return
        now = time.monotonic()
        with self._lock:
            seen = self._seen[who]
            while seen and now - seen[0] >= 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                wait = int(60 - (now - seen[0])) + 1
                raise RateLimited(f"more than {self.per_minute} requests in a minute: wait {wait} s "
                                  "and try again (RAG_RATE_PER_MINUTE sets the limit)", wait)
            seen.append(now)
