"""``make bench-scale``: a knowledge base of 100,000+ chunks on one box.

1. Generates a corpus offline from a folder of documents (default ``../shared/eval/docs_en``):
   ``--copies`` copies of every document, each with its paragraphs shuffled (seeded) and a
   unique reference line after each paragraph, so the copies differ in order and in text.
2. Ingests it with ``python -m ingest --json`` in a process of its own: seconds, chunks and the
   peak resident memory of that process (target < 2 GB; its parsing worker is measured by
   ``make bench-ingest``).
3. Retrieval time over the eval questions at that size (target p95 < 50 ms), timed after
   ``--warm-up`` other questions (a service that has been answering, not a cold start), and time
   to the first answer token against the same questions over a one-copy store (target: unchanged).
4. Changes 1% of the files (half edited, a quarter removed, a quarter added), syncs again and
   times it, then checks that the lexical index and Chroma hold exactly the same chunk ids and
   that an edited passage is found by both retrievers.

    python -m devtools.bench_scale [FOLDER] [--copies 50] [--questions 80] [--warm-up 40] [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devtools.metrics import pct
from rag import factories
from rag.catalog import CATALOG_NAME
from rag.config import load_settings


def make_corpus(source: Path, out: Path, copies: int, seed: int = 7) -> list[Path]:
    """``copies`` shuffled, marked copies of every Markdown/text file under ``source``."""
    originals = sorted(p for p in source.rglob("*") if p.suffix in (".md", ".txt"))
    written = []
    for copy in range(copies):
        rng = random.Random(seed * 1_000_003 + copy)
        folder = out / f"part-{copy:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for original in originals:
            title, *paragraphs = original.read_text(encoding="utf-8").split("\n\n")
            rng.shuffle(paragraphs)
            marked = [f"{p.strip()}\n\nReference {original.stem}-{copy}-{i}."
                      for i, p in enumerate(paragraphs) if p.strip()]
            path = folder / original.name
            path.write_text("\n\n".join([title.strip(), *marked]) + "\n", encoding="utf-8")
            written.append(path)
    return written


# ``python -m ingest`` that reports, as it exits, its own peak memory (see
# :mod:`devtools.peak_memory`: not this process's size, which it started with models loaded).
_PEAK = ("import atexit, runpy, sys\n"
         "from devtools.peak_memory import own_peak_kb\n"
         "atexit.register(lambda: print('PEAK-KB', own_peak_kb(), file=sys.stderr))\n"
         "sys.argv[0] = 'ingest'\n"
         "runpy.run_module('ingest', run_name='__main__')\n")


def ingest(folder: Path, store: Path) -> dict[str, Any]:
    """``python -m ingest`` as a user runs it; its report, seconds and peak memory."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, str(folder), "--store", str(store), "--json", "--no-progress"],
        capture_output=True, text=True, check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    peaks = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK-KB ")]
    return {"report": report, "seconds": round(seconds, 1),
            "peak_rss_mb": round(peaks[-1] / 1024, 1) if peaks else 0.0}


def questions(folder: Path, n: int) -> list[dict[str, Any]]:
    """The first ``n`` eval questions about documents in the folder (one per document first)."""
    file = folder.parent / "questions_en.jsonl"
    rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_doc.setdefault(row["doc"], []).append(row)
    picked = [qs[i] for i in range(max(map(len, by_doc.values()), default=0))
              for qs in by_doc.values() if i < len(qs)]
    return picked[:n]


def retrieval(store: Path, items: list[dict[str, Any]],
              warm_up: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """The store's retriever, and its time (the question's embedding included) and recall@5
    (any copy of the right document) over the questions, once the retriever has answered the
    ``warm_up`` questions (other ones: a running service, not a cold start, is measured)."""
    settings = load_settings(store_dir=store, answer_cache_size=0)
    retriever = factories.build_retriever(settings)
    for item in warm_up or [{"question": "warm-up question about the company"}]:
        retriever.search(item["question"], k=5)
    times, found = [], 0
    for item in items:
        started = time.perf_counter()
        hits = retriever.search(item["question"], k=5)
        times.append((time.perf_counter() - started) * 1000)
        found += any(Path(h.source).name == item["doc"] for h in hits)
    return retriever, {"chunks": retriever.count(), "retrieval_ms_p50": round(pct(times, 50), 1),
                       "retrieval_ms_p95": round(pct(times, 95), 1),
                       "recall_at_5": round(found / len(items), 3)}


def first_tokens(retrievers: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """Time to the first answer token (from the question, retrieval included) over each store,
    side by side: one model, and every question asked of each store in turn, so that the
    machine's drift falls on all of them alike."""
    first = next(iter(retrievers.values()))
    llm = factories.build_llm(first.settings)
    assistants = {name: factories.build_assistant(r.settings, llm=llm, retriever=r)
                  for name, r in retrievers.items()}
    for assistant in assistants.values():
        assistant.answer("How long is the warranty?")  # warm-up
    ttft: dict[str, list[float]] = {name: [] for name in assistants}
    for item in items:
        for name, assistant in assistants.items():
            ttft_ms = assistant.answer(item["question"]).timings.ttft_ms
            if ttft_ms is not None:
                ttft[name].append(ttft_ms)
    return {name: {"ttft_ms_p50": round(pct(v, 50)), "ttft_ms_p95": round(pct(v, 95))}
            for name, v in ttft.items()}


def change_one_percent(files: list[Path], root: Path, seed: int = 11) -> dict[str, Any]:
    """Edit half of 1% of the files, remove a quarter, add a quarter; returns what changed and
    a sentence that only the first edited file now holds."""
    rng = random.Random(seed)
    n = max(4, len(files) // 100)
    chosen = rng.sample(files, n)
    edited, removed = chosen[: n // 2], chosen[n // 2: n // 2 + n // 4]
    marker = ("Kestrel Halvorsen's quarterly audit of the Zephyr warehouse found 417 misfiled "
              "invoices. The audit team traced the misfiled invoices to a scanner that dropped "
              "the supplier code, and Halvorsen asked the warehouse to re-scan every invoice "
              "received since March. The re-scanned invoices were filed again by supplier code.")
    for i, path in enumerate(edited):
        text = path.read_text(encoding="utf-8")
        head, _, rest = text.partition("\n\n")
        path.write_text(f"{head}\n\n{marker if i == 0 else f'Edited paragraph {i}.'}\n\n{rest}",
                        encoding="utf-8")
    for path in removed:
        path.unlink()
    added = []
    for i in range(n - len(edited) - len(removed)):
        path = root / "added" / f"new-{i}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(files[i].read_text(encoding="utf-8") + f"\n\nAdded copy {i}.\n", encoding="utf-8")
        added.append(path)
    return {"edited": len(edited), "removed": len(removed), "added": len(added),
            "marker": marker, "marked_file": edited[0].name}


QUESTION = "How many misfiled invoices did Halvorsen's audit of the Zephyr warehouse find?"


def in_step(store: Path, marker: str, marked_file: str) -> dict[str, Any]:
    """Whether the lexical index and Chroma hold the same chunk ids, and whether the edited
    passage is found by each retriever on its own."""
    settings = load_settings(store_dir=store)
    factories.reset_chroma_cache()  # this process read the store before the other one wrote it
    with sqlite3.connect(f"file:{store / CATALOG_NAME}?mode=ro", uri=True) as conn:
        lexical = {row[0] for row in conn.execute("SELECT chunk_id FROM chunks_fts")}
    collection = factories.build_chroma_client(settings).get_collection(settings.collection)
    dense: set[str] = set()
    offset, page = 0, 5000
    while True:
        ids = collection.get(include=[], limit=page, offset=offset)["ids"]
        dense.update(ids)
        offset += page
        if len(ids) < page:
            break
    retriever = factories.build_retriever(settings)
    found = {mode: any(Path(h.source).name == marked_file and marker[:40] in h.text
                       for h in retriever.search(QUESTION, k=5, mode=mode))
             for mode in ("bm25", "dense")}
    return {"lexical_chunks": len(lexical), "chroma_chunks": len(dense),
            "same_ids": lexical == dense, "edited_found": found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_scale", description=__doc__)
    parser.add_argument("folder", nargs="?", type=Path, default=Path("../shared/eval/docs_en"))
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--questions", type=int, default=80, help="questions timed")
    parser.add_argument("--warm-up", type=int, default=40,
                        help="other questions asked first (not timed)")
    parser.add_argument("--answers", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the corpus and stores here; a second run reuses them (its "
                             "ingestion times are then re-runs)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder (is ../shared beside the project?)", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="rag-bench-scale-"))
    reused = (work / "store").is_dir()
    shutil.rmtree(work / "docs" / "added", ignore_errors=True)  # a previous run's 1% change
    items = questions(args.folder, args.questions + args.warm_up)
    items, warm_up = items[: args.questions], items[args.questions:]

    ingest(args.folder, work / "store-1")
    started = time.perf_counter()
    files = make_corpus(args.folder, work / "docs", args.copies)
    generate_s = time.perf_counter() - started
    big = ingest(work / "docs", work / "store")
    small_retriever, baseline = retrieval(work / "store-1", items, warm_up)
    large_retriever, large = retrieval(work / "store", items, warm_up)
    ttft = first_tokens({"one_copy": small_retriever, "large": large_retriever},
                        items[: args.answers])
    baseline |= ttft["one_copy"]
    large |= ttft["large"]
    del small_retriever, large_retriever

    change = change_one_percent(files, work / "docs")
    resync = ingest(work / "docs", work / "store")
    step = in_step(work / "store", change["marker"], change["marked_file"])

    result = {
        "folder": str(args.folder), "copies": args.copies, "files": len(files),
        "generate_s": round(generate_s, 1), "ingest": big, "one_copy": baseline, "large": large,
        "change": {k: v for k, v in change.items() if k != "marker"}, "resync": resync,
        "in_step": step, "cores": len(os.sched_getaffinity(0)), "reused": reused,
    }
    report = big["report"]
    print(
        f"scale bench: {len(files)} files ({args.copies} shuffled copies of {args.folder}), "
        f"{report['chunks_total']:,} chunks\n"
        f"  ingest ({'re-run, --work reused' if reused else 'first run'})       {big['seconds']:8.1f} s  {report['chunks_per_second']:.1f} chunks/s, "
        f"peak RSS {big['peak_rss_mb']:,.0f} MB (target < 2,048)\n"
        f"  retrieval p50 / p95      {large['retrieval_ms_p50']:6.1f} / {large['retrieval_ms_p95']:.1f} ms"
        f" (target p95 < 50; {len(items)} questions after {len(warm_up)} others); one copy: {baseline['retrieval_ms_p50']} / {baseline['retrieval_ms_p95']} ms\n"
        f"  recall@5 (any copy)      {large['recall_at_5']:8.3f}   one copy: {baseline['recall_at_5']}\n"
        f"  first token p50 / p95    {large['ttft_ms_p50']:6.0f} / {large['ttft_ms_p95']:.0f} ms"
        f"   one copy: {baseline['ttft_ms_p50']:.0f} / {baseline['ttft_ms_p95']:.0f} ms\n"
        f"  1% changed ({change['edited']} edited, {change['removed']} removed, {change['added']} added): "
        f"sync {resync['seconds']:.1f} s\n"
        f"  in step after it         lexical {step['lexical_chunks']:,} = Chroma {step['chroma_chunks']:,}: "
        f"{step['same_ids']}; edited passage found by BM25 {step['edited_found']['bm25']}, "
        f"dense {step['edited_found']['dense']}"
    )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
