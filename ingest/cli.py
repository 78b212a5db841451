"""``python -m ingest``: sync files and folders into the knowledge base.

Exit codes: 0 every file went in, 1 some files failed (the rest are stored), 2 usage or
configuration error. With ``--json`` the last stdout line is the report as one JSON object.
Progress goes to stderr: a bar on a terminal, otherwise a plain line every few seconds and a
last one (see :mod:`ingest.progress`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest.progress import PROGRESS_EVERY, console_reporter
from rag.cli_common import run_main, setup_logging
from rag.config import load_settings
from rag.schemas import IngestReport


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Sync documents (PDF, DOCX, PPTX, XLSX, CSV, EML, Markdown, text, HTML; "
        "scanned PDFs and images by OCR) into the knowledge base. "
        "Unchanged files are skipped, changed ones replaced, deleted ones removed.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="files or folders (recursive); default: the docs folder (RAG_DOCS_DIR)")
    parser.add_argument("--store", type=Path, help="store folder (default: RAG_STORE_DIR)")
    parser.add_argument("--collection", help="Chroma collection name (default: RAG_COLLECTION)")
    parser.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    parser.add_argument("--rebuild", action="store_true",
                        help="drop the store's contents and ingest everything again")
    parser.add_argument("--take-over", action="store_true",
                        help="with a Chroma server: make this machine the store's one writer "
                        "(when the machine that wrote it is gone for good)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (last line)")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    parser.add_argument("--progress-every", type=_seconds, default=PROGRESS_EVERY, metavar="SECONDS",
                        help="when stderr is not a terminal: seconds between two progress lines "
                        f"(default {PROGRESS_EVERY:g}; a last line is always written)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return parser


def summary(report: IngestReport) -> str:
    verb = "would be " if report.dry_run else ""
    lines = [
        (f"files: {report.files_added} {verb}added, {report.files_updated} {verb}updated, "
         f"{report.files_unchanged} unchanged, {report.files_removed} {verb}removed, "
         f"{len(report.files_failed)} failed"),
        (f"chunks: {report.chunks_written} written, {report.chunks_total} in the store "
         f"({report.store_dir}, collection {report.collection})"),
        f"time: {report.seconds:.2f} s, {report.chunks_per_second:.1f} chunks/s",
    ]
    for failure in report.files_failed:
        lines.append(f"  failed: {failure.path}: {failure.error}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)

    def body() -> int:
        from ingest.sync import run_sync

        settings = load_settings(store_dir=args.store, collection=args.collection)
        progress = console_reporter(sys.stderr, enabled=not args.no_progress,
                                    every=args.progress_every)
        try:
            report = run_sync(args.paths, settings, rebuild=args.rebuild, dry_run=args.dry_run,
                              progress=progress, take_over=args.take_over)
        finally:
            progress.close()
        print(summary(report))
        if args.json:
            print(report.model_dump_json())
        return 0 if report.ok else 1

    return run_main(body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
