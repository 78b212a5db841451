"""Errors as JSON in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, with
the HTTP status that says what to do; no traceback ever leaves the server (unexpected errors:
:class:`api.audit.RequestLimits` answers 500 and logs them)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rag.errors import (
    BusyError,
    ConfigError,
    ModelError,
    PermissionDenied,
    RagError,
    StoreEmptyError,
    StoreFormatError,
    StoreLockedError,
    StoreUnavailableError,
)

RETRY_AFTER_S = 5


class ApiError(Exception):
    status = 400
    kind = "invalid_request_error"
    code = "bad_request"
    headers: dict[str, str] | None = None


class Unprocessable(ApiError):
    status = 422
    code = "invalid_value"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Unauthorised(ApiError):
    status = 401
    kind = "authentication_error"
    code = "invalid_api_key"


class TooMany(ApiError):
    status = 429
    kind = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class TooLarge(ApiError):
    status = 413
    code = "request_too_large"


def body(message: str, kind: str, code: str, param: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def response(status: int, message: str, kind: str, code: str,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(message, kind, code), status_code=status, headers=headers)


# RagError kinds -> (status, type, code)
_RAG = [
    (BusyError, 429, "rate_limit_error", "model_busy"),
    (StoreLockedError, 409, "conflict_error", "store_busy"),
    (PermissionDenied, 403, "permission_error", "forbidden"),
    (StoreEmptyError, 409, "conflict_error", "store_empty"),
    (ModelError, 503, "server_error", "model_unavailable"),
    (StoreUnavailableError, 503, "server_error", "store_unavailable"),
    (StoreFormatError, 503, "server_error", "store_format"),
    (ConfigError, 400, "invalid_request_error", "bad_request"),
]


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def _api(_: Request, exc: ApiError) -> JSONResponse:
        return response(exc.status, str(exc), exc.kind, exc.code, exc.headers)

    @app.exception_handler(RagError)
    def _rag(_: Request, exc: RagError) -> JSONResponse:
        for kind, status, family, code in _RAG:
            if isinstance(exc, kind):
                headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 429 else None
                return response(status, str(exc), family, code, headers)
        return response(500, str(exc), "server_error", "knowledge_base_error")

    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
            for e in exc.errors())
        return response(422, f"invalid request: {problems}", "invalid_request_error", "invalid_value")

    @app.exception_handler(HTTPException)
    def _http(_: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 413: "request_too_large", 405: "method_not_allowed"}
        return response(exc.status_code, str(exc.detail), "invalid_request_error",
                        codes.get(exc.status_code, "http_error"))
