"""``make bench-answer``: the chain against raw llama-cpp-python on the very same prompts.

Ingests the sample corpus (``data/docs``) into a temporary store, asks 20 questions through the
chain, and right after each one sends the prompt the chain built to a second, raw
``llama_cpp.Llama`` with the same settings (each keeps its own prompt cache, so both are measured
alike). Reports p50/p95 of retrieval time, time to first token, tokens per second and total
time, and the ratios the targets are stated in.

    python -m devtools.bench_answer [--docs data/docs] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devtools.metrics import pct
from ingest.sync import run_sync
from rag import factories
from rag.config import load_settings

QUESTIONS = [
    "How many vacation days do full-time employees get per year?",
    "How many vacation days does a 60% part-time employee get?",
    "How many days a week can employees work remotely?",
    "Which day is the office anchor day?",
    "How long is parental leave?",
    "From which day of sickness is a doctor's certificate required?",
    "Where do you report phishing emails?",
    "What is the hotel cap per night?",
    "Who must approve trips costing more than EUR 5,000?",
    "What is the per diem for a full day in the United States?",
    "What is the IT help desk extension?",
    "Which VPN do we use?",
    "Where do new employees collect their laptop?",
    "What is the headquarters address?",
    "When is the summer party?",
    "上海办公室正式员工每年有多少天带薪年假？",
    "休息日加班怎么算？",
    "上海办公室的地址是什么？",
    "报销金额超过 10000 元需要谁审批？",
    "报销款什么时候打款？",
]


def raw_run(handle: Any, prompt: str, settings: Any) -> dict[str, float]:
    started = time.perf_counter()
    first = None
    tokens = 0
    for _ in handle.raw.create_completion(
        prompt, max_tokens=settings.max_tokens, temperature=settings.temperature,
        top_p=settings.top_p, top_k=settings.top_k_sampling, repeat_penalty=settings.repeat_penalty,
        stop=handle.fmt.stop, stream=True,
    ):
        tokens += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    first = first or end
    return {"ttft_ms": (first - started) * 1000, "total_ms": (end - started) * 1000,
            "tokens": tokens, "gen_s": end - first,
            "tps": (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_answer", description=__doc__)
    parser.add_argument("--docs", type=Path, default=Path("data/docs"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", default="docs/bench-answer.md",
                        help="Markdown report to write (empty string: none)")
    args = parser.parse_args(argv)

    store = Path(tempfile.mkdtemp(prefix="rag-bench-answer-"))
    # The model's path is measured with the cache of repeated questions off; the cache after it.
    settings = load_settings(store_dir=store, answer_cache_size=0)
    run_sync([args.docs], settings)
    chain_llm = factories.build_llm(settings)
    # A second in-process model instance (its own cache) for the raw comparison; a model server
    # (RAG_LLM_BASE_URL) has no raw llama.cpp to compare with: the chain alone is measured.
    raw_llm = factories.build_llm(settings) if chain_llm.raw is not None else None
    assistant = factories.build_assistant(settings, llm=chain_llm)
    prompts: list[str] = []
    original = assistant.llm.count_tokens

    def capture(text: str) -> int:  # the chain counts its final prompt last before calling
        prompts.append(text)
        return original(text)

    assistant.llm.count_tokens = capture
    # warm-up (model pages, threads): one question each, not measured
    assistant.answer("How long is parental leave?")
    if raw_llm is not None:
        raw_run(raw_llm, prompts[-1], settings)

    rows: list[dict[str, Any]] = []
    for question in QUESTIONS:
        prompts.clear()
        started = time.perf_counter()
        stream = assistant.stream(question)
        first = None
        pieces = 0
        for _ in stream:
            pieces += 1
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        answer = stream.answer
        assert answer is not None
        t = answer.timings
        llm_ttft = t.llm_ttft_ms
        gen_s = max(1e-9, (t.total_ms - (t.ttft_ms or 0)) / 1000)
        row: dict[str, Any] = {
            "question": question, "found": answer.found, "retrieval_ms": t.retrieval_ms,
            "ttft_ms": t.ttft_ms, "llm_ttft_ms": llm_ttft, "total_ms": (end - started) * 1000,
            "tokens": t.completion_tokens, "gen_s": gen_s,
            "tps": (t.completion_tokens - 1) / gen_s if t.completion_tokens > 1 else 0.0,
        }
        if llm_ttft is not None and prompts and raw_llm is not None:
            row["raw"] = raw_run(raw_llm, prompts[-1], settings)
        rows.append(row)

    cached_ms = repeated_questions(settings, chain_llm)
    measured = [r for r in rows if r["llm_ttft_ms"] is not None]  # reached the model
    nan_raw = {"ttft_ms": float("nan"), "total_ms": float("nan"), "tokens": 0, "gen_s": 0.0,
               "tps": float("nan")}
    for r in measured:
        r.setdefault("raw", nan_raw)
    summary = {
        "questions": len(rows),
        "answered_by_model": len(measured),
        "retrieval_ms": {"p50": pct([r["retrieval_ms"] for r in rows], 50), "p95": pct([r["retrieval_ms"] for r in rows], 95)},
        "ttft_ms": {"p50": pct([r["ttft_ms"] for r in rows], 50), "p95": pct([r["ttft_ms"] for r in rows], 95)},
        "llm_ttft_ms": {"p50": pct([r["llm_ttft_ms"] for r in measured], 50), "p95": pct([r["llm_ttft_ms"] for r in measured], 95)},
        "tokens_per_s": {"p50": pct([r["tps"] for r in measured if r["tokens"] >= 5], 50), "p95": pct([r["tps"] for r in measured if r["tokens"] >= 5], 95)},
        "total_ms": {"p50": pct([r["total_ms"] for r in rows], 50), "p95": pct([r["total_ms"] for r in rows], 95)},
        "raw_ttft_ms": {"p50": pct([r["raw"]["ttft_ms"] for r in measured], 50), "p95": pct([r["raw"]["ttft_ms"] for r in measured], 95)},
        "raw_tokens_per_s": {"p50": pct([r["raw"]["tps"] for r in measured if r["raw"]["tokens"] >= 5], 50), "p95": pct([r["raw"]["tps"] for r in measured if r["raw"]["tokens"] >= 5], 95)},
        "raw_total_ms": {"p50": pct([r["raw"]["total_ms"] for r in measured], 50), "p95": pct([r["raw"]["total_ms"] for r in measured], 95)},
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}",
        "model": chain_llm.name,
        "cached_ms": {"p50": pct(cached_ms, 50), "p95": pct(cached_ms, 95)},
    }
    # Generation speed over all answers (tokens after the first / time after the first): short
    # answers make per-question rates too noisy to compare.
    summary["tokens_per_s_all"] = sum(r["tokens"] - 1 for r in measured if r["tokens"] > 1) / max(
        1e-9, sum(r["gen_s"] for r in measured if r["tokens"] > 1))
    summary["raw_tokens_per_s_all"] = sum(r["raw"]["tokens"] - 1 for r in measured if r["raw"]["tokens"] > 1) / max(
        1e-9, sum(r["raw"]["gen_s"] for r in measured if r["raw"]["tokens"] > 1)) or float("nan")
    summary["tps_ratio"] = summary["tokens_per_s_all"] / summary["raw_tokens_per_s_all"]
    summary["ttft_ratio"] = summary["llm_ttft_ms"]["p50"] / summary["raw_ttft_ms"]["p50"]
    # Streaming check: the first words appear well before the answer is complete.
    long_answers = [r for r in measured if r["tokens"] >= 10]
    summary["ttft_share_of_total_p50"] = pct([r["ttft_ms"] / r["total_ms"] for r in long_answers], 50)
    s = summary
    print(f"answer bench: {len(rows)} questions over {args.docs} ({s['answered_by_model']} reached the model), {s['model']}, {s['machine']}")
    print(f"{'':26s}{'p50':>10s}{'p95':>10s}")
    for label, key in [("retrieval ms", "retrieval_ms"), ("first token ms (e2e)", "ttft_ms"),
                       ("first token ms (LLM)", "llm_ttft_ms"), ("raw first token ms", "raw_ttft_ms"),
                       ("tokens/s", "tokens_per_s"), ("raw tokens/s", "raw_tokens_per_s"),
                       ("total ms", "total_ms"), ("raw total ms", "raw_total_ms")]:
        print(f"  {label:24s}{s[key]['p50']:10.1f}{s[key]['p95']:10.1f}")
    print(f"  tokens/s over all answers {s['tokens_per_s_all']:9.1f}   raw {s['raw_tokens_per_s_all']:.1f}")
    print(f"  tokens/s chain/raw       {s['tps_ratio']:10.3f}   (target >= 0.95)")
    print(f"  first token chain/raw    {s['ttft_ratio']:10.3f}   (target <= 1.10)")
    print(f"  p50 first token (e2e)    {s['ttft_ms']['p50']:10.1f}   (target < 1000 ms)")
    print(f"  first token / total      {s['ttft_share_of_total_p50']:10.3f}   (p50 over answers of 10+ tokens: streaming)")
    print(f"  repeated question ms     {s['cached_ms']['p50']:10.1f}{s['cached_ms']['p95']:10.1f}"
          "   (answered from the cache, whole answer)")
    if args.out:
        write_report(Path(args.out), summary)
        print(f"wrote {args.out}")
    if args.json:
        print(json.dumps({"summary": summary, "rows": rows}))
    return 0


def repeated_questions(settings: Any, llm: Any) -> list[float]:
    """Each question asked twice with the cache on: the second answer's time, question to
    complete answer (ms)."""
    assistant = factories.build_assistant(settings.model_copy(update={"answer_cache_size": 1000}),
                                          llm=llm)
    out = []
    for question in QUESTIONS:
        assistant.answer(question)
        started = time.perf_counter()
        answer = assistant.answer(question)
        out.append((time.perf_counter() - started) * 1000)
        assert answer.cached, question
    return out


def write_report(path: Path, s: dict[str, Any]) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    lines = [
        "# Answering benchmark (`make bench-answer`)",
        "",
        f"{time.strftime('%Y-%m-%d')}, {s['machine']}, {cpu}; model {s['model']}, default settings. "
        f"{s['questions']} questions over the sample corpus; {s['answered_by_model']} reached the model. "
        "The chain and a second, raw `llama_cpp.Llama` (same settings) get the very same prompts; "
        "first token (e2e) counts from the question (retrieval and evidence included), "
        "first token (LLM) from the moment the prompt goes to the model.",
        "",
        "| measure | chain p50 | chain p95 | raw p50 | raw p95 |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| retrieval ms | {s['retrieval_ms']['p50']:.0f} | {s['retrieval_ms']['p95']:.0f} | | |",
        f"| first token ms (e2e) | {s['ttft_ms']['p50']:.0f} | {s['ttft_ms']['p95']:.0f} | | |",
        f"| first token ms (LLM) | {s['llm_ttft_ms']['p50']:.0f} | {s['llm_ttft_ms']['p95']:.0f} | "
        f"{s['raw_ttft_ms']['p50']:.0f} | {s['raw_ttft_ms']['p95']:.0f} |",
        f"| tokens/s (answers of 5+ tokens) | {s['tokens_per_s']['p50']:.1f} | {s['tokens_per_s']['p95']:.1f} | "
        f"{s['raw_tokens_per_s']['p50']:.1f} | {s['raw_tokens_per_s']['p95']:.1f} |",
        f"| total ms | {s['total_ms']['p50']:.0f} | {s['total_ms']['p95']:.0f} | "
        f"{s['raw_total_ms']['p50']:.0f} | {s['raw_total_ms']['p95']:.0f} |",
        "",
        "| target | measured |",
        "| --- | ---: |",
        f"| tokens/s, chain / raw (over all answers) >= 0.95 | {s['tps_ratio']:.3f} "
        f"({s['tokens_per_s_all']:.1f} / {s['raw_tokens_per_s_all']:.1f}) |",
        f"| first token, chain / raw (p50) <= 1.10 | {s['ttft_ratio']:.3f} |",
        f"| p50 first token (e2e) < 1000 ms | {s['ttft_ms']['p50']:.0f} ms |",
        f"| first token / total, p50 over answers of 10+ tokens (streaming) | "
        f"{s['ttft_share_of_total_p50']:.2f} |",
        f"| a repeated question, answered from the cache (p50 / p95, whole answer) | "
        f"{s['cached_ms']['p50']:.1f} / {s['cached_ms']['p95']:.1f} ms |",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
