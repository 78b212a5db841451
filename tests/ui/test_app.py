"""The chat page through Streamlit's AppTest, with the real model and embedder."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from rag.catalog import Catalog
from tests.conftest import ROOT, SHARED_EVAL
from tests.ui.conftest import ADMIN, APP, EN_QUESTION, KB, TIMEOUT

BROKEN_PDF = SHARED_EVAL / "pdfs" / "libreoffice-writer-password.pdf"


def start(page: str | None = None) -> AppTest:
    """The app on its default page (chat), or on ``page`` straight away (the chat page loads
    the model; the documents page does not)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["signed_in_user"] = ADMIN  # signed in (the sign-in form: test_auth.py)
    at.session_state["signed_in_at"] = time.time()
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> None:
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception, at.exception


def texts(element: object) -> str:
    """Everything a chat message shows, as one string."""
    parts: list[str] = []
    for kind in ("markdown", "text", "warning", "error", "caption", "info"):
        parts += [str(e.value) for e in getattr(element, kind)]
    parts += [e.label for e in element.expander]  # type: ignore[attr-defined]
    return "\n".join(parts)


@pytest.mark.slow
def test_ask_shows_the_answer_and_its_sources_then_a_new_conversation(kb: KB) -> None:
    at = start()
    assert not at.error, [e.value for e in at.error]
    sidebar = "\n".join(m.value for m in at.sidebar.caption)
    assert "minilm" in sidebar.lower() and "Qwen" in sidebar  # embedding model, LLM
    documents, chunks = (m.value for m in at.sidebar.metric)
    assert documents == "3" and int(chunks) >= 3

    ask(at, EN_QUESTION)
    user, assistant = at.chat_message
    assert user.name == "user" and EN_QUESTION in texts(user)
    shown = texts(assistant)
    assert assistant.markdown[0].value.strip()  # the answer text
    assert "en/handbook.md" in shown  # a source: file ...
    assert "25 vacation days" in shown  # ... and the quoted evidence
    assert any("handbook.md" in e.label for e in assistant.expander)
    assert not assistant.error

    # A follow-up keeps the conversation; "new conversation" clears it.
    at.button(key="new_chat").click().run()
    assert len(at.chat_message) == 0
    assert at.button(key="new_chat").disabled


@pytest.mark.slow
def test_a_question_waiting_for_the_model_is_shown_as_queued(
    kb: KB, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.delta_generator import DeltaGenerator

    from rag.config import load_settings
    from ui import resources

    shown: list[str] = []
    info = DeltaGenerator.info

    def spy(self: DeltaGenerator, body: Any, *args: Any, **kwargs: Any) -> Any:
        shown.append(str(body))
        return info(self, body, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "info", spy)
    at = start()
    model = resources.llm(load_settings())  # the page's model (one per process)
    model.lock.acquire()  # another session is using the model ...
    threading.Timer(3.0, model.lock.release).start()  # ... for three more seconds
    ask(at, EN_QUESTION)
    assert any(s.startswith("Queued: the model is answering someone else") for s in shown), shown
    turn = at.session_state["turns"][-1]
    assert turn["answer"]["timings"]["queued_ms"] >= 1000
    assert "en/handbook.md" in texts(at.chat_message[-1])
    assert not any("Queued" in str(i.value) for i in at.info)  # gone once the answer starts


@pytest.mark.slow
def test_a_repeated_question_says_it_came_from_the_cache(kb: KB, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.config import get_settings

    monkeypatch.setenv("RAG_ANSWER_CACHE_SIZE", "100")
    get_settings.cache_clear()
    at = start()
    ask(at, EN_QUESTION)
    at.button(key="new_chat").click().run()  # the same question again, standing alone
    ask(at, EN_QUESTION)
    answer = at.session_state["turns"][-1]["answer"]
    assert answer["cached"] and "from the cache" in texts(at.chat_message[-1])
    assert "25 vacation days" in texts(at.chat_message[-1])  # the same evidence as before


@pytest.mark.slow
def test_a_question_the_documents_do_not_answer_looks_different(kb: KB) -> None:
    at = start()
    ask(at, "Wie heißt der Hund des Bürgermeisters von Reykjavík im Jahr 1850?")
    assistant = at.chat_message[-1]
    if assistant.warning:  # nothing relevant retrieved: the "not found" box
        assert "could not find" in assistant.warning[0].value
        assert not assistant.expander
    else:  # something was retrieved after all; it must still be a cited answer
        assert assistant.expander


@pytest.mark.slow
def test_follow_ups_keep_the_subject_and_a_new_question_stands_alone(kb: KB) -> None:
    at = start()
    ask(at, EN_QUESTION)
    ask(at, "And for part-time staff?")
    follow_up = at.session_state["turns"][-1]["answer"]
    assert follow_up["found"] and follow_up["follow_up"]
    assert "pro rata" in texts(at.chat_message[-1])  # the quoted evidence of the follow-up
    ask(at, "What is the capital of France?")
    unrelated = at.session_state["turns"][-1]["answer"]
    assert not unrelated["found"] and not unrelated["follow_up"] and unrelated["citations"] == []
    assert "could not find" in at.chat_message[-1].warning[0].value


@pytest.mark.slow
def test_an_empty_store_says_to_run_make_ingest(empty_kb: KB) -> None:
    at = start()
    messages = [e.value for e in at.error]
    assert any("is empty" in m and "make ingest" in m for m in messages), messages
    assert at.chat_input(key="question").disabled
    assert not at.exception


@pytest.mark.slow
def test_a_missing_model_is_an_error_with_what_to_do(kb: KB, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("RAG_MODEL_PATH", str(tmp_path / "missing.gguf"))
    at = start()
    messages = [e.value for e in at.error]
    assert any("missing.gguf not found" in m and "RAG_MODEL_PATH" in m for m in messages), messages
    assert at.chat_input(key="question").disabled


def test_upload_a_good_file_and_a_broken_pdf_then_delete(kb_copy: KB) -> None:
    at = start("views/documents.py")
    assert "en/handbook.md" in at.dataframe[0].value.iloc[:, 0].tolist()
    note = b"# Canteen\n\nThe canteen serves lunch from 11:30 to 14:00 on weekdays.\n"
    at.file_uploader(key="upload_files").set_value([
        ("../../canteen.md", note, "text/markdown"),
        (BROKEN_PDF.name, BROKEN_PDF.read_bytes(), "application/pdf"),
    ])
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    assert any("uploads/canteen.md" in s.value for s in at.success), [s.value for s in at.success]
    captions = [c.value for c in at.caption]  # the progress bar ends as what was done
    assert any(re.fullmatch(r"Processed 2 of 2 files, [1-9]\d* chunks written in \d+s "
                            r"\([\d.]+ chunks/s, [\d.]+ files/s\)", c) for c in captions), captions
    errors = [e.value for e in at.error]
    assert any(BROKEN_PDF.name in e and "encrypted:" in e for e in errors), errors
    uploads = kb_copy.docs / "uploads"
    assert (uploads / "canteen.md").read_bytes() == note
    assert not (uploads / BROKEN_PDF.name).exists()  # a failed upload is not left behind
    assert not (kb_copy.docs.parent / "canteen.md").exists()
    assert "uploads/canteen.md" in at.dataframe[0].value.iloc[:, 0].tolist()

    at.selectbox(key="delete_pick").set_value("uploads/canteen.md").run()
    at.button(key="delete_ask").click().run()
    assert "uploads/canteen.md" in at.warning[0].value
    at.button(key="delete_yes").click().run()
    assert any("Deleted" in s.value for s in at.success)
    assert not (uploads / "canteen.md").exists()
    assert "uploads/canteen.md" not in at.dataframe[0].value.iloc[:, 0].tolist()


@pytest.mark.slow
def test_documents_ingested_by_another_process_are_answered_without_a_restart(kb_copy: KB) -> None:
    at = start()
    question = "How many zebra fish live in the office aquarium?"
    ask(at, question)  # the page now holds a Chroma client on the store
    assert "aquarium.md" not in texts(at.chat_message[-1])

    extra = kb_copy.docs / "facilities"
    extra.mkdir()
    (extra / "aquarium.md").write_text(
        "# Aquarium\n\nThe office aquarium holds seventeen zebra fish, fed every morning at "
        "nine by the facilities team.\n", encoding="utf-8")
    done = subprocess.run(  # `make ingest` in another process, while the page runs
        [sys.executable, "-m", "ingest", str(extra), "--store", str(kb_copy.store), "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    catalog = Catalog.open_readonly(kb_copy.store)
    assert catalog is not None and "aquarium.md" in catalog.files()
    catalog.close()

    ask(at, question)
    answer = texts(at.chat_message[-1])
    assert "aquarium.md" in answer and "seventeen zebra fish" in answer, answer


@pytest.mark.slow
def test_labels_switch_to_chinese(kb: KB) -> None:
    at = start()
    assert at.title[0].value == "Ask the knowledge base"
    at.button_group(key="_lang_widget").set_value("zh").run()
    assert at.title[0].value == "向知识库提问"
    assert at.button(key="new_chat").label == "新对话"
