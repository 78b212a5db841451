"""Generation by an OpenAI-compatible server: a real llama.cpp server (``python -m
llama_cpp.server``, the default GGUF) started on loopback; a server that is down; one that is
stuck."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.sync import run_sync
from rag import factories
from rag.config import load_settings
from rag.errors import ModelError
from tests.conftest import ROOT, SAMPLE_DOCS
from tests.servers import chroma_server, free_port, http_ok, running

pytestmark = pytest.mark.slow
MODELS = ROOT / "data" / "models"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama.cpp server over the default model, on loopback; its /v1 URL."""
    model = factories.default_model_path(load_settings(models_dir=MODELS))
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "4096", "--model_alias", "qwen-local",
               "--interrupt_requests", "False"]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with running(command, http_ok(f"{url}/models"), log, timeout=180, name="llama.cpp server"):
        yield url


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = tmp_path_factory.mktemp("docs")
    for name in ("en/employee-handbook.md", "zh/员工手册.md"):
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_DOCS / name, docs / name)
    store = tmp_path_factory.mktemp("store")
    assert run_sync([docs], load_settings(store_dir=store)).files_added == 2
    return store


def test_answers_stream_from_the_server_with_citations(server: str, kb: Path) -> None:
    settings = load_settings(store_dir=kb, llm_base_url=server)
    handle = factories.build_llm(settings)
    assert handle.name == f"qwen-local at {server}"  # the model the server lists
    assistant = factories.build_assistant(settings, llm=handle)
    stream = assistant.stream("How many vacation days do full-time employees get per year?")
    pieces = list(stream)
    answer = stream.answer
    assert answer.found and answer.citations[0].source == "en/employee-handbook.md"
    assert "25" in answer.answer and len(pieces) > 2  # streamed, not in one piece
    assert answer.timings.completion_tokens > 2
    chinese = assistant.answer("上海办公室正式员工每年有多少天带薪年假？")
    assert chinese.found and chinese.citations[0].source == "zh/员工手册.md"


def test_cli_ask_json_through_the_server(server: str, kb: Path) -> None:
    env = {**os.environ, "RAG_LLM_BASE_URL": server, "RAG_LLM_MODEL": "qwen-local"}
    result = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "How many vacation days do full-time employees get?",
         "--store", str(kb), "--json"], capture_output=True, text=True, timeout=300, env=env,
        check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["found"] is True and data["citations"] and data["evidence"]


def test_a_server_that_is_down_is_a_clear_error_at_once(kb: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(ModelError, match="cannot reach the language-model server .*start it"):
        factories.build_llm(load_settings(store_dir=kb, llm_base_url=down))
    # A named model skips the listing: the error comes with the first question, from the CLI
    env = {**os.environ, "RAG_LLM_BASE_URL": down, "RAG_LLM_MODEL": "x"}
    result = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "How many vacation days do I get?", "--store", str(kb)],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 2 and "cannot reach the language-model server" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 120


def test_a_stuck_server_times_out(kb: Path) -> None:
    """A server that accepts the connection and never answers (a narrow stand-in: a socket)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[Any] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    settings = load_settings(store_dir=kb, llm_base_url=url, llm_model="x", llm_timeout_s=1)
    assistant = factories.build_assistant(settings)
    started = time.monotonic()
    try:
        with pytest.raises(ModelError, match="sent nothing for 1 s"):
            assistant.answer("How many vacation days do full-time employees get?")
    finally:
        listener.close()
    assert time.monotonic() - started < 30


def test_an_empty_answer_from_the_server_is_an_answer_not_an_error() -> None:
    """A server that streams no words (the model stopped at once): LangChain would raise "No
    generation chunks were returned"; the chain must get an empty answer instead. A narrow
    stand-in for the client's stream."""
    from types import SimpleNamespace

    from rag.llm_server import ServerLLM, messages_text

    empty = [SimpleNamespace(choices=[SimpleNamespace(delta=SimpleNamespace(content=None),
                                                      finish_reason="stop")])]
    client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(
        create=lambda **_: iter(empty))))
    llm = ServerLLM(client=client, model="m", base_url="http://127.0.0.1:1/v1", timeout_s=1)
    assert "".join(llm.stream(messages_text([{"role": "user", "content": "hi"}]))) == ""


def test_the_company_layout_end_to_end(server: str, tmp_path: Path) -> None:
    """README "Running it for a whole company": a Chroma server, a model server and two app
    processes with their own (empty) store folders; one ingests, the other answers."""
    docs = tmp_path / "share"
    (docs / "en").mkdir(parents=True)
    shutil.copy(SAMPLE_DOCS / "en/employee-handbook.md", docs / "en/employee-handbook.md")
    with chroma_server(tmp_path) as port:
        env = {**os.environ, "RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": str(port),
               "RAG_LLM_BASE_URL": server, "RAG_DOCS_DIR": str(docs)}

        def run(*args: str, store: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", *args, "--store", str(tmp_path / store),
                                   "--json"], capture_output=True, text=True, timeout=600,
                                  env=env, check=False)

        ingested = run("ingest", store="ingest-box")
        assert ingested.returncode == 0, ingested.stderr
        assert json.loads(ingested.stdout.splitlines()[-1])["files_added"] == 1
        asked = run("rag", "ask", "How many vacation days do full-time employees get per year?",
                    store="app-box")
        assert asked.returncode == 0, asked.stderr
        answer = json.loads(asked.stdout.splitlines()[-1])
        assert answer["found"] and "25" in answer["answer"]
        assert answer["citations"][0]["source"] == "en/employee-handbook.md"
        refused = run("ingest", store="app-box")  # only the ingestion box writes
        assert refused.returncode == 2 and "is written by" in refused.stderr


def test_a_server_that_cuts_answers_short_is_a_clear_error(kb: Path, tmp_path: Path) -> None:
    """llama-cpp-python's server, by default, ends a streaming answer early when another
    request arrives: that must not pass for a (short) answer."""
    model = factories.default_model_path(load_settings(models_dir=MODELS))
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "4096"]  # interrupt_requests left at its default
    with running(command, http_ok(f"http://127.0.0.1:{port}/v1/models"), tmp_path / "server.log",
                 timeout=180, name="llama.cpp server"):
        settings = load_settings(store_dir=kb, llm_base_url=f"http://127.0.0.1:{port}/v1")
        assistant = factories.build_assistant(settings)
        outcomes: list[str] = []

        def ask() -> None:
            try:
                assistant.answer("What should I do if I am sick and cannot come to work?")
                outcomes.append("answered")
            except ModelError as exc:
                outcomes.append(str(exc))

        threads = [threading.Thread(target=ask) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cut = [o for o in outcomes if o != "answered"]
        assert cut and all("--interrupt_requests False" in o for o in cut), outcomes

