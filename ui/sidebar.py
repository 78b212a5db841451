"""The chat page's sidebar: the knowledge base at a glance, answer settings, the conversation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import streamlit as st

from rag.config import Settings
from rag.errors import RagError
from ui import render, resources
from ui.i18n import t

TURNS = "turns"  # session key of the conversation: [{"question", "answer" | "error"}]
# Answer settings live under these keys; app.py keeps them when another page is shown.
PERSISTENT_KEYS = ("gen_top_k", "gen_temperature", "gen_max_tokens")


@dataclass(frozen=True, slots=True)
class Generation:
    top_k: int
    temperature: float
    max_tokens: int

    def overrides(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "temperature": self.temperature, "max_tokens": self.max_tokens}


def when(timestamp: float | None) -> str:
    if not timestamp:
        return t("never")
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def knowledge_base(settings: Settings, stats: resources.StoreStats, llm_name: str | None) -> None:
    st.subheader(t("kb"))
    left, right = st.columns(2)
    left.metric(t("documents"), stats.documents)
    right.metric(t("chunks"), stats.chunks)
    try:
        embedder = resources.embedder_label(settings)
    except RagError as exc:
        embedder = str(exc)
    st.caption(
        f"{t('last_sync')}: **{when(stats.last_sync)}**  \n"
        f"{t('embedder')}: **{embedder}**  \n"
        f"{t('llm')}: **{llm_name or '—'}**"
    )


def generation(settings: Settings) -> Generation:
    st.subheader(t("generation"))
    top_k = st.slider(t("top_k"), 1, max(20, settings.top_k), settings.top_k, key="gen_top_k")
    temperature = st.slider(t("temperature"), 0.0, 2.0, float(settings.temperature), 0.05,
                            key="gen_temperature", help=t("temperature_help"))
    high = max(1024, settings.max_tokens)
    max_tokens = st.slider(t("max_tokens"), 16, high, min(max(settings.max_tokens, 16), high), 16,
                           key="gen_max_tokens")
    return Generation(top_k=int(top_k), temperature=float(temperature), max_tokens=int(max_tokens))


def _new_conversation() -> None:
    st.session_state[TURNS] = []


def conversation(settings: Settings) -> None:
    turns: list[dict[str, Any]] = st.session_state.get(TURNS, [])
    st.button(t("new_chat"), icon=":material/add_comment:", on_click=_new_conversation,
              disabled=not turns, width="stretch", key="new_chat")
    meta = render.export_meta(str(settings.store_dir))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    st.download_button(t("download_md"), render.conversation_markdown(turns, meta),
                       file_name=f"conversation-{stamp}.md", mime="text/markdown",
                       disabled=not turns, icon=":material/download:", width="stretch",
                       on_click="ignore", key="download_md")
    st.download_button(t("download_json"), render.conversation_json(turns, meta),
                       file_name=f"conversation-{stamp}.json", mime="application/json",
                       disabled=not turns, icon=":material/data_object:", width="stretch",
                       on_click="ignore", key="download_json")


def show(settings: Settings, stats: resources.StoreStats, llm_name: str | None) -> Generation:
    """The knowledge base and the answer settings (the conversation part comes last, once the
    page has answered, so its downloads hold the newest answer)."""
    with st.sidebar:
        knowledge_base(settings, stats, llm_name)
        return generation(settings)


def show_conversation(settings: Settings) -> None:
    with st.sidebar:
        st.divider()
        conversation(settings)
