"""``make bench-ingest``: how much the ingestion pipeline adds over bare embedding.

From one run: ours into a fresh store, and the two yardsticks it is compared with, each
measured once before ours and once after (a shared machine's speed drifts over minutes: the
mean of the two is what ours is compared with): the do-it-yourself LangChain pipeline
(:mod:`devtools.diy_pipeline`, in its own process) on the folder, and the very same chunk
texts encoded by the bare ``SentenceTransformer.encode``; the ratios, peak memory, and the
time of a second run with nothing changed (in process and as a fresh ``python -m ingest``).
Order: do-it-yourself, bare, ours, bare, do-it-yourself.
Then a mixed folder (:mod:`devtools.mixed_folder`: PDF, DOCX, PPTX, XLSX, CSV, EML and a scanned
page read by OCR) into another fresh store: files, chunks and time; and 400 small files (a
paragraph each, from the folder), where the cost per file shows.

    python -m devtools.bench_ingest [FOLDER] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ingest.chunk_writes import chunk_header
from ingest.parse import parse_file
from ingest.sync import Syncer, run_sync
from ingest.targets import collect_targets
from rag import factories
from rag.config import Settings, load_settings
from rag.errors import LoaderError


def mixed_folder_run(folder: Path) -> dict[str, object]:
    """Ingest a freshly made mixed folder (with a real PDF from beside ``folder``, if there)."""
    from devtools.mixed_folder import KINDS, make_mixed_folder

    scratch = Path(tempfile.mkdtemp(prefix="rag-bench-mixed-"))
    docs = scratch / "docs"
    make_mixed_folder(docs, folder.parent / "pdfs" / "pdflatex-4-pages.pdf")
    settings = load_settings(docs_dir=docs, store_dir=scratch / "store")
    report = run_sync([docs], settings)
    client = factories.build_chroma_client(settings)
    ocr = client.get_collection(settings.collection).get(where={"ocr": True})["ids"]
    return {"kinds": list(KINDS), "files": report.files_added, "failed": len(report.files_failed),
            "chunks": report.chunks_written, "ocr_chunks": len(ocr), "seconds": report.seconds}


def small_files_run(folder: Path, count: int = 400) -> dict[str, object]:
    """``count`` one-paragraph files (up to 300 characters each, from ``folder``) into a fresh store."""
    scratch = Path(tempfile.mkdtemp(prefix="rag-bench-small-"))
    docs = scratch / "docs"
    docs.mkdir()
    paragraphs = [p.strip()[:300] for f in sorted(folder.glob("*.md"))
                  for p in f.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) >= 100]
    for i, text in enumerate(paragraphs[:count]):
        (docs / f"note{i:03}.md").write_text(text + "\n", encoding="utf-8")
    settings = load_settings(docs_dir=docs, store_dir=scratch / "store")
    report = run_sync([docs], settings)
    return {"files": report.files_added, "chunks": report.chunks_written,
            "seconds": report.seconds, "embed_seconds": round(report.embed_seconds, 2)}


def embedded_texts(folder: Path, settings: Settings) -> list[str]:
    """The texts ingestion embeds for ``folder``: each chunk below its title/heading line."""
    split = Syncer(settings).split
    texts: list[str] = []
    for target in collect_targets([folder], settings):
        for path in target.files:
            try:
                parsed = parse_file(str(path), split)
            except LoaderError:
                continue  # refused by ingestion too
            texts += [f"{chunk_header(parsed.title, chunk.heading, split.tokenizer_file)}\n{chunk.text}"
                      for chunk in parsed.chunks]
    return texts


_PARSE_ALONE = """
import json, sys, time
from devtools.peak_memory import own_peak_kb
from ingest.parse import SplitConfig, parse_file
job = json.load(sys.stdin)
started = time.process_time()
for path in job["paths"]:
    try:
        parse_file(path, SplitConfig(**job["config"]))
    except Exception:
        pass
print(json.dumps({"peak_kb": own_peak_kb(), "cpu_s": time.process_time() - started}))
"""


def parser_alone(folder: Path, settings: Settings) -> tuple[float, float]:
    """Peak memory (MB) and CPU seconds of a parsing worker: the folder's files parsed one by
    one in a fresh process that imports what the worker imports
    (:func:`devtools.peak_memory.own_peak_kb`). That CPU time is taken from the embedder's cores
    during a run."""
    paths = [str(p) for target in collect_targets([folder], settings) for p in target.files]
    job = {"paths": paths, "config": dataclasses.asdict(Syncer(settings).split)}
    proc = subprocess.run([sys.executable, "-c", _PARSE_ALONE], input=json.dumps(job),
                          capture_output=True, text=True, check=True)
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    return measured["peak_kb"] / 1024, measured["cpu_s"]


def bare_encode(model: Any, texts: list[str], batch_size: int) -> float:
    """Seconds the bare ``SentenceTransformer.encode`` takes for ``texts``, ``batch_size`` at
    once (ours: ``RAG_EMBEDDING_BATCH_SIZE``)."""
    t0 = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
    return time.perf_counter() - t0


def diy_run(folder: Path, model_dir: Path) -> dict[str, float | int]:
    """The do-it-yourself pipeline in a process of its own (PyTorch, as the tutorials have it)."""
    proc = subprocess.run(
        [sys.executable, "-m", "devtools.diy_pipeline", str(folder), str(model_dir), "--json"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_ingest", description=__doc__)
    parser.add_argument("folder", nargs="?", type=Path, default=Path("../shared/eval/docs_en"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder (is ../shared beside the project?)", file=sys.stderr)
        return 2

    store = Path(tempfile.mkdtemp(prefix="rag-bench-ingest-"))
    settings = load_settings(store_dir=store)

    # The model is loaded (and warmed up) once; both measurements below use it. Chroma is
    # imported first, as the do-it-yourself run imports it before its clock starts.
    import chromadb  # noqa: F401

    t0 = time.perf_counter()
    embeddings = factories.build_embeddings(settings)
    embeddings.embed_documents(["warm-up"] * 8)
    load_s = time.perf_counter() - t0

    texts = embedded_texts(args.folder, settings)
    model = embeddings._client  # the SentenceTransformer itself  # noqa: SLF001
    model_dir = factories.embedding_model_dir(settings)
    diy_runs = [diy_run(args.folder, model_dir)]
    raw_runs = [bare_encode(model, texts, settings.embedding_batch_size)]
    t0 = time.perf_counter()
    report = run_sync([args.folder], settings)
    pipeline_s = time.perf_counter() - t0
    chunks = report.chunks_written
    raw_runs.append(bare_encode(model, texts, settings.embedding_batch_size))
    diy_runs.append(diy_run(args.folder, model_dir))
    raw_s = sum(raw_runs) / len(raw_runs)
    diy_times = [float(run["seconds"]) for run in diy_runs]
    diy_s = sum(diy_times) / len(diy_times)
    diy = {**diy_runs[0], "seconds": round(diy_s, 2), "runs_s": diy_times}
    if len(texts) != chunks:
        print(f"warning: {chunks} chunks ingested but {len(texts)} texts encoded bare",
              file=sys.stderr)

    t0 = time.perf_counter()
    rerun = run_sync([args.folder], settings)
    rerun_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak_mb, parse_cpu_s = parser_alone(args.folder, settings)

    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ingest", str(args.folder), "--store", str(store), "--json"],
        capture_output=True, text=True, check=False,
    )
    rerun_process_s = time.perf_counter() - t0
    fresh = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}

    result = {
        "folder": str(args.folder),
        "embedding_backend": settings.embedding_backend,
        "embedding_batch_size": settings.embedding_batch_size,
        "diy": diy,
        "speedup_vs_diy": round(diy_s / pipeline_s, 2),
        "files": report.files_added,
        "chunks": chunks,
        "model_load_s": round(load_s, 2),
        "pipeline_s": round(pipeline_s, 2),
        "pipeline_chunks_per_s": round(chunks / pipeline_s, 2),
        "raw_encode_s": round(raw_s, 2),
        "raw_encode_runs_s": [round(r, 2) for r in raw_runs],
        "raw_chunks_per_s": round(len(texts) / raw_s, 2),
        "ratio": round((chunks / pipeline_s) / (len(texts) / raw_s), 3),
        "peak_rss_mb": round(peak_mb, 1),
        "parser_worker_peak_rss_mb": round(worker_peak_mb, 1),
        "parse_cpu_s": round(parse_cpu_s, 2),
        "rerun_unchanged_s": round(rerun_s, 3),
        "rerun_files_unchanged": rerun.files_unchanged,
        "rerun_fraction": round(rerun_s / pipeline_s, 4),
        "rerun_fresh_process_s": round(rerun_process_s, 3),
        "rerun_fresh_process_fraction": round(rerun_process_s / (pipeline_s + load_s), 4),
        "rerun_fresh_process_unchanged": fresh.get("files_unchanged"),
        "mixed": mixed_folder_run(args.folder),
        "small_files": small_files_run(args.folder),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, "
        f"Python {platform.python_version()}",
    }
    print(
        f"ingest bench on {result['folder']}: {result['files']} files, {chunks} chunks "
        f"(embedder backend {settings.embedding_backend}, {settings.embedding_batch_size} texts at once)\n"
        f"  do-it-yourself LangChain {diy_s:8.2f} s  ({diy['chunks']} chunks of 800 "
        f"characters, PyTorch; model load {diy['model_load_s']} s apart; mean of "
        f"{diy_times[0]:.2f} s before ours and {diy_times[1]:.2f} s after)\n"
        f"  ours                     {pipeline_s:8.2f} s  = {result['speedup_vs_diy']:.2f}x faster"
        f" (target >= 1.5x)\n"
        f"  model load (once)        {load_s:8.2f} s\n"
        f"  pipeline                 {pipeline_s:8.2f} s  {result['pipeline_chunks_per_s']:7.2f} chunks/s\n"
        f"  bare encode, same texts  {raw_s:8.2f} s  {result['raw_chunks_per_s']:7.2f} chunks/s"
        f" (mean of {raw_runs[0]:.2f} s before ours and {raw_runs[1]:.2f} s after)\n"
        f"  ratio pipeline / bare    {result['ratio']:8.3f}   (target >= 0.90)\n"
        f"  peak memory              {peak_mb:8.1f} MB (parser worker {worker_peak_mb:.1f} MB)\n"
        f"  parsing alone            {parse_cpu_s:8.2f} s  of CPU in the worker (the embedder's cores)\n"
        f"  unchanged re-run         {rerun_s:8.3f} s  = {100 * result['rerun_fraction']:.2f}% of the first run"
        f" (target < 2%)\n"
        f"  ... as a fresh process   {rerun_process_s:8.3f} s  = "
        f"{100 * result['rerun_fresh_process_fraction']:.2f}% of the first run with model load"
    )
    mixed = result["mixed"]
    print(f"  mixed folder ({', '.join(mixed['kinds'])}): {mixed['files']} files in, "
          f"{mixed['failed']} refused, {mixed['chunks']} chunks ({mixed['ocr_chunks']} by OCR), "
          f"{mixed['seconds']:.2f} s")
    small = result["small_files"]
    print(f"  small files: {small['files']} files of one paragraph, {small['chunks']} chunks, "
          f"{small['seconds']:.2f} s ({small['embed_seconds']:.2f} s of it embedding)")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
