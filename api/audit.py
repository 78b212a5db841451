"""Per request: a size limit on the body (413) and one JSON line in the audit trail
(:mod:`rag.audit`: time, event, user, key id, path, status, question, sources, found,
latencies)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import body as error_body
from rag.audit import append, audit_path
from rag.config import Settings

log = logging.getLogger(__name__)


def _event(method: str, path: str) -> str:
    if path == "/v1/chat/completions":
        return "question"
    if path.startswith("/v1/documents") and method in ("POST", "DELETE"):
        return "upload" if method == "POST" else "delete"
    return "request"


def _too_large(limit: int) -> str:
    what = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
    return (f"the request body is larger than {what}: send less (questions: "
            "RAG_API_MAX_REQUEST_KB; uploads: RAG_API_MAX_UPLOAD_MB)")


class RequestLimits:
    """Pure ASGI middleware: bodies over the limit get 413 (uploads may be larger than
    questions), and every HTTP request is logged once it is answered."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.path = audit_path(settings)
        self.max_chat = settings.api_max_request_kb * 1024
        self.max_upload = settings.api_max_upload_mb * 1024 * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        audit: dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                 "event": _event(scope["method"], scope["path"]), "user": None,
                                 "method": scope["method"], "path": scope["path"], "key": None}
        scope.setdefault("state", {})["audit"] = audit
        limit = self.max_upload if scope["path"].startswith("/v1/documents") else self.max_chat
        declared = dict(scope.get("headers") or []).get(b"content-length")
        status: dict[str, int] = {}

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                audit.update(status=status.get("code"),
                             ms=round((time.perf_counter() - started) * 1000, 1))
                if scope["path"] != "/healthz":
                    append(self.path, audit)

        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(limit, send_logged)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # a body sent without its length (chunked)
                    raise HTTPException(413, _too_large(limit))
            return message

        try:
            await self.app(scope, counted, send_logged)
        except Exception as exc:
            log.exception("unexpected error")  # the traceback goes to the server's log only
            if "code" in status:
                return  # the response had started: the client sees it end early
            payload = json.dumps(error_body(
                f"unexpected error ({type(exc).__name__}): see the server's log",
                "server_error", "internal_error")).encode()
            await send_logged({"type": "http.response.start", "status": 500,
                               "headers": [(b"content-type", b"application/json"),
                                           (b"content-length", str(len(payload)).encode())]})
            await send_logged({"type": "http.response.body", "body": payload})

    @staticmethod
    async def _refuse(limit: int, send: Send) -> None:
        payload = json.dumps(error_body(_too_large(limit), "invalid_request_error",
                                        "request_too_large")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
