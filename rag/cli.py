"""``python -m rag``: ask, chat, search, eval, serve, config. A thin edge over :mod:`rag.chain`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rag.access import access_of
from rag.cli_common import run_main, setup_logging
from rag.config import load_settings
from rag.schemas import Answer


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, help="store folder (default: RAG_STORE_DIR)")
    parser.add_argument("--collection", help="Chroma collection (default: RAG_COLLECTION)")
    parser.add_argument("--top-k", type=int, help="sources per question (default: RAG_TOP_K)")
    parser.add_argument("--temperature", type=float, help="sampling temperature")
    parser.add_argument("--max-tokens", type=int, help="maximum answer length in tokens")
    _user(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")


def _user(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="answer as this user: only the documents they may see "
                        "(default: everything, as the operator)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Ask the knowledge base.")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one question, with sources")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="last stdout line: the answer as JSON")
    _common(ask)
    chat = sub.add_parser("chat", help="a conversation in the terminal (follow-ups understood)")
    chat.add_argument("--json", action="store_true",
                      help="read one question per line on standard input; print one JSON object "
                      "per answer (shaped like ask --json), nothing else on stdout")
    _common(chat)
    search = sub.add_parser("search", help="the ranked passages for a query (no language model)")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=10, help="how many passages (default 10)")
    search.add_argument("--json", action="store_true", help="last stdout line: the hits as JSON")
    search.add_argument("--store", type=Path, help="store folder (default: RAG_STORE_DIR)")
    search.add_argument("--collection", help="Chroma collection (default: RAG_COLLECTION)")
    _user(search)
    search.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub.add_parser("eval", help="retrieval and answer quality on an eval folder (see --help)",
                   add_help=False)
    sub.add_parser("serve", help="the HTTP API: OpenAI-compatible chat, documents (see --help)",
                   add_help=False)
    sub.add_parser("users", help="users, groups and API keys (see --help)", add_help=False)
    stats = sub.add_parser("stats", help="usage from the audit trail: questions per day, "
                           "latency, not-found rate, top documents, top unanswered questions")
    stats.add_argument("--days", type=int, help="only the last N days")
    stats.add_argument("--store", type=Path, help="store folder (default: RAG_STORE_DIR)")
    stats.add_argument("--json", action="store_true")
    doctor = sub.add_parser("doctor", help="what this machine can run: CPU, memory, disk, "
                            "models, OCR, the store; each problem with what to do")
    doctor.add_argument("--store", type=Path, help="store folder (default: RAG_STORE_DIR)")
    doctor.add_argument("--json", action="store_true",
                        help='last line {"ok", "checks": [{"name", "status", "detail", "fix", ...}]}')
    config = sub.add_parser("config", help="print the effective settings")
    config.add_argument("--json", action="store_true")
    return parser


def render_sources(answer: Answer) -> str:
    if not answer.found:
        return ""
    lines: list[str] = []
    if not answer.grounded:
        lines.append("Note: the model's own answer was withheld because its sources do not hold "
                     "it; the answer above quotes the documents.")
    if answer.evidence:
        lines.append("Evidence:")
        for ev in answer.evidence:
            where = f"{ev.source}, page {ev.page}" if ev.page else ev.source
            lines.append(f'  "{ev.text}" ({where}) [{ev.n}]')
    lines.append("Sources:")
    for c in answer.citations:
        where = (f"{c.source}, page {c.page}" if c.page else c.source) + (" (OCR)" if c.ocr else "")
        mark = "" if c.used else " (not cited)"
        lines.append(f"  [{c.n}] {where}{mark}: {c.snippet}")
    return "\n".join(lines)


def render_timings(answer: Answer) -> str:
    t = answer.timings
    return (f"(retrieval {t.retrieval_ms:.0f} ms, first token {t.ttft_ms or 0:.0f} ms, total "
            f"{t.total_ms / 1000:.1f} s, {t.prompt_tokens} prompt + {t.completion_tokens} answer tokens)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"top_k": args.top_k, "temperature": args.temperature, "max_tokens": args.max_tokens}


def _on_event(kind: str, data: dict[str, Any]) -> None:
    if kind == "queued":
        print(f"(queued: {data.get('position', 1)} ahead of you, waiting for the model)", file=sys.stderr)


def _ask_once(assistant: Any, question: str, history: list[Any], args: argparse.Namespace,
              quiet: bool = False) -> Answer:
    access = access_of(args.settings, args.user)  # rules and groups as they are now
    stream = assistant.stream(question, history, _on_event, access, **_overrides(args))
    for piece in stream:
        if not quiet:
            print(piece, end="", flush=True)
    answer = stream.answer
    assert answer is not None
    from rag.audit import answer_fields, record

    record(args.settings, "question", args.user, via="cli", question=question,
           question_chars=len(question), **answer_fields(answer))
    if quiet:
        return answer
    print()
    if stream.replaced:
        print("(the model's wording above was withdrawn: the sources do not hold it; the answer is "
              "the last paragraph)", file=sys.stderr)
    extra = render_sources(answer)
    if extra:
        print("\n" + extra)
    print(render_timings(answer), file=sys.stderr)
    return answer


def _search(settings: Any, args: argparse.Namespace) -> int:
    from rag import factories
    from rag.errors import ConfigError, StoreEmptyError
    from rag.sources import snippet

    if args.k < 1:
        raise ConfigError(f"--k must be at least 1, got {args.k}")
    retriever = factories.build_retriever(settings)
    if retriever.count() == 0:
        raise StoreEmptyError(settings.store_dir)
    hits = retriever.search(args.query, args.k,
                            hidden=retriever.hidden(access_of(settings, args.user)))
    relevant = {h.id for h in retriever.relevant(hits)}
    rows = [{"source": h.source, "page": h.page, "ocr": bool(h.metadata.get("ocr")),
             "chunk_id": h.id, "score": round(h.score, 4),
             "relevant": h.id in relevant, "text": h.text} for h in hits]
    if args.json:
        print(json.dumps({"query": args.query, "hits": rows}, ensure_ascii=False))
        return 0
    if not rows:
        print("no passage matches the query")
    for i, row in enumerate(rows, start=1):
        where = f"{row['source']}, page {row['page']}" if row["page"] else row["source"]
        mark = "" if row["relevant"] else " (below the relevance threshold)"
        print(f"[{i}] {where} score {row['score']:.3f}{mark}\n    {snippet(row['text'])}")
    return 0


def _stats(settings: Any, args: argparse.Namespace) -> int:
    from rag.audit import audit_path, stats

    found = stats(settings, args.days)
    if args.json:
        print(json.dumps(found.as_dict(), ensure_ascii=False))
        return 0
    print(f"audit trail: {audit_path(settings)}")
    print(f"questions: {found.questions} (not found: {found.not_found_rate:.0%}); answer time "
          f"p50 {found.answer_ms_p50 or 0:.0f} ms, p95 {found.answer_ms_p95 or 0:.0f} ms")
    print(f"sign-ins: {found.sign_ins} (failed: {found.failed_sign_ins}); uploads: "
          f"{found.uploads}; deletes: {found.deletes}")
    for day, n in found.per_day.items():
        print(f"  {day}: {n} questions")
    if found.top_documents:
        print("most cited documents:")
        for source, n in found.top_documents:
            print(f"  {n:4d}  {source}")
    if found.top_unanswered:
        print("most asked questions without an answer (what the knowledge base is missing):")
        for question, n in found.top_unanswered:
            print(f"  {n:4d}  {question}")
    return 0


def _doctor(settings: Any, args: argparse.Namespace) -> int:
    """Exit 0 when everything configured can run (warnings allowed), 1 when something cannot."""
    from rag.doctor import run_checks

    checks = run_checks(settings)
    ok = all(c.status != "fail" for c in checks)
    if args.json:
        print(json.dumps({"ok": ok, "checks": [c.as_json() for c in checks]}, ensure_ascii=False))
        return 0 if ok else 1
    for check in checks:
        print(f"{check.status.upper():4}  {check.name}: {check.detail}")
        if check.fix:
            print(f"      -> {check.fix}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "eval":
        from devtools.eval import main as eval_main

        return eval_main(argv[1:])
    if argv and argv[0] == "users":
        from rag.cli_users import main as users_main

        return users_main(argv[1:])
    if argv and argv[0] == "serve":  # the HTTP API is an edge beside this one
        from api.cli import main as serve_main

        return serve_main(argv[1:])
    args = build_parser().parse_args(argv)
    setup_logging()

    def body() -> int:
        from rag import factories

        overrides: dict[str, Any] = {}
        if getattr(args, "store", None):
            overrides["store_dir"] = args.store
        if getattr(args, "collection", None):
            overrides["collection"] = args.collection
        settings = load_settings(**overrides)
        args.settings = settings
        if args.command == "config":
            data = json.loads(settings.model_dump_json())
            for secret in ("llm_api_key", "api_keys"):  # never printed
                if data.get(secret):
                    data[secret] = "***"
            print(json.dumps(data, indent=None if args.json else 2, ensure_ascii=False))
            return 0
        if args.command == "search":
            return _search(settings, args)
        if args.command == "stats":
            return _stats(settings, args)
        if args.command == "doctor":
            return _doctor(settings, args)
        assistant = factories.build_assistant(settings)
        if args.command == "ask":
            answer = _ask_once(assistant, args.question, [], args)
            if args.json:
                print(json.dumps(answer.contract(), ensure_ascii=False))
            return 0
        from rag.prompts import Turn

        history: list[Turn] = []
        if args.json:  # a conversation from standard input, one JSON answer per line
            for line in sys.stdin:
                question = line.strip()
                if not question:
                    continue
                answer = _ask_once(assistant, question, history, args, quiet=True)
                print(json.dumps(answer.contract(), ensure_ascii=False), flush=True)
                history.append(Turn(question=question, answer=answer.answer))
            return 0
        print("Ask a question (an empty line or Ctrl-D ends).", file=sys.stderr)
        while True:
            try:
                question = input("> ").strip()
            except EOFError:
                break
            if not question or question.lower() in ("exit", "quit"):
                break
            answer = _ask_once(assistant, question, history, args)
            history.append(Turn(question=question, answer=answer.answer))
        return 0

    return run_main(body, debug=getattr(args, "debug", False))


if __name__ == "__main__":
    sys.exit(main())
