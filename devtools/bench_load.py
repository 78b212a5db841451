"""``make bench-load``: many employees asking at once, against one app process.

Ingests the sample corpus into a temporary store, then ``--clients`` threads (chat sessions)
each ask ``--questions`` questions through one shared Assistant, first with the in-process
model, then with a llama.cpp server started on loopback over the
same GGUF (``RAG_LLM_BASE_URL``), then as HTTP clients of ``python -m rag serve`` (streamed). Reports errors, "busy" refusals, p50/p95 of the time to the
first words and to the whole answer, and answers per minute; writes ``docs/bench-load.md``.

    python -m devtools.bench_load [--clients 16] [--questions 5] [--only local|server|api] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devtools.bench_answer import QUESTIONS
from devtools.metrics import pct
from ingest.sync import run_sync
from rag import factories
from rag.config import Settings, load_settings
from rag.errors import BusyError, RagError


def drive(backend: str, clients: int, questions: int, ask: Callable[[str], float | None],
          busy_errors: tuple[type[Exception], ...]) -> dict[str, Any]:
    """``clients`` threads x ``questions`` questions, each asked with ``ask`` (which returns
    the milliseconds to the first words, or None: the whole answer's)."""
    latencies: list[float] = []
    first_words: list[float] = []
    errors: list[str] = []
    busy = 0
    lock = threading.Lock()

    def client(n: int) -> None:
        nonlocal busy
        for i in range(questions):
            question = QUESTIONS[(n * questions + i) % len(QUESTIONS)]
            started = time.perf_counter()
            try:
                first = ask(question)
            except busy_errors:
                with lock:
                    busy += 1
                continue
            except Exception as exc:  # noqa: BLE001 - a load test counts every failure
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            total = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(total)
                first_words.append(first or total)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "backend": backend, "clients": clients, "questions": clients * questions,
        "answered": len(latencies), "errors": len(errors), "error_examples": errors[:3],
        "busy": busy, "wall_s": round(wall, 1),
        "answers_per_min": round(len(latencies) / wall * 60, 1),
        "first_words_ms": {"p50": round(pct(first_words, 50)), "p95": round(pct(first_words, 95))},
        "latency_ms": {"p50": round(pct(latencies, 50)), "p95": round(pct(latencies, 95))},
    }


def run_load(settings: Settings, clients: int, questions: int) -> dict[str, Any]:
    """``clients`` threads x ``questions`` questions through one Assistant."""
    assistant = factories.build_assistant(settings)
    assistant.answer(QUESTIONS[0])  # warm-up, not measured
    return drive(assistant.llm.name, clients, questions,
                 lambda q: assistant.answer(q).timings.ttft_ms, (BusyError,))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(command: list[str], ready_url: str, name: str, env: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> Iterator[None]:
    """Run ``command`` until ``ready_url`` answers, yield, stop it."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                request = urllib.request.Request(ready_url, headers=headers or {})
                with urllib.request.urlopen(request, timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RagError(f"the {name} did not start: run `make install`, then try "
                                   f"`{' '.join(command[1:])}` by hand to see why") from None
                time.sleep(0.5)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def llama_server(model: Path, n_ctx: int) -> Iterator[str]:
    """``python -m llama_cpp.server`` over ``model`` on loopback; its /v1 URL."""
    url = f"http://127.0.0.1:{_free_port()}/v1"
    port = url.rsplit(":", 1)[1].split("/")[0]
    with serving([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
                  "127.0.0.1", "--port", port, "--n_ctx", str(n_ctx), "--interrupt_requests", "False"],
                 f"{url}/models",
                 "llama.cpp server"):
        yield url


@contextmanager
def api_server(store: Path, key: str) -> Iterator[str]:
    """``python -m rag serve`` over ``store`` on loopback (in-process model); its /v1 URL."""
    port = str(_free_port())
    env = {**os.environ, "RAG_API_KEYS": key, "RAG_RATE_PER_MINUTE": "0",  # one key, many clients
           "RAG_ANSWER_CACHE_SIZE": "0"}  # the model's path under load, not the cache
    with serving([sys.executable, "-m", "rag", "serve", "--port", port, "--store", str(store)],
                 f"http://127.0.0.1:{port}/healthz", "HTTP API", env=env):
        yield f"http://127.0.0.1:{port}/v1"


def run_http_load(url: str, key: str, clients: int, questions: int) -> dict[str, Any]:
    """``clients`` threads x ``questions`` streamed questions through the HTTP API (the
    `openai` client); first words: the first content delta."""
    import openai

    client = openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=600)
    ask = [{"role": "user", "content": QUESTIONS[0]}]
    client.chat.completions.create(model="knowledge-base", messages=ask)  # warm-up

    def streamed(question: str) -> float | None:
        started, first = time.perf_counter(), None
        for chunk in client.chat.completions.create(
                model="knowledge-base", stream=True, messages=[{"role": "user", "content": question}]):
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = (time.perf_counter() - started) * 1000
        return first

    return drive("HTTP API (`rag serve`, in-process model), streamed", clients, questions,
                 streamed, (openai.RateLimitError,))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_load", description=__doc__)
    parser.add_argument("--docs", type=Path, default=Path("data/docs"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--questions", type=int, default=5, help="questions per client")
    parser.add_argument("--only", choices=["local", "server", "api"],
                        help="only the in-process model, the llama.cpp server or the HTTP API")
    parser.add_argument("--out", default="docs/bench-load.md", help="report to write ('': none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    store = Path(tempfile.mkdtemp(prefix="rag-bench-load-"))
    settings = load_settings(store_dir=store, answer_cache_size=0)  # measure the model, not the cache
    run_sync([args.docs], settings)
    results = []
    if args.only in (None, "local"):
        results.append(run_load(settings, args.clients, args.questions))
    if args.only in (None, "server"):
        with llama_server(factories.model_path(settings), settings.n_ctx) as url:
            results.append(run_load(settings.model_copy(update={"llm_base_url": url}),
                                    args.clients, args.questions))
    if args.only in (None, "api"):
        key = secrets.token_urlsafe(16)
        with api_server(store, key) as url:
            results.append(run_http_load(url, key, args.clients, args.questions))
    machine = f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores"
    lines = [
        "# Load benchmark (`make bench-load`)", "",
        f"{time.strftime('%Y-%m-%d')}, {machine}, Python {platform.python_version()}; the sample "
        f"corpus; {args.clients} concurrent clients (threads sharing one app process's Assistant) "
        f"x {args.questions} questions each (HTTP API: as many `openai` clients of one `rag serve` process); default settings (RAG_LLM_QUEUE "
        f"{settings.llm_queue}, RAG_LLM_PARALLEL {settings.llm_parallel}).", "",
        "| backend | answered | errors | busy | first words p50 / p95 | answer p50 / p95 | answers/min |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(f"| {r['backend']} | {r['answered']}/{r['questions']} | {r['errors']} | "
                     f"{r['busy']} | {r['first_words_ms']['p50']:,} / {r['first_words_ms']['p95']:,} ms"
                     f" | {r['latency_ms']['p50']:,} / {r['latency_ms']['p95']:,} ms | "
                     f"{r['answers_per_min']} |")
        print(lines[-1])
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    if args.json:
        print(json.dumps(results))
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
