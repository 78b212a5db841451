"""API keys: ``Authorization: Bearer KEY``. A key from ``RAG_API_KEYS`` is the operator's (sees
everything); a user's key (``python -m rag users add``) answers as that user, whose groups are
read on every request, so a change takes effect at once. Service keys are compared in constant
time; user keys are looked up by their SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request

from api.errors import TooMany, Unauthorised
from rag.config import Settings
from rag.limits import RateLimit, RateLimited
from rag.users import User, Users


def key_id(key: str) -> str:
    """What the logs name a key by (never the key itself)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Requester:
    key_id: str
    user: User | None  # None: an operator key from RAG_API_KEYS

    @property
    def admin(self) -> bool:
        return self.user is None or self.user.admin


class KeyChecker:
    """A FastAPI dependency: who is asking, or 401 (429 past the rate limit)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keys = [k.encode() for k in settings.api_key_list()]
        self._rate = RateLimit(settings.rate_per_minute)

    def __call__(self, request: Request) -> Requester:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        given = given.strip()
        if scheme.lower() != "bearer" or not given:
            raise Unauthorised("missing API key: send the header `Authorization: Bearer KEY` "
                               "with a key from RAG_API_KEYS or `python -m rag users key NAME`")
        candidate = given.encode()
        # compare with every key, always: the time taken does not tell which one nearly matched
        operator = False
        for key in self._keys:
            operator |= hmac.compare_digest(candidate, key)
        user = None
        if not operator:
            users = Users(self.settings)
            try:
                user = users.by_key(given)
            finally:
                users.close()
            if user is None:
                raise Unauthorised("unknown API key: use a key from RAG_API_KEYS or one made by "
                                   "`python -m rag users key NAME` (revoked keys stop working)")
        requester = Requester(key_id=key_id(given), user=user)
        request.state.audit["key"] = requester.key_id
        request.state.audit["user"] = user.name if user else None
        try:
            self._rate.check(f"user:{user.name}" if user else f"key:{requester.key_id}")
        except RateLimited as exc:
            raise TooMany(str(exc), exc.retry_after) from None
        return requester
