"""``python -m rag eval`` on a tiny eval folder built here in the ``../shared/eval`` format
(real ingestion, real Chroma, real embedder); answer scoring with a stand-in assistant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools import eval as rag_eval
from devtools.eval_data import AnswerScores, EvalQuestion, EvalResult
from devtools.eval_scoring import score_answer
from rag.schemas import Answer, Citation, Evidence

EN_DOCS = {
    "leave.md": "# Leave policy\n\nFull-time employees get 25 vacation days per year.\n\n"
                "Parental leave is 16 weeks at full pay for the primary carer.\n",
    "travel.md": "# Travel policy\n\nHotels are capped at 180 euros a night. Trips under four "
                 "hours are made by train, not by plane.\n",
    "it.md": "# IT help\n\nForgotten passwords are reset at the self-service portal. Laptops are "
             "replaced every three years.\n",
}
EN_QUESTIONS = [
    ("q1", "How many vacation days do full-time employees get?", ["25"], "leave.md",
     "Full-time employees get 25 vacation days per year."),
    ("q2", "How long is parental leave?", ["16 weeks"], "leave.md",
     "Parental leave is 16 weeks at full pay for the primary carer."),
    ("q3", "What is the hotel cap per night?", ["180 euros"], "travel.md",
     "Hotels are capped at 180 euros a night. Trips under four hours are made by train, not by plane."),
    ("q4", "How often are laptops replaced?", ["every three years"], "it.md",
     "Forgotten passwords are reset at the self-service portal. Laptops are replaced every three years."),
]
ZH_DOCS = {
    "DEV_1.md": "# 年假制度\n\n正式员工每年享有十五天带薪年假，未休完的年假可以顺延到下一年的第一季度。\n",
    "DEV_2.md": "# 差旅报销\n\n员工出差的住宿标准为每晚五百元，报销单须在出差结束后三十天内提交。\n",
}
ZH_QUESTIONS = [
    ("z1", "正式员工每年有多少天带薪年假？", ["十五天"], "DEV_1.md",
     "正式员工每年享有十五天带薪年假，未休完的年假可以顺延到下一年的第一季度。"),
    ("z2", "出差住宿每晚的标准是多少？", ["五百元"], "DEV_2.md",
     "员工出差的住宿标准为每晚五百元，报销单须在出差结束后三十天内提交。"),
]


def make_eval_dir(root: Path) -> Path:
    for lang, docs, questions in (("en", EN_DOCS, EN_QUESTIONS), ("zh", ZH_DOCS, ZH_QUESTIONS)):
        folder = root / f"docs_{lang}"
        folder.mkdir(parents=True)
        for name, text in docs.items():
            (folder / name).write_text(text, encoding="utf-8")
        lines = [json.dumps({"id": i, "question": q, "answers": a, "doc": d, "context": c},
                            ensure_ascii=False) for i, q, a, d, c in questions]
        (root / f"questions_{lang}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture()
def eval_dir(tmp_path: Path) -> Path:
    return make_eval_dir(tmp_path / "eval")


def last_json(out: str) -> dict[str, Any]:
    return json.loads(out.strip().splitlines()[-1])


def test_cli_json_contract_both_languages(eval_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store_en"
    assert rag_eval.main([str(eval_dir), "--lang", "en", "--store", str(store), "--json"]) == 0
    data = last_json(capsys.readouterr().out)
    for block in (data["retriever"], data["baselines"]["bm25"], data["baselines"]["dense"]):
        assert set(block) >= {"recall@1", "recall@5", "recall@10", "mrr@10"}
        assert all(0.0 <= block[key] <= 1.0 for key in ("recall@1", "recall@5", "recall@10", "mrr@10"))
    assert data["questions"] == 4 and data["retriever"]["n"] == 4
    assert data["retriever"]["recall@5"] == 1.0
    assert data["ingest"]["chunks"] >= 3 and "answers" not in data
    assert data["embedder"]["languages"] == ["en"] and data["embedder"]["dense_vote_share"] == 1.0

    # --store is reused: the second run ingests nothing new.
    assert rag_eval.main([str(eval_dir), "--lang", "en", "--store", str(store), "--json", "--k", "3"]) == 0
    again = last_json(capsys.readouterr().out)
    assert again["ingest"]["chunks_written"] == 0 and again["ingest"]["reused"] is True
    assert "recall@3" in again["retriever"] and "mrr@3" in again["retriever"]

    # Chinese in a fresh temporary store (removed afterwards): dense has no vote.
    assert rag_eval.main([str(eval_dir), "--lang", "zh", "--json"]) == 0
    zh = last_json(capsys.readouterr().out)
    assert zh["retriever"]["recall@1"] == 1.0
    assert zh["retriever"] == zh["baselines"]["bm25"]
    # Chinese questions: the English MiniLM has no vote, the multilingual index does
    assert zh["embedder"]["dense_vote_share"] == 1.0
    assert zh["embedder"]["multilingual"] == "universal-sentence-encoder-multilingual-3"
    assert zh["store"]["temporary"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "--lang", "en"], "not found"),
        (["{eval}", "--lang", "zh"], "docs_zh"),
    ],
)
def test_usage_errors_exit_2_without_traceback(tmp_path: Path, args: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    only_en = tmp_path / "only_en"
    make_eval_dir(only_en)
    for leftover in (only_en / "docs_zh").iterdir():
        leftover.unlink()
    (only_en / "docs_zh").rmdir()
    argv = [a.format(missing=tmp_path / "nope", eval=only_en) for a in args]
    assert rag_eval.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert rag_eval.main(["somewhere", "--lang", "fr"]) == 2
    assert rag_eval.main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_malformed_question_file(eval_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (eval_dir / "questions_en.jsonl").write_text('{"question": "no answers"}\n', encoding="utf-8")
    assert rag_eval.main([str(eval_dir), "--lang", "en"]) == 2
    assert "line 1" in capsys.readouterr().err


# --- answer scoring ------------------------------------------------------------------------
def answer(text: str, cited: str, evidence: str, found: bool = True) -> Answer:
    citation = Citation(n=1, source="leave.md", chunk_id="c1", score=1.0, snippet=cited[:20],
                        text=cited, used=True)
    unused = Citation(n=2, source="it.md", chunk_id="c2", score=0.5, snippet="", text="16 weeks",
                      used=False)
    return Answer(answer=text, found=found, citations=[citation, unused],
                  evidence=[Evidence(text=evidence, source="leave.md", n=1)])


def test_score_answer_english() -> None:
    q = EvalQuestion(id="q2", question="How long is parental leave?", answers=["16 weeks"],
                     doc="leave.md", context="...")
    good = score_answer(answer("16 weeks [1]", "Parental leave is 16 weeks.",
                               "Parental leave is 16 weeks at full pay."), q, "en")
    assert good["exact_match"] == 0.0 and good["f1"] == pytest.approx(0.8)  # "[1]" is a token
    assert good["contains"] and good["citation_ok"] and good["evidence_ok"]
    bad = score_answer(answer("6 weeks", "Leave is 6 weeks.", "Leave is 6 weeks."), q, "en")
    assert not bad["contains"] and not bad["citation_ok"] and not bad["evidence_ok"]  # not in 16
    q6 = q.model_copy(update={"answers": ["6 weeks"]})
    assert not score_answer(answer("16 weeks", "16 weeks", "16 weeks"), q6, "en")["evidence_ok"]
    missing = score_answer(answer("not found", "x", "x", found=False), q, "en")
    assert missing["f1"] == 0.0 and not missing["found"]


def test_score_answer_chinese() -> None:
    q = EvalQuestion(id="z1", question="年假有多少天？", answers=["十五天"], doc="DEV_1.md",
                     context="...")
    scored = score_answer(answer("十五天", "正式员工每年享有十五天带薪年假。", "享有十五天带薪年假"),
                          q, "zh")
    assert scored["exact_match"] == 1.0 and scored["f1"] == 1.0
    assert scored["citation_ok"] and scored["evidence_ok"]


def test_answers_are_scored_with_the_configured_assistant(eval_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The answering path (model replaced by a stand-in that quotes the top hit)."""
    import rag.chain
    from rag import factories

    class Handle:
        name = "stand-in"

    class StandIn:
        def __init__(self, settings: Any, retriever: Any, llm: Any) -> None:
            self.retriever = retriever
            self.llm = llm

        def answer(self, question: str) -> Answer:
            hits = self.retriever.relevant(self.retriever.search(question, 1))
            if not hits:
                return Answer(question=question, answer="not found", found=False)
            hit = hits[0]
            return Answer(question=question, answer=hit.text, found=True,
                          citations=[Citation(n=1, source=hit.source, chunk_id=hit.id, score=hit.score,
                                              snippet=hit.text[:40], text=hit.text)],
                          evidence=[Evidence(text=hit.text, source=hit.source, n=1)])

    monkeypatch.setattr(factories, "build_llm", lambda settings: Handle())
    monkeypatch.setattr(rag.chain, "Assistant", StandIn)
    offtopic = tmp_path / "offtopic.jsonl"
    offtopic.write_text('{"question": "Who painted the Mona Lisa?"}\n'
                        '{"question": "What is the boiling point of mercury?"}\n', encoding="utf-8")
    code = rag_eval.main([str(eval_dir), "--lang", "en", "--store", str(tmp_path / "s"),
                          "--answers", "2", "--offtopic", str(offtopic), "--json"])
    assert code == 0
    data = last_json(capsys.readouterr().out)
    answers = data["answers"]
    assert answers["n"] == 2 and answers["model"] == "stand-in"
    assert answers["found"] == 1.0 and answers["unsupported"] == 0.0
    assert data["offtopic"] == {"n": 2, "not_found": 1.0, "model_calls": 0.0}
    assert answers["citation_accuracy"] == 1.0 and answers["evidence_accuracy"] == 1.0
    assert answers["contains"] == 1.0 and 0.0 < answers["f1"] < 1.0
    assert set(answers) >= {"exact_match", "f1", "citation_accuracy", "evidence_accuracy"}


# --- the report ------------------------------------------------------------------------------
def test_report_writes_markdown_for_both_languages(eval_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from devtools import eval_report

    out = tmp_path / "docs" / "eval.md"
    assert eval_report.main([str(eval_dir), "--out", str(out), "--answers", "0", "--sets",
                             "squad-en,cmrc-zh", "--no-sample", "--json"]) == 0
    data = last_json(capsys.readouterr().out)
    assert set(data["results"]) == {"squad-en", "cmrc-zh"} and data["machine"]["cores"] >= 1
    text = out.read_text(encoding="utf-8")
    assert "| SQuAD v1.1 (English) | 4 |" in text and "| CMRC 2018 (Chinese) | 2 |" in text
    assert "BM25 only" in text and "dense only" in text and "Targets" in text
    assert data["machine"]["cpu"] in text and data["date"][:10] in text
    assert eval_report.main([str(eval_dir), "--sets", "nope"]) == 2


def test_target_checks() -> None:
    from devtools.eval_report import SETS, check_targets

    def result(retriever: dict[str, float], contains: float, unsupported: float) -> EvalResult:
        answers = AnswerScores(n=10, exact_match=0, f1=0, contains=contains, found=1.0,
                                        unsupported=unsupported, citation_accuracy=1.0,
                                        evidence_accuracy=1.0, seconds_per_answer=1.0)
        return EvalResult(eval_dir="x", lang="zh", k=10, questions=1, retriever=retriever,
                                   baselines={"bm25": retriever, "dense": retriever}, answers=answers)

    cmrc = next(s for s in SETS if s.key == "cmrc-zh")
    scores = {"recall@1": 0.9, "recall@5": 0.993, "recall@10": 1.0, "mrr@10": 0.978}
    assert all(check_targets(cmrc, result(scores, 0.7, 0.0)).values())
    checks = check_targets(cmrc, result({**scores, "recall@5": 0.99}, 0.6, 0.1))
    assert not checks["recall@5 >= 0.993"] and checks["mrr@10 >= 0.978"]
    assert not checks["answers.contains >= 0.7"] and not checks["answers.unsupported <= 0.05"]
