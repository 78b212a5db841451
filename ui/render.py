"""How an answer and its sources look, and the conversation as Markdown or JSON.

Document text and model output are shown as Markdown made inert: no images (a document or a
planted instruction must not make the browser fetch anything), no LaTeX from dollar amounts.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

import streamlit as st

from ui.i18n import t

_IMAGE = re.compile(r"!(?=\[)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)]|#+)\s+")


def inert(text: str) -> str:
    """Markdown that renders the text as written, minus images and math."""
    return _IMAGE.sub(r"\\!", text.replace("$", r"\$"))


def inert_stream(pieces: Iterable[str]) -> Iterator[str]:
    """:func:`inert` over streamed pieces (a ``!`` at the end of a piece waits for the next)."""
    carry = ""
    for piece in pieces:
        text = carry + piece
        carry = ""
        if text.endswith("!"):
            text, carry = text[:-1], "!"
        if text:
            yield inert(text)
    if carry:
        yield carry


def quote(text: str) -> str:
    """A quoted sentence, without the list bullet or heading mark it had in its document."""
    return _LIST_MARK.sub("", text.strip())


def where(source: str, page: int | None, ocr: bool = False) -> str:
    label = f"{source} · {t('page_n', n=page)}" if page else source
    return f"{label} · {t('ocr')}" if ocr else label


def not_found(text: str) -> None:
    """A "not found" answer: a distinct box, with what to try next."""
    st.warning(f"{inert(text)}\n\n{t('not_found_hint')}", icon=":material/search_off:")


def sources(answer: dict[str, Any]) -> None:
    """Under an answer: quoted evidence with file and page, each passage in an expander."""
    if not answer.get("found", True):
        return
    if not answer.get("grounded", True):
        st.caption(f":orange[{t('not_grounded')}]")
    if answer.get("cached"):
        st.caption(t("cached_answer"))
    citations = answer.get("citations") or []
    evidence = answer.get("evidence") or []
    used = [c for c in citations if c.get("used")] or citations[:1]
    if not used and not evidence:
        return
    st.markdown(f"**{t('sources')}**")
    quotes: dict[int | None, list[str]] = {}
    for ev in evidence:
        quotes.setdefault(ev.get("n"), []).append(ev["text"])
    shown = {c["n"] for c in used}
    for ev in evidence:  # evidence from a source the model did not cite is still shown
        if ev.get("n") not in shown:
            _quote(ev["text"], f"{where(ev['source'], ev.get('page'))}")
    for c in used:
        label = where(c["source"], c.get("page"), c.get("ocr", False))
        for text in quotes.get(c["n"], []):
            _quote(text, f"[{c['n']}] {label}")
        with st.expander(f"[{c['n']}] {label} — {t('passage')}"):
            st.text(c.get("text") or c.get("snippet", ""))
    others = [c for c in citations if c["n"] not in shown]
    if others:
        with st.expander(t("other_passages", n=len(others))):
            for c in others:
                st.markdown(f"**[{c['n']}] {inert(where(c['source'], c.get('page'), c.get('ocr', False)))}**")
                st.text(c.get("snippet", ""))


def _quote(text: str, attribution: str) -> None:
    label = inert(attribution).replace("[", "\\[").replace("]", "\\]")
    st.markdown(f"> {inert(quote(text))}\n>\n> :gray[— {label}]")


def assistant_turn(turn: dict[str, Any]) -> None:
    """A past answer as it was shown when it streamed."""
    if turn.get("error"):
        st.error(turn["error"])
        return
    answer = turn["answer"]
    if not answer.get("found", True):
        not_found(answer["answer"])
        return
    st.markdown(inert(answer["answer"]))
    sources(answer)


# --- export -----------------------------------------------------------------------------
def _contract(answer: dict[str, Any]) -> dict[str, Any]:
    keep = ("answer", "found", "grounded", "citations", "evidence", "timings", "cached")
    out = {k: answer[k] for k in keep if k in answer}
    out["citations"] = [{k: v for k, v in c.items() if k != "text"} for c in out.get("citations", [])]
    return out


def conversation_json(turns: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    items = []
    for turn in turns:
        item: dict[str, Any] = {"question": turn["question"]}
        if turn.get("answer"):
            item.update(_contract(turn["answer"]))
        if turn.get("error"):
            item["error"] = turn["error"]
        items.append(item)
    return json.dumps({**meta, "turns": items}, ensure_ascii=False, indent=2)


def conversation_markdown(turns: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [f"# {t('conversation')} — {meta.get('exported_at', '')}", ""]
    for i, turn in enumerate(turns, start=1):
        lines += [f"## {i}. {turn['question']}", ""]
        answer = turn.get("answer")
        if not answer:
            lines += [f"_{turn.get('error', '')}_", ""]
            continue
        lines += [answer["answer"], ""]
        if not answer.get("found", True):
            continue
        used = [c for c in answer.get("citations", []) if c.get("used")]
        if used or answer.get("evidence"):
            lines += [f"**{t('sources')}**", ""]
        for ev in answer.get("evidence", []):
            lines.append(f"> {ev['text']} — {where(ev['source'], ev.get('page'))}")
        if answer.get("evidence"):
            lines.append("")
        for c in used:
            lines.append(f"- [{c['n']}] {where(c['source'], c.get('page'))}: {c.get('snippet', '')}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def export_meta(store_dir: str) -> dict[str, Any]:
    return {"exported_at": time.strftime("%Y-%m-%d %H:%M"), "knowledge_base": store_dir}
