"""``python -m rag eval EVAL_DIR --lang en|zh``: retrieval (and optionally answer) quality over an
eval folder in the ``../shared/eval`` format (``docs_<lang>/*.md``, ``questions_<lang>.jsonl``).

Retrieval: the documents are ingested into a fresh temporary store (or ``--store DIR`` is synced
and reused), then every question is searched three ways in the same run: the project's retriever
(hybrid), and the BM25-only and dense-only baselines. A retrieved chunk is a hit when it comes
from the question's ``doc`` and overlaps its gold ``context`` (:func:`devtools.metrics.chunk_hits`).
Scores: recall@1/5/10 and MRR@10 of the first hit (plus recall@k / MRR@k for another ``--k``).

Answers (``--answers N``): the first N questions are answered with the configured model and
scored against the gold answers: SQuAD exact match / F1 (English) or CMRC 2018 F1 / EM (Chinese),
containment of a gold answer in the answer, citation accuracy (a cited chunk contains a gold
answer) and evidence accuracy (the first quoted evidence sentence contains one), matched on word
and number boundaries (:func:`devtools.metrics.contains_answer`).

With ``--json`` the last stdout line is one JSON object (see ``/work/shared/DESIGN.md``):
``{"retriever": {...}, "baselines": {"bm25": {...}, "dense": {...}}, "answers": {...}, ...}``.
Progress goes to stderr. Exit codes: 0 done, 1 unexpected failure, 2 usage or configuration
error (a missing folder, an invalid setting).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from devtools.eval_data import (
    LANGS,
    AnswerScores,
    EvalQuestion,
    EvalResult,
    OfftopicScores,
    eval_paths,
    load_offtopic,
    load_questions,
    render,
)
from devtools.eval_scoring import retrieval_scores, score_answer
from devtools.metrics import chunk_hits, first_hit_rank
from rag.config import Settings, load_settings
from rag.errors import ConfigError

MODES = {"retriever": "hybrid", "bm25": "bm25", "dense": "dense"}

ProgressFn = Callable[[str], None]


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


# --- the run -------------------------------------------------------------------------------
def _quiet(_: str) -> None:
    pass


def run_eval(eval_dir: Path | str, lang: str, store: Path | str | None = None, k: int = 10,
             answers: int = 0, settings: Settings | None = None,
             progress: ProgressFn | None = None, offtopic: Path | str | None = None) -> EvalResult:
    """Ingest, search every question three ways, optionally answer the first ``answers``."""
    from ingest.sync import run_sync
    from rag import factories

    say = progress or _quiet
    if k < 1:
        raise ConfigError(f"--k must be at least 1, got {k}")
    if answers < 0:
        raise ConfigError(f"--answers must be 0 or more, got {answers}")
    started = time.perf_counter()
    eval_dir = Path(eval_dir)
    docs, questions_file = eval_paths(eval_dir, lang)
    questions = load_questions(questions_file)
    offtopic_questions = load_offtopic(Path(offtopic)) if offtopic else []

    temp: str | None = None
    if store is None:
        temp = tempfile.mkdtemp(prefix=f"rag-eval-{lang}-")
        store_dir = Path(temp)
    else:
        store_dir = Path(store)
    base = settings or load_settings()
    # answers are measured from the model: a repeated eval over the same store is not cached
    settings = base.model_copy(update={"store_dir": store_dir, "answer_cache_size": 0})
    try:
        say(f"ingesting {docs} into {store_dir} ...")

        def on_progress(kind: str, done: int, total: int) -> None:
            if kind == "files" and total and (done == total or done % max(1, total // 10) == 0):
                say(f"  files {done}/{total}")

        report = run_sync([docs], settings, progress=on_progress)
        if report.files_failed:
            failed = ", ".join(f.path for f in report.files_failed[:5])
            say(f"warning: {len(report.files_failed)} document(s) not ingested: {failed}")
        ingest = {"seconds": report.seconds, "files": report.files_added + report.files_updated
                  + report.files_unchanged, "files_failed": len(report.files_failed),
                  "chunks_written": report.chunks_written, "chunks": report.chunks_total,
                  "reused": store is not None and report.chunks_written == 0}
        say(f"  {report.chunks_total} chunks ({report.seconds:.1f} s)")

        retriever = factories.build_retriever(settings)
        info = factories.embedder_info(settings)
        depth = max(k, 10)
        ranks: dict[str, list[int | None]] = {name: [] for name in MODES}
        times: dict[str, list[float]] = {name: [] for name in MODES}
        dense_votes = 0
        retriever.search(questions[0].question, depth)  # warm-up: model and caches
        for i, q in enumerate(questions, start=1):
            dense_votes += retriever.uses_dense(q.question)
            for name, mode in MODES.items():
                t0 = time.perf_counter()
                hits = retriever.search(q.question, depth, mode=mode)
                times[name].append((time.perf_counter() - t0) * 1000)
                ranks[name].append(first_hit_rank(
                    [chunk_hits(h.text, h.source, q.doc, q.context) for h in hits]))
            if i % 50 == 0 or i == len(questions):
                say(f"  searched {i}/{len(questions)} questions")
        scores = {name: retrieval_scores(r, k) for name, r in ranks.items()}

        answer_scores = offtopic_scores = None
        assistant = None
        if answers or offtopic_questions:
            from rag.chain import Assistant

            say("loading the configured language model ...")
            assistant = Assistant(settings, retriever, factories.build_llm(settings))
        if answers:
            assert assistant is not None
            answer_scores = _answers(assistant, questions[:answers], lang, say)
        if offtopic_questions:
            assert assistant is not None
            offtopic_scores = ask_offtopic(assistant, offtopic_questions, say)

        return EvalResult(
            eval_dir=str(eval_dir), lang=lang, k=k, questions=len(questions),
            retriever={**scores["retriever"]},
            baselines={"bm25": scores["bm25"], "dense": scores["dense"]},
            answers=answer_scores,
            offtopic=offtopic_scores,
            latency_ms={f"{name}_mean": round(statistics.fmean(t), 1) for name, t in times.items()}
            | {f"{name}_p95": round(_p95(t), 1) for name, t in times.items()},
            store={"dir": None if temp else str(store_dir), "temporary": temp is not None},
            ingest=ingest,
            embedder={"name": info.name, "dimension": info.dimension,
                      "languages": sorted(retriever.embedder_languages() or []) or None,
                      "dense_vote_share": round(dense_votes / len(questions), 4),
                      "multilingual": factories.MULTILINGUAL_EMBEDDER if retriever.multilingual else None},
            settings={"chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
                      "candidates": settings.candidates, "retrieval_mode": "hybrid"},
            seconds=round(time.perf_counter() - started, 1),
        )
    finally:
        if temp:
            _release_chroma()
            shutil.rmtree(temp, ignore_errors=True)


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else 0.0


def _release_chroma() -> None:
    try:
        from rag.factories import reset_chroma_cache

        reset_chroma_cache()
    except Exception:  # noqa: BLE001 - best effort before deleting a temporary store
        pass


def _answers(assistant: Any, questions: Sequence[EvalQuestion], lang: str,
             say: ProgressFn) -> AnswerScores:
    say(f"answering {len(questions)} question(s) with the configured model ...")
    items: list[dict[str, Any]] = []
    started = time.perf_counter()
    for i, q in enumerate(questions, start=1):
        answer = assistant.answer(q.question)
        items.append(score_answer(answer, q, lang))
        say(f"  answered {i}/{len(questions)}: f1 {items[-1]['f1']:.2f}")
    n = len(items)
    return AnswerScores(
        n=n,
        exact_match=_mean([it["exact_match"] for it in items]),
        f1=_mean([it["f1"] for it in items]),
        contains=_mean([float(it["contains"]) for it in items]),
        found=_mean([float(it["found"]) for it in items]),
        unsupported=round(sum(it["unsupported"] for it in items) / max(1, sum(it["found"] for it in items)), 4),
        citation_accuracy=_mean([float(it["citation_ok"]) for it in items]),
        evidence_accuracy=_mean([float(it["evidence_ok"]) for it in items]),
        seconds_per_answer=round((time.perf_counter() - started) / max(1, n), 2),
        model=str(getattr(assistant.llm, "name", "")),
        items=items,
    )


def ask_offtopic(assistant: Any, questions: Sequence[str], say: ProgressFn) -> OfftopicScores:
    say(f"asking {len(questions)} off-topic question(s) ...")
    items = []
    for question in questions:
        answer = assistant.answer(question)
        items.append({"question": question, "found": answer.found, "answer": answer.answer,
                      "model_called": answer.timings.completion_tokens > 0})
    n = len(items)
    return OfftopicScores(n=n, not_found=_mean([float(not it["found"]) for it in items]),
                          model_calls=_mean([float(it["model_called"]) for it in items]), items=items)


# --- command line ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rag eval",
        description="Recall@k and MRR of the retriever and of BM25-only and dense-only baselines "
        "over an eval folder (docs_<lang>/, questions_<lang>.jsonl); optionally answer quality.",
    )
    parser.add_argument("eval_dir", type=Path, help="eval folder, e.g. ../shared/eval")
    parser.add_argument("--lang", required=True, choices=LANGS, help="which half of the folder")
    parser.add_argument("--store", type=Path,
                        help="store folder to sync and reuse (default: a fresh temporary store)")
    parser.add_argument("--k", type=int, default=10, help="depth of the ranking (default 10)")
    parser.add_argument("--answers", type=int, default=0, metavar="N",
                        help="also answer the first N questions with the configured model")
    parser.add_argument("--offtopic", type=Path, metavar="FILE",
                        help='also ask the questions of FILE (JSON lines with a "question" each, '
                        'none answerable from EVAL_DIR) and report the share answered "not found"')
    parser.add_argument("--items", type=Path, metavar="FILE",
                        help="write every scored answer (question, answer, gold, scores) as JSON lines")
    parser.add_argument("--json", action="store_true",
                        help="last stdout line: the result as one JSON object")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    from rag.cli_common import USAGE_ERROR, run_main, setup_logging

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, message printed)
        return int(exc.code) if isinstance(exc.code, int) else USAGE_ERROR
    setup_logging()

    def body() -> int:
        def say(message: str) -> None:
            print(message, file=sys.stderr, flush=True)

        settings = load_settings()
        result = run_eval(args.eval_dir, args.lang, store=args.store, k=args.k,
                          answers=args.answers, settings=settings, progress=say,
                          offtopic=args.offtopic)
        print(render(result), flush=True)
        if args.items:
            with args.items.open("w", encoding="utf-8") as out:
                for item in (result.answers.items if result.answers else []):
                    out.write(json.dumps(item, ensure_ascii=False) + "\n")
                for item in (result.offtopic.items if result.offtopic else []):
                    out.write(json.dumps({"offtopic": True, **item}, ensure_ascii=False) + "\n")
        if args.json:
            print(json.dumps(result.contract(), ensure_ascii=False))
        return 0

    return run_main(body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
