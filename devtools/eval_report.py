"""``make eval``: every public eval set in both languages, answers included, and the off-topic
sets; writes ``docs/eval.md``.

    python -m devtools.eval_report EVAL_DIR [--out docs/eval.md] [--answers N (24)] [--sets ...]
                                       [--check] [--json]

The sets: ``EVAL_DIR`` (SQuAD / CMRC 2018) and ``EVAL_DIR/realistic`` (an employee handbook and
PRC laws, asked in an employee's words), each language ingested into a fresh temporary store with
the configured (default) models and scored by :func:`devtools.eval.run_eval`: the project's retriever
and the BM25-only and dense-only baselines, the first N answers, and, for the realistic sets and
the shipped sample corpus, this project's off-topic questions (``data/eval/offtopic_*.jsonl``,
none answerable from those documents). ``--check`` exits 1 when a target is missed; ``--json``
prints everything as one JSON object on the last stdout line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.eval import run_eval
from devtools.eval_data import EvalResult

ROOT = Path(__file__).resolve().parent.parent
OFFTOPIC_DIR = ROOT / "data" / "eval"
SAMPLE_DOCS = ROOT / "data" / "docs"
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10")
DEFAULT_ANSWERS = 24
LANG_NAMES = {"en": "English", "zh": "Chinese"}


@dataclass(frozen=True)
class EvalSet:
    key: str  # e.g. "squad-en"
    title: str
    subdir: str  # under EVAL_DIR ("" or "realistic")
    lang: str
    offtopic: str | None  # file name under data/eval
    targets: dict[str, float]  # metric -> floor; "answers.x" for answer scores


# Issue 8's targets (retrieval floors of SQuAD/CMRC: the numbers before it, not to be lowered).
SETS = [
    EvalSet("squad-en", "SQuAD v1.1 (English)", "", "en", None,
            {"recall@5": 0.975, "mrr@10": 0.892, "answers.contains": 0.85}),
    EvalSet("cmrc-zh", "CMRC 2018 (Chinese)", "", "zh", None,
            {"recall@5": 0.993, "mrr@10": 0.978, "answers.contains": 0.70}),
    EvalSet("realistic-en", "Realistic: 18F handbook (English)", "realistic", "en",
            "offtopic_realistic_en.jsonl",
            {"recall@5": 0.97, "mrr@10": 0.90, "answers.contains": 0.85,
             "answers.evidence_accuracy": 0.90, "answers.found": 0.95, "offtopic.not_found": 1.0}),
    EvalSet("realistic-zh", "Realistic: PRC laws (Chinese)", "realistic", "zh",
            "offtopic_realistic_zh.jsonl",
            {"recall@5": 0.95, "mrr@10": 0.85, "answers.contains": 0.75,
             "answers.evidence_accuracy": 0.85, "answers.found": 0.95, "offtopic.not_found": 1.0}),
]
UNSUPPORTED_MAX = 0.05


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, Python and OS of this machine, and its load."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 0
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        load = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = None
    return {"cores": cores, "cpu": cpu, "memory_gb": memory, "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()}", "load_average": load}


def value(result: EvalResult, metric: str) -> float | None:
    """A metric of a result: "recall@5", "answers.contains", "offtopic.not_found"."""
    if metric.startswith("answers."):
        return None if result.answers is None else float(getattr(result.answers, metric[8:]))
    if metric.startswith("offtopic."):
        return None if result.offtopic is None else float(getattr(result.offtopic, metric[9:]))
    return float(result.retriever[metric])


def check_targets(spec: EvalSet, result: EvalResult) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    for metric, floor in spec.targets.items():
        got = value(result, metric)
        if got is not None:
            # Compared as reported (3 decimals): the floors are earlier results, rounded.
            checks[f"{metric} >= {floor}"] = round(got, 3) >= floor
    if result.answers is not None:
        checks[f"answers.unsupported <= {UNSUPPORTED_MAX}"] = result.answers.unsupported <= UNSUPPORTED_MAX
    return checks


def _f(v: Any) -> str:
    return "–" if v is None else f"{float(v):.3f}"


def render_markdown(rows: list[tuple[EvalSet, EvalResult]], sample: dict[str, Any],
                    info: dict[str, Any], eval_dir: str, when: dt.datetime, model: str) -> str:
    first = rows[0][1]
    lines = [
        "# Evaluation",
        "",
        f"Generated by `make eval` (`python -m devtools.eval_report {eval_dir}`) on {when:%Y-%m-%d %H:%M} UTC.",
        "",
        f"- Machine: {info['cores']} cores, {info['cpu']}"
        + (f", {info['memory_gb']} GB RAM" if info.get("memory_gb") else "")
        + f"; {info['os']}; Python {info['python']}; no GPU; load average {info.get('load_average')} "
        "when the run started.",
        f"- Embedding model: {first.embedder.get('name')} ({first.embedder.get('dimension')}-d); "
        f"language model: {model}; default settings (chunks of {first.settings.get('chunk_size')} "
        f"tokens, {first.settings.get('candidates')} candidates per retriever).",
        "- Each set is ingested into a fresh store. A question counts as found at rank r when the "
        "r-th chunk comes from its gold document and overlaps its gold paragraph. *contains*: the "
        "answer contains a gold answer string; *evidence*: the first quoted evidence sentence does; "
        "*found*: the answerable question was not answered \"not found\"; *unsupported*: share of "
        "found answers whose model text the sources did not hold (replaced by the quoted "
        "evidence); *off-topic*: share of this project's unanswerable questions "
        "(`data/eval/offtopic_*.jsonl`) answered \"not found\", and the share that reached the model.",
        "",
        "## Retrieval",
        "",
        "| set | questions | chunks | ranking | recall@1 | recall@5 | recall@10 | MRR@10 | ms/q |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for spec, r in rows:
        for i, (label, scores, key) in enumerate([("**retriever**", r.retriever, "retriever"),
                                                  ("BM25 only", r.baselines["bm25"], "bm25"),
                                                  ("dense only", r.baselines["dense"], "dense")]):
            lead = f"{spec.title} | {r.questions} | {r.ingest.get('chunks', '')}" if i == 0 else " | | "
            lines.append(f"| {lead} | {label} | " + " | ".join(_f(scores[m]) for m in METRICS)
                         + f" | {r.latency_ms.get(key + '_mean', 0):.0f} |")
    lines += ["", "## Answers", "",
              "| set | answers | contains | evidence | found | unsupported | citation | F1 | s/answer | off-topic not found | off-topic to model |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for spec, r in rows:
        a, o = r.answers, r.offtopic
        if a is None:
            continue
        lines.append(f"| {spec.title} | {a.n} | {_f(a.contains)} | {_f(a.evidence_accuracy)} | "
                     f"{_f(a.found)} | {_f(a.unsupported)} | {_f(a.citation_accuracy)} | {_f(a.f1)} | "
                     f"{a.seconds_per_answer:.1f} | {_f(o.not_found if o else None)} | "
                     f"{_f(o.model_calls if o else None)} |")
    for lang, s in sample.items():
        lines.append(f"| Sample corpus off-topic ({LANG_NAMES[lang]}) | – | – | – | – | – | – | – | – | "
                     f"{_f(s['not_found'])} | {_f(s['model_calls'])} |")
    lines += ["", "## Targets (issue 8)", ""]
    all_met = True
    for spec, r in rows:
        checks = check_targets(spec, r)
        all_met &= all(checks.values())
        lines.append(f"- {spec.title}: " + ", ".join(
            f"{name} " + ("met" if ok else f"**missed** ({_f(value(r, name.split(' ')[0]))})")
            for name, ok in checks.items()) + ".")
    for lang, s in sample.items():
        ok = s["not_found"] >= 1.0
        all_met &= ok
        lines.append(f"- Sample corpus off-topic ({LANG_NAMES[lang]}): not found for all "
                     f"{'met' if ok else '**missed** (' + _f(s['not_found']) + ')'}.")
    lines += ["", f"All targets met: {'yes' if all_met else '**no**'}.", ""]
    return "\n".join(lines)


def sample_offtopic(settings: Any, lang: str, say: Any) -> dict[str, Any]:
    """The sample corpus's off-topic questions of one language, over a fresh store of it."""
    import shutil
    import tempfile

    from devtools.eval import ask_offtopic
    from devtools.eval_data import load_offtopic
    from ingest.sync import run_sync
    from rag import factories
    from rag.chain import Assistant

    store = Path(tempfile.mkdtemp(prefix="rag-eval-sample-"))
    try:
        local = settings.model_copy(update={"store_dir": store})
        run_sync([SAMPLE_DOCS], local)
        assistant = Assistant(local, factories.build_retriever(local), factories.build_llm(local))
        scores = ask_offtopic(assistant, load_offtopic(OFFTOPIC_DIR / f"offtopic_sample_{lang}.jsonl"), say)
        return scores.model_dump()
    finally:
        factories.reset_chroma_cache()
        shutil.rmtree(store, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.eval_report",
                                     description="Eval every public set and write docs/eval.md.")
    parser.add_argument("eval_dir", type=Path, help="eval folder, e.g. ../shared/eval")
    parser.add_argument("--out", type=Path, default=Path("docs/eval.md"), help="Markdown file to write")
    parser.add_argument("--sets", default=",".join(s.key for s in SETS),
                        help="sets, comma-separated (default: all)")
    parser.add_argument("--answers", type=int, default=DEFAULT_ANSWERS, metavar="N",
                        help=f"answer the first N questions per set (default {DEFAULT_ANSWERS})")
    parser.add_argument("--no-sample", action="store_true", help="skip the sample corpus off-topic sets")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json", action="store_true", help="last stdout line: all results as JSON")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    from rag.cli_common import USAGE_ERROR, run_main, setup_logging
    from rag.config import load_settings
    from rag.errors import ConfigError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else USAGE_ERROR
    setup_logging()

    def body() -> int:
        wanted = [k.strip() for k in args.sets.split(",") if k.strip()]
        known = {s.key: s for s in SETS}
        unknown = [k for k in wanted if k not in known]
        if unknown or not wanted:
            raise ConfigError(f"unknown set(s) {', '.join(unknown) or '(none)'}: use {', '.join(known)}")
        settings = load_settings()

        def say(message: str) -> None:
            print(message, file=sys.stderr, flush=True)

        when = dt.datetime.now(dt.timezone.utc)
        info = machine()
        rows: list[tuple[EvalSet, EvalResult]] = []
        for key in wanted:
            spec = known[key]
            say(f"== {spec.title} ==")
            offtopic = OFFTOPIC_DIR / spec.offtopic if spec.offtopic else None
            rows.append((spec, run_eval(args.eval_dir / spec.subdir, spec.lang, answers=args.answers,
                                        settings=settings, progress=say, offtopic=offtopic)))
        sample = {} if args.no_sample else {
            lang: sample_offtopic(settings, lang, say) for lang in ("en", "zh")}
        model = next((r.answers.model for _, r in rows if r.answers is not None), settings.bundled_model)
        text = render_markdown(rows, sample, info, str(args.eval_dir), when, model)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        met = {spec.key: check_targets(spec, r) for spec, r in rows}
        for spec, r in rows:
            a = r.answers
            print(f"{spec.key}: recall@5 {r.retriever['recall@5']:.3f}, MRR@10 {r.retriever['mrr@10']:.3f}"
                  + (f"; contains {a.contains:.3f}, evidence {a.evidence_accuracy:.3f}, found "
                     f"{a.found:.3f}, unsupported {a.unsupported:.3f}" if a else "")
                  + (f"; off-topic not found {r.offtopic.not_found:.3f}" if r.offtopic else ""))
        for lang, s in sample.items():
            print(f"sample-{lang}: off-topic not found {s['not_found']:.3f}")
        print(f"wrote {args.out}")
        all_met = all(all(c.values()) for c in met.values()) and all(
            s["not_found"] >= 1.0 for s in sample.values())
        if args.json:
            print(json.dumps({"machine": info, "date": when.isoformat(), "targets_met": all_met,
                              "results": {spec.key: r.contract() for spec, r in rows},
                              "sample_offtopic": {k: {x: v[x] for x in ("n", "not_found", "model_calls")}
                                                  for k, v in sample.items()}},
                             ensure_ascii=False))
        return 1 if args.check and not all_met else 0

    return run_main(body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
