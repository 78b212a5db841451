"""An eval folder in the ``../shared/eval`` format, read and checked (``docs_<lang>/``,
``questions_<lang>.jsonl``, off-topic question files), and the typed results an eval run
reports (:class:`EvalResult`; its ``contract()`` is the ``--json`` line of ``rag eval``,
:func:`render` its plain-text table).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from rag.errors import ConfigError

LANGS = ("en", "zh")


class EvalQuestion(BaseModel):
    id: str
    question: str
    answers: list[str]
    doc: str
    context: str


class AnswerScores(BaseModel):
    """Answer quality over the first ``n`` questions (all shares in 0..1)."""

    n: int
    exact_match: float
    f1: float
    contains: float = Field(description="the answer contains a gold answer")
    found: float = Field(description="the assistant answered (did not say 'not found')")
    unsupported: float = Field(0.0, description="share of found answers whose model text the "
                               "sources did not hold (replaced by the quoted evidence)")
    citation_accuracy: float
    evidence_accuracy: float
    seconds_per_answer: float
    model: str = ""
    items: list[dict[str, Any]] = Field(default_factory=list)


class OfftopicScores(BaseModel):
    """Questions the eval folder cannot answer: the share answered "not found"."""

    n: int
    not_found: float
    model_calls: float = Field(0.0, description="share that reached the language model")
    items: list[dict[str, Any]] = Field(default_factory=list)


class EvalResult(BaseModel):
    """Everything one eval run measured. ``contract()`` is the ``--json`` line."""

    eval_dir: str
    lang: str
    k: int
    questions: int
    retriever: dict[str, float | int]
    baselines: dict[str, dict[str, float | int]]
    answers: AnswerScores | None = None
    offtopic: OfftopicScores | None = None
    latency_ms: dict[str, float] = Field(default_factory=dict)
    store: dict[str, Any] = Field(default_factory=dict)
    ingest: dict[str, Any] = Field(default_factory=dict)
    embedder: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0

    def contract(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"answers", "offtopic"})
        if self.answers is not None:
            data["answers"] = self.answers.model_dump(exclude={"items"})
        if self.offtopic is not None:
            data["offtopic"] = self.offtopic.model_dump(exclude={"items"})
        return data


def eval_paths(eval_dir: Path, lang: str) -> tuple[Path, Path]:
    """(docs folder, questions file) of one language, checked to exist."""
    if lang not in LANGS:
        raise ConfigError(f"unknown language {lang!r}: use one of {', '.join(LANGS)}")
    eval_dir = Path(eval_dir)
    if not eval_dir.is_dir():
        raise ConfigError(f"eval folder {eval_dir} not found: give a folder holding "
                          f"docs_{lang}/ and questions_{lang}.jsonl (e.g. ../shared/eval)")
    docs, questions = eval_dir / f"docs_{lang}", eval_dir / f"questions_{lang}.jsonl"
    if not docs.is_dir():
        raise ConfigError(f"{docs} not found: the eval folder must hold docs_{lang}/ (one document "
                          "per file)")
    if not questions.is_file():
        raise ConfigError(f"{questions} not found: the eval folder must hold "
                          f"questions_{lang}.jsonl")
    return docs, questions


def load_questions(path: Path) -> list[EvalQuestion]:
    """The questions of a ``questions_<lang>.jsonl`` file; a malformed line is a ConfigError."""
    out: list[EvalQuestion] = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                raw.setdefault("id", str(number))
                raw["id"] = str(raw["id"])
                out.append(EvalQuestion.model_validate(raw))
            except (ValueError, TypeError) as exc:
                first = str(exc).splitlines()[0]
                raise ConfigError(f"{path}, line {number}: not a question record ({first}); each "
                                  'line needs "question", "answers", "doc" and "context"') from None
    if not out:
        raise ConfigError(f"{path} holds no questions")
    return out


def load_offtopic(path: Path) -> list[str]:
    """The questions of an off-topic file: JSON lines with a "question" each."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"off-topic file {path} not found: give a JSON-lines file with a "
                          '"question" on each line')
    out: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                question = json.loads(line)["question"]
            except (ValueError, TypeError, KeyError):
                raise ConfigError(
                    f'{path}, line {number}: not a JSON object with a "question"') from None
            if not isinstance(question, str) or not question.strip():
                raise ConfigError(f"{path}, line {number}: the question is empty")
            out.append(question.strip())
    if not out:
        raise ConfigError(f"{path} holds no questions")
    return out


def render(result: EvalResult) -> str:
    """A plain-text table of one result."""
    lines = [f"eval {result.eval_dir} ({result.lang}): {result.questions} questions, "
             f"{result.ingest.get('chunks', 0)} chunks"]
    head = (f"{'':10s} {'recall@1':>9s} {'recall@5':>9s} {'recall@10':>10s} {'mrr@10':>8s} "
            f"{'ms/q':>7s}")
    lines.append(head)
    rows = [("retriever", result.retriever, "retriever")] + [
        (name, scores, name) for name, scores in result.baselines.items()]
    for label, s, key in rows:
        lines.append(f"{label:10s} {s['recall@1']:9.3f} {s['recall@5']:9.3f} "
                     f"{s['recall@10']:10.3f} "
                     f"{s['mrr@10']:8.3f} {result.latency_ms.get(key + '_mean', 0):7.1f}")
    if result.answers:
        a = result.answers
        metric = "CMRC" if result.lang == "zh" else "SQuAD"
        lines.append(f"answers ({a.n}, {a.model}): {metric} EM {a.exact_match:.3f}, F1 {a.f1:.3f}, "
                     f"contains {a.contains:.3f}, found {a.found:.3f}, "
                     f"unsupported {a.unsupported:.3f}, "
                     f"citation accuracy {a.citation_accuracy:.3f}, evidence accuracy "
                     f"{a.evidence_accuracy:.3f}, {a.seconds_per_answer:.1f} s/answer")
    if result.offtopic:
        o = result.offtopic
        lines.append(f"off-topic ({o.n}): not found {o.not_found:.3f}, "
                     f"reached the model {o.model_calls:.3f}")
    lines.append(f"ingestion {result.ingest.get('seconds', 0):.1f} s, total {result.seconds:.1f} s")
    return "\n".join(lines)
