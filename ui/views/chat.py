"""The chat page: ask a question, watch the answer stream in, see its sources."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import streamlit as st

from rag.access import access_for
from rag.audit import answer_fields, record
from rag.config import Settings
from rag.errors import RagError
from rag.prompts import Turn
from ui import auth, render, resources, sidebar
from ui.i18n import t
from ui.sidebar import TURNS, Generation


def history(turns: list[dict[str, Any]]) -> list[Turn]:
    return [Turn(question=x["question"], answer=x["answer"]["answer"]) for x in turns if x.get("answer")]


def _close(pieces: Iterator[str] | None) -> None:
    close = getattr(pieces, "close", None)
    if close:
        close()  # releases the model if the run stopped mid-answer


def ask(settings: Settings, question: str, turns: list[dict[str, Any]], gen: Generation) -> dict[str, Any]:
    """Answer one question in the current chat message; returns the turn to remember."""
    notice = st.empty()

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "queued":
            notice.info(t("queued", n=data.get("position", 1)), icon=":material/hourglass_top:")
        elif kind == "started":
            notice.empty()

    turn: dict[str, Any] = {"question": question}
    pieces: Iterator[str] | None = None
    try:
        for attempt in range(2):
            try:
                user = auth.current_user(settings)
                if attempt == 0:
                    resources.rate_limit(settings).check(user.name if user else "")
                assistant = resources.assistant(settings, refresh=attempt > 0)
                access = access_for(settings, user)  # groups as of now
                stream = assistant.stream(question, history(turns), on_event, access,
                                          **gen.overrides())
                pieces = iter(stream)
                with st.spinner(t("thinking")):
                    first = next(pieces, "")
                break
            except RagError:
                raise
            except Exception as exc:  # noqa: BLE001 - a store changed under a stale client
                _close(pieces)
                if attempt:
                    turn["error"] = t("store_busy", error=f"{type(exc).__name__}: {exc}")
                    st.error(turn["error"])
                    return turn
        notice.empty()
        slot = st.empty()
        if stream.answer is not None and not stream.answer.found:
            with slot.container():
                render.not_found(stream.answer.answer)
        else:
            with slot.container():
                st.write_stream(render.inert_stream(itertools.chain([first], pieces or [])))
        answer = stream.answer
        if answer is None:
            raise RuntimeError("the answer stream ended without an answer")
        if stream.replaced:
            # The model's wording was withdrawn (its sources do not hold it): show what replaced
            # it, alone, so the unsupported text is not what the reader sees.
            with slot.container():
                if answer.found:
                    st.markdown(render.inert(answer.answer))
                else:
                    render.not_found(answer.answer)
        turn["answer"] = answer.model_dump()
        render.sources(turn["answer"])
        user = auth.current_user(settings)
        record(settings, "question", user.name if user else None, via="page", question=question,
               question_chars=len(question), **answer_fields(answer))
    except RagError as exc:
        turn["error"] = str(exc)
        st.error(turn["error"])
    except Exception as exc:  # noqa: BLE001 - the page shows a message, never a traceback
        turn["error"] = t("answer_failed", error=f"{type(exc).__name__}: {exc}")
        st.error(turn["error"])
    finally:
        _close(pieces)
    return turn


def main() -> None:
    settings = resources.settings_or_stop()
    stats = resources.store_stats(settings)
    llm_name: str | None = None
    model_problem: str | None = None
    try:
        with st.spinner(t("loading_model")):
            llm_name = resources.llm(settings).name
    except RagError as exc:
        model_problem = t("model_error", error=exc)
    gen = sidebar.show(settings, stats, llm_name)

    st.title(t("chat_title"))
    st.caption(t("chat_intro"))
    empty = stats.chunks == 0
    if empty:
        st.error(t("empty_store", store=settings.store_dir, docs=settings.docs_dir),
                 icon=":material/inventory_2:")
    if model_problem:
        st.error(model_problem, icon=":material/error:")

    turns: list[dict[str, Any]] = st.session_state.setdefault(TURNS, [])
    for turn in turns:
        with st.chat_message("user"):
            st.text(turn["question"])
        with st.chat_message("assistant"):
            render.assistant_turn(turn)

    question = st.chat_input(t("ask_placeholder"), disabled=empty or bool(model_problem),
                             submit_mode="stop", max_chars=2000, key="question")
    if question and question.strip():
        with st.chat_message("user"):
            st.text(question)
        with st.chat_message("assistant"):
            turn = ask(settings, question.strip(), turns, gen)
        turns.append(turn)
    sidebar.show_conversation(settings)


main()
