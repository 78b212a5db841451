"""The HTTP API, started as `python -m rag serve` on a free loopback port over a real store and
the real default model, called with the real `openai` client, LangChain's `ChatOpenAI` and raw
HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.locking import acquire_write_lock
from ingest.sync import run_sync
from rag.config import load_settings
from tests.conftest import SAMPLE_DOCS
from tests.servers import rag_serve

pytestmark = pytest.mark.slow
KEY, OTHER_KEY = "test-key-1", "test-key-2"
QUESTION = "How many vacation days do full-time employees get per year?"
BROKEN = ["libreoffice-writer-password.pdf", "unreadablemetadata.pdf"]


@dataclass
class Server:
    url: str
    store: Path
    docs: Path
    log: Path

    def client(self, key: str = KEY) -> Any:
        import openai

        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=300)


def _serve(tmp: Path, **env: str) -> Iterator[Server]:
    docs, store = tmp / "docs", tmp / "store"
    (docs / "en").mkdir(parents=True)
    shutil.copy(SAMPLE_DOCS / "en/employee-handbook.md", docs / "en/employee-handbook.md")
    assert run_sync([docs], load_settings(docs_dir=docs, store_dir=store)).files_added == 1
    environ = {**os.environ, "RAG_API_KEYS": f"{KEY},{OTHER_KEY}", "RAG_DOCS_DIR": str(docs),
               "RAG_API_MAX_REQUEST_KB": "64", "RAG_API_MAX_QUESTION_CHARS": "500", **env}
    with rag_serve(store, tmp / "serve.log", environ) as url:
        yield Server(url=url, store=store, docs=docs, log=tmp / "serve.log")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(tmp_path_factory.mktemp("api"))


def _markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_non_stream_answer_with_sources(server: Server) -> None:
    response = server.client().chat.completions.create(
        model="knowledge-base", messages=[{"role": "user", "content": QUESTION}], temperature=0)
    content = response.choices[0].message.content or ""
    data = response.model_dump()
    assert "25" in content and data["found"] is True
    sources = {s["n"]: s for s in data["sources"]}
    assert _markers(content) and _markers(content) <= set(sources)  # every [n] resolves
    assert sources[min(_markers(content))]["source"] == "en/employee-handbook.md"
    assert all({"n", "source", "page", "chunk_id", "score", "snippet", "used"} <= set(s)
               for s in data["sources"])
    assert data["evidence"] and response.usage and response.usage.completion_tokens > 0


def test_stream_is_valid_chunks_with_sources_once(server: Server) -> None:
    client = server.client()
    messages = [{"role": "user", "content": QUESTION}]
    whole = client.chat.completions.create(model="knowledge-base", messages=messages, temperature=0)
    chunks = list(client.chat.completions.create(
        model="knowledge-base", messages=messages, temperature=0, stream=True,
        stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    dumped = [c.model_dump() for c in chunks]
    with_sources = [d for d in dumped if "sources" in d]
    assert len(with_sources) == 1 and dumped[0] is with_sources[0] and with_sources[0]["sources"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content  # the deltas never repeat
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finals) == 1 and finals[0].model_dump()["found"] is True
    assert chunks[-1].choices == [] and chunks[-1].usage and chunks[-1].usage.total_tokens > 0
    # without include_usage: no usage chunk; the raw stream ends with [DONE]
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", timeout=300,
                      headers={"Authorization": f"Bearer {KEY}"},
                      json={"messages": messages, "stream": True}) as raw:
        lines = [line for line in raw.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    frames = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(f["choices"] for f in frames)


def test_follow_up_and_retrieval_options_through_extra_body(server: Server) -> None:
    response = server.client().chat.completions.create(
        model="knowledge-base", temperature=0, extra_body={"top_k": 2},
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "How many vacation days do full-time employees get?"},
                  {"role": "assistant", "content": "25 days [1]."},
                  {"role": "user", "content": "And part-time employees?"}])
    data = response.model_dump()
    assert len(data["sources"]) <= 2 and data["found"] is True


def test_langchain_chat_openai(server: Server) -> None:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=f"{server.url}/v1", api_key=KEY, model="knowledge-base",
                      temperature=0, max_retries=0)
    reply = chat.invoke(QUESTION)
    assert "25" in str(reply.content)
    streamed = "".join(str(part.content) for part in chat.stream(QUESTION))
    assert streamed == reply.content


def test_keys_are_required(server: Server) -> None:
    import openai

    assert httpx.get(f"{server.url}/healthz").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        response = httpx.get(f"{server.url}/v1/models", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        server.client("nope").models.list()
    assert [m.id for m in server.client(OTHER_KEY).models.list().data] == ["knowledge-base"]


def test_limits_answer_413_and_422(server: Server) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    url = f"{server.url}/v1/chat/completions"
    huge = {"messages": [{"role": "user", "content": "x" * 100_000}]}
    response = httpx.post(url, headers=headers, json=huge)
    assert response.status_code == 413 and "RAG_API_MAX_REQUEST_KB" in response.json()["error"]["message"]
    long = {"messages": [{"role": "user", "content": "why " * 200}]}
    response = httpx.post(url, headers=headers, json=long)
    assert response.status_code == 422 and "shorten it" in response.json()["error"]["message"]
    for bad in ({"messages": []}, {"messages": [{"role": "assistant", "content": "hi"}]},
                {"messages": [{"role": "user", "content": "hi"}], "temperature": 9}):
        response = httpx.post(url, headers=headers, json=bad)
        assert response.status_code in (400, 422) and response.json()["error"]["message"]
    assert "Traceback" not in server.log.read_text(errors="replace")


def test_documents_upload_list_delete_and_the_one_writer(server: Server, eval_pdfs: Path,
                                                         tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    url = f"{server.url}/v1/documents"
    note = ("canteen.md", b"# Canteen\n\nThe canteen opens at 11:30.\n", "text/markdown")
    files = [("files", note)] + [("files", (n, (eval_pdfs / n).read_bytes(), "application/pdf"))
                                 for n in BROKEN]
    settings = load_settings(docs_dir=server.docs, store_dir=server.store)
    lock = acquire_write_lock(settings)  # another writer is busy
    try:
        busy = httpx.post(url, headers=headers, files=files, timeout=300)
    finally:
        lock.release()
    assert busy.status_code == 409 and "another ingestion" in busy.json()["error"]["message"]

    report = httpx.post(url, headers=headers, files=files, timeout=300)
    assert report.status_code == 200, report.text
    data = report.json()
    assert data["added"] == ["uploads/canteen.md"]
    # the same reasons as `make ingest` gives for the same files
    folder = tmp_path / "broken"
    folder.mkdir()
    for name in BROKEN:
        shutil.copy(eval_pdfs / name, folder / name)
    cli = run_sync([folder], load_settings(store_dir=tmp_path / "cli-store"))
    expected = {Path(f.path).name: f.error for f in cli.files_failed}
    assert {Path(f["path"]).name: f["error"] for f in data["failed"]} == expected

    listed = {d["id"]: d for d in httpx.get(url, headers=headers).json()["data"]}
    assert listed["uploads/canteen.md"]["status"] == "ready"
    assert {listed[f"uploads/{n}"]["status"] for n in BROKEN if f"uploads/{n}" in listed} <= {"failed"}
    answer = server.client().chat.completions.create(
        model="knowledge-base", messages=[{"role": "user", "content": "When does the canteen open?"}])
    assert any(s["source"] == "uploads/canteen.md" for s in answer.model_dump()["sources"])

    assert httpx.delete(f"{url}/uploads/canteen.md", headers=headers).status_code == 200
    gone = httpx.delete(f"{url}/uploads/canteen.md", headers=headers)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert "uploads/canteen.md" not in {d["id"] for d in httpx.get(url, headers=headers).json()["data"]}


def test_openapi_schema_and_audit_log(server: Server) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    assert httpx.get(f"{server.url}/openapi.json").status_code == 401
    schema = httpx.get(f"{server.url}/openapi.json", headers=headers).json()
    assert {"/v1/chat/completions", "/v1/models", "/v1/documents", "/healthz"} <= set(schema["paths"])
    request = schema["components"]["schemas"]["ChatRequest"]["properties"]
    assert {"messages", "stream", "top_k", "temperature", "max_tokens"} <= set(request)
    lines = [json.loads(line) for line in (server.store / "audit.jsonl").read_text().splitlines()]
    asked = [r for r in lines if r["path"] == "/v1/chat/completions" and r["status"] == 200]
    assert asked and all(r["key"] and r["question_chars"] > 0 and "ms" in r for r in asked)
    assert any(r["found"] and r["sources"] == ["en/employee-handbook.md"] for r in asked)
    assert any(r["status"] == 401 and r["key"] is None for r in lines)
    assert KEY not in (server.store / "audit.jsonl").read_text()


def test_a_full_queue_and_the_rate_limit_answer_429(tmp_path: Path) -> None:
    served = _serve(tmp_path, RAG_LLM_QUEUE="0", RAG_RATE_PER_MINUTE="6")
    server = next(served)
    statuses: list[int] = []
    retry: list[str | None] = []

    def ask() -> None:
        response = httpx.post(f"{server.url}/v1/chat/completions", timeout=300,
                              headers={"Authorization": f"Bearer {KEY}"},
                              json={"messages": [{"role": "user", "content": QUESTION}]})
        statuses.append(response.status_code)
        retry.append(response.headers.get("retry-after"))

    try:
        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        headers = {"Authorization": f"Bearer {KEY}"}
        models = [httpx.get(f"{server.url}/v1/models", headers=headers) for _ in range(3)]
    finally:
        served.close()  # stops the server
    assert 200 in statuses and 429 in statuses, statuses
    assert all(r for s, r in zip(statuses, retry, strict=True) if s == 429)
    # four questions and two more requests make six in a minute; the seventh waits
    assert [m.status_code for m in models] == [200, 200, 429]
    assert models[-1].json()["error"]["code"] == "rate_limited" and models[-1].headers["retry-after"]


def test_a_repeated_question_is_answered_from_the_cache(tmp_path: Path) -> None:
    served = _serve(tmp_path, RAG_ANSWER_CACHE_SIZE="100")
    server = next(served)
    try:
        client = server.client()
        messages = [{"role": "user", "content": QUESTION}]
        first = client.chat.completions.create(model="knowledge-base", messages=messages).model_dump()
        again = client.chat.completions.create(model="knowledge-base", messages=messages).model_dump()
        chunks = [c.model_dump() for c in client.chat.completions.create(
            model="knowledge-base", messages=messages, stream=True)]
    finally:
        served.close()
    assert first["cached"] is False and again["cached"] is True
    assert again["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
    assert again["sources"] == first["sources"]
    without_used = [{k: v for k, v in s.items() if k != "used"} for s in first["sources"]]
    assert chunks[0]["sources"] == without_used  # the stream's first frame, as always
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    final = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"] == "stop")
    assert final["cached"] is True and text == first["choices"][0]["message"]["content"]
