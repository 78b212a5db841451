"""The do-it-yourself LangChain ingestion the tutorials teach, as the yardstick for
``make bench-ingest``: load the folder's text files, ``RecursiveCharacterTextSplitter(800, 100)``,
``HuggingFaceEmbeddings`` over the same local MiniLM folder (PyTorch), ``Chroma.from_documents``
into a fresh folder. Run in its own process so it shares nothing with ours.

    python -m devtools.diy_pipeline FOLDER MODEL_DIR [--json]

Prints the seconds from loading the folder to the store written (the model load, like ours,
is left out and reported apart), and the chunk count.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from rag.config import load_settings  # noqa: F401 - sets the offline environment first


def run(folder: Path, model_dir: Path) -> dict[str, float | int]:
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t0 = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=str(model_dir),
                                       model_kwargs={"local_files_only": True})
    embeddings.embed_documents(["warm-up"] * 8)
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    docs = DirectoryLoader(str(folder), glob="**/*.md", loader_cls=TextLoader,
                           loader_kwargs={"encoding": "utf-8"}).load()
    chunks = RecursiveCharacterTextSplitter(chunk_size=800, chunk_overlap=100).split_documents(docs)
    Chroma.from_documents(chunks, embeddings, persist_directory=tempfile.mkdtemp(prefix="rag-diy-"))
    seconds = time.perf_counter() - t0
    return {"files": len(docs), "chunks": len(chunks), "model_load_s": round(load_s, 2),
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.diy_pipeline", description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.folder, args.model_dir)
    print(json.dumps(result) if args.json else
          f"do-it-yourself pipeline: {result['files']} files, {result['chunks']} chunks, "
          f"{result['seconds']} s (model load {result['model_load_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
