"""The HTTP API: OpenAI-compatible chat with citations, document management, API keys.

A thin edge over the same core as the chat page: one :class:`~api.state.Service` per process
holds the assistant (shared model, queue and retriever) and the store's writer paths. Every
endpoint but ``/healthz`` needs ``Authorization: Bearer KEY``; errors are JSON in OpenAI's
shape (:mod:`api.errors`); each request is one JSON line in the audit log (:mod:`api.audit`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from api import errors
from api.audit import RequestLimits
from api.auth import KeyChecker, Requester
from api.openai_shapes import (
    MODEL_ID,
    ChatRequest,
    chunk,
    completion,
    completion_id,
    source_rows,
    usage,
)
from api.state import Service
from rag.audit import answer_fields
from rag.config import Settings, load_settings
from rag.errors import ConfigError
from rag.schemas import Citation


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    service = Service(settings)
    keys = KeyChecker(settings)
    app = FastAPI(
        title="Knowledge base API",
        summary="Answers with citations from the company's own documents (OpenAI-compatible).",
        version="1",
        openapi_url=None, docs_url=None, redoc_url=None,  # served below, behind the key
    )
    app.state.service = service
    errors.install(app)
    app.add_middleware(RequestLimits, settings=settings)
    authorised = [Depends(keys)]
    asker = Depends(keys)  # the requester, as a parameter's default (annotations are strings here)

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/openapi.json", include_in_schema=False, dependencies=authorised)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/v1/models", tags=["openai"], dependencies=authorised)
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "knowledge-base",
             "generator": service.model_name()}]}

    @app.post("/v1/chat/completions", tags=["openai"], response_model=None)
    def chat_completions(body: ChatRequest, request: Request,
                         who: Requester = asker) -> JSONResponse | StreamingResponse:
        try:
            question, history = body.question_and_history()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        limit = settings.api_max_question_chars
        if not question:
            raise errors.Unprocessable("the question (the last user message) is empty")
        if len(question) > limit:
            raise errors.Unprocessable(
                f"the question has {len(question)} characters, more than the {limit} allowed "
                "(RAG_API_MAX_QUESTION_CHARS): shorten it")
        audit = request.state.audit
        audit.update(question_chars=len(question), question=question)
        cid, model = completion_id(), body.model or MODEL_ID
        sources: list[Citation] = []

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "sources":
                sources[:] = data["citations"]

        stream = service.assistant().stream(question, history, on_event, service.access(who),
                                            **body.overrides())
        pieces = iter(stream)
        # The first piece is awaited here, so that a full queue or a model that is down is an
        # HTTP error (429, 503), not a broken stream.
        first = next(pieces, None)
        if not body.stream:
            for _ in pieces:
                pass
            answer = stream.answer
            assert answer is not None
            audit.update(answer_fields(answer))
            return JSONResponse(completion(answer, cid, model))

        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        def frames() -> Iterator[str]:
            def sse(data: dict[str, Any]) -> str:
                return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

            yield sse(chunk(cid, model, delta={"role": "assistant", "content": ""},
                            sources=source_rows(sources, used=False)))
            for piece in ([first] if first else []):
                yield sse(chunk(cid, model, delta={"content": piece}))
            for piece in pieces:
                if piece:
                    yield sse(chunk(cid, model, delta={"content": piece}))
            answer = stream.answer
            assert answer is not None
            contract = answer.contract()
            final: dict[str, Any] = {
                "found": answer.found, "grounded": answer.grounded,
                "used": [c.n for c in answer.citations if c.used],
                "evidence": contract["evidence"], "timings": contract["timings"],
                "replaced": stream.replaced, "cached": answer.cached}
            if stream.replaced:  # the streamed wording was withdrawn: this is the answer
                final["answer"] = answer.answer
            yield sse(chunk(cid, model, delta={}, finish_reason="stop", **final))
            if include_usage:
                yield sse(chunk(cid, model, usage=usage(answer)))
            yield "data: [DONE]\n\n"
            audit.update(answer_fields(answer))

        return StreamingResponse(frames(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/v1/documents", tags=["documents"])
    def list_documents(who: Requester = asker) -> dict[str, Any]:
        return {"object": "list", "data": service.documents(who)}

    @app.post("/v1/documents", tags=["documents"])
    def upload_documents(files: Annotated[list[UploadFile], File(description="documents")],
                         request: Request,
                         groups: Annotated[str | None, Form(
                             description="comma-separated groups that may see the files "
                             "(default: the uploader's groups; only admins may name others)")] = None,
                         who: Requester = asker) -> dict[str, Any]:
        named = [(f.filename or "upload", f.file.read()) for f in files]
        request.state.audit["files"] = [name for name, _ in named]
        return service.upload(named, who, groups)

    @app.delete("/v1/documents/{source:path}", tags=["documents"])
    def delete_document(source: str, request: Request, who: Requester = asker) -> dict[str, Any]:
        request.state.audit["source"] = source
        if not service.delete(source, who):
            raise errors.NotFound(f"no document {source!r} in the knowledge base: "
                                  "GET /v1/documents lists them")
        return {"id": source, "object": "document", "deleted": True}

    return app
