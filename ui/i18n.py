"""Labels of the chat page in English and Chinese, and the language switch."""

from __future__ import annotations

from typing import Any

import streamlit as st

LANGUAGES = {"en": "English", "zh": "中文"}
_KEY = "lang"

LABELS: dict[str, dict[str, str]] = {
    "app_title": {"en": "Knowledge base", "zh": "知识库"},
    "page_chat": {"en": "Ask", "zh": "提问"},
    "page_documents": {"en": "Documents", "zh": "文档"},
    "language": {"en": "Language", "zh": "语言"},
    "page_admin": {"en": "Usage", "zh": "使用统计"},
    "sign_in": {"en": "Sign in", "zh": "登录"},
    "sign_out": {"en": "Sign out", "zh": "退出登录"},
    "user_name": {"en": "User name", "zh": "用户名"},
    "password": {"en": "Password", "zh": "密码"},
    "password_again": {"en": "Password again", "zh": "再次输入密码"},
    "wrong_sign_in": {"en": "Wrong user name or password.", "zh": "用户名或密码错误。"},
    "create_admin": {"en": "Create the administrator account", "zh": "创建管理员账户"},
    "create_admin_intro": {"en": "No account exists yet. The first one manages users and sees "
                                 "every document (or run `python -m rag users add NAME --admin`).",
                           "zh": "尚无账户。第一个账户为管理员，可管理用户并查看所有文档"
                                 "（也可运行 `python -m rag users add NAME --admin`）。"},
    "passwords_differ": {"en": "The two passwords differ.", "zh": "两次输入的密码不一致。"},
    "signed_in_as": {"en": "Signed in as {name}", "zh": "当前用户：{name}"},
    "share_with": {"en": "Who may see the uploads (groups)", "zh": "可查看上传文件的组"},
    "share_with_admin": {"en": "Groups that may see the uploads (comma-separated; empty: the "
                               "access rules decide)",
                         "zh": "可查看上传文件的组（用逗号分隔；留空则按访问规则）"},
    "chat_title": {"en": "Ask the knowledge base", "zh": "向知识库提问"},
    "chat_intro": {"en": "Answers come only from the company documents, with their sources.",
                   "zh": "回答只来自公司文档，并附上出处。"},
    "ask_placeholder": {"en": "Ask a question about our documents…",
                        "zh": "请输入关于公司文档的问题…"},
    "thinking": {"en": "Searching the documents…", "zh": "正在检索文档…"},
    "queued": {"en": "Queued: the model is answering someone else ({n} ahead of you). "
                     "Your question starts as soon as it is free.",
               "zh": "排队中：模型正在回答其他人的问题（您前面还有 {n} 个）。空闲后立即开始。"},
    "loading_model": {"en": "Loading the language model (first use only)…",
                      "zh": "正在加载语言模型（仅首次）…"},
    "not_found_hint": {"en": "Try other words, or add the document that answers it on the "
                             "Documents page.",
                       "zh": "请换个说法，或在“文档”页面添加包含答案的文档。"},
    "not_grounded": {"en": "The model's own answer was withheld: its sources do not hold it. The "
                           "passage above is quoted from the documents.",
                     "zh": "模型的回答与出处不符，已被撤回；上面引用的是文档原文。"},
    "cached_answer": {"en": "Answered from the cache: this question was asked before, and "
                            "the documents have not changed since.",
                      "zh": "此回答来自缓存：这个问题之前被问过，且文档之后没有变化。"},
    "sources": {"en": "Sources", "zh": "出处"},
    "page_n": {"en": "page {n}", "zh": "第 {n} 页"},
    "ocr": {"en": "read by OCR", "zh": "OCR 识别"},
    "passage": {"en": "passage", "zh": "段落"},
    "other_passages": {"en": "{n} more passages retrieved, not cited",
                       "zh": "另有 {n} 个检索到但未引用的段落"},
    "answer_failed": {"en": "The answer failed: {error}", "zh": "回答失败：{error}"},
    "store_busy": {"en": "The knowledge base is being updated (a `make ingest` or an upload is "
                         "running): ask again in a moment. ({error})",
                   "zh": "知识库正在更新（`make ingest` 或上传正在进行）：请稍后再问。（{error}）"},
    "empty_store": {"en": "The knowledge base at `{store}` is empty. Run `make ingest` (documents "
                          "in `{docs}`), or add files on the Documents page.",
                    "zh": "知识库 `{store}` 是空的。请运行 `make ingest`（文档位于 `{docs}`），"
                          "或在“文档”页面上传文件。"},
    "settings_error": {"en": "The settings are invalid: {error}", "zh": "设置无效：{error}"},
    "model_error": {"en": "The language model cannot be loaded: {error}",
                    "zh": "无法加载语言模型：{error}"},
    # sidebar
    "kb": {"en": "Knowledge base", "zh": "知识库"},
    "documents": {"en": "Documents", "zh": "文档"},
    "chunks": {"en": "Chunks", "zh": "文本块"},
    "last_sync": {"en": "Last sync", "zh": "上次同步"},
    "never": {"en": "never", "zh": "从未"},
    "embedder": {"en": "Embedding model", "zh": "向量模型"},
    "llm": {"en": "Language model", "zh": "语言模型"},
    "generation": {"en": "Answer settings", "zh": "回答设置"},
    "top_k": {"en": "Sources per answer (top-k)", "zh": "每个回答的出处数 (top-k)"},
    "temperature": {"en": "Temperature", "zh": "温度"},
    "temperature_help": {"en": "0 gives the most faithful answers.", "zh": "0 时回答最忠实于原文。"},
    "max_tokens": {"en": "Maximum answer length (tokens)", "zh": "回答最大长度（token）"},
    "new_chat": {"en": "New conversation", "zh": "新对话"},
    "download_md": {"en": "Download (Markdown)", "zh": "下载（Markdown）"},
    "download_json": {"en": "Download (JSON)", "zh": "下载（JSON）"},
    "conversation": {"en": "Conversation", "zh": "对话"},
    # documents page
    "docs_title": {"en": "Documents", "zh": "文档"},
    "docs_intro": {"en": "What the knowledge base holds. Files added here are saved in `{folder}` "
                         "and ingested like `make ingest` does.",
                   "zh": "知识库中的内容。此处添加的文件保存在 `{folder}`，并按 `make ingest` 的方式导入。"},
    "upload": {"en": "Add documents", "zh": "添加文档"},
    "upload_label": {"en": "Files", "zh": "文件"},
    "upload_button": {"en": "Add to the knowledge base", "zh": "添加到知识库"},
    "upload_none": {"en": "Choose at least one file first.", "zh": "请先选择文件。"},
    "ingesting": {"en": "Ingesting: {done} of {total} files, {chunks} chunks · {chunk_rate} chunks/s, "
                        "{file_rate} files/s · {left}",
                  "zh": "正在导入：{done}/{total} 个文件，{chunks} 个文本块 · 每秒 {chunk_rate} 个文本块、"
                        "{file_rate} 个文件 · {left}"},
    "time_left": {"en": "about {time} left", "zh": "预计还需 {time}"},
    "time_left_unknown": {"en": "estimating the time left", "zh": "正在估算剩余时间"},
    "last_chunks": {"en": "writing the last chunks", "zh": "正在写入最后的文本块"},
    "ingested": {"en": "Processed {done} of {total} files, {chunks} chunks written in {time} "
                       "({chunk_rate} chunks/s, {file_rate} files/s)",
                 "zh": "已处理 {done}/{total} 个文件，写入 {chunks} 个文本块，用时 {time}"
                       "（每秒 {chunk_rate} 个文本块、{file_rate} 个文件）"},
    "upload_ok": {"en": "Added: {files}", "zh": "已添加：{files}"},
    "upload_failed": {"en": "Not added: {file}: {error}", "zh": "未添加：{file}：{error}"},
    "doc_list": {"en": "In the knowledge base", "zh": "知识库中的文档"},
    "no_docs": {"en": "No documents yet.", "zh": "还没有文档。"},
    "col_file": {"en": "File", "zh": "文件"},
    "col_pages": {"en": "Pages", "zh": "页数"},
    "col_chunks": {"en": "Chunks", "zh": "文本块"},
    "col_size": {"en": "Size (KB)", "zh": "大小 (KB)"},
    "col_ingested": {"en": "Ingested at", "zh": "导入时间"},
    "delete": {"en": "Delete a document", "zh": "删除文档"},
    "delete_pick": {"en": "Document", "zh": "文档"},
    "delete_button": {"en": "Delete…", "zh": "删除…"},
    "delete_confirm": {"en": "Delete `{source}` from the knowledge base{and_file}?",
                       "zh": "从知识库删除 `{source}`{and_file}？"},
    "delete_and_file": {"en": " and its file in the docs folder", "zh": "以及文档文件夹中的文件"},
    "delete_outside": {"en": " (its file lies outside the docs folder and is kept: ingesting that "
                             "folder again brings it back)",
                       "zh": "（其文件不在文档文件夹中，将保留：再次导入该文件夹会重新加入）"},
    "delete_yes": {"en": "Yes, delete", "zh": "确认删除"},
    "cancel": {"en": "Cancel", "zh": "取消"},
    "deleted": {"en": "Deleted `{source}`.", "zh": "已删除 `{source}`。"},
    "delete_missing": {"en": "`{source}` is no longer in the knowledge base.",
                       "zh": "`{source}` 已不在知识库中。"},
    "failures": {"en": "Files that could not be ingested ({n})", "zh": "无法导入的文件（{n}）"},
}


def detect_language() -> str:
    """The browser's language if Streamlit exposes it and it is Chinese, else English."""
    try:
        locale = st.context.locale
    except Exception:  # noqa: BLE001 - older Streamlit or no browser (tests)
        locale = None
    return "zh" if isinstance(locale, str) and locale.lower().startswith("zh") else "en"


def init_language(configured: str = "auto") -> None:
    """Set the session's language once: the setting ``ui_language`` if not 'auto', else the
    browser's."""
    if _KEY not in st.session_state:
        st.session_state[_KEY] = configured if configured in LANGUAGES else detect_language()


def current() -> str:
    value = st.session_state.get(_KEY, "en")
    return value if value in LANGUAGES else "en"


def t(key: str, **values: Any) -> str:
    """The label ``key`` in the session's language, formatted with ``values``."""
    labels = LABELS[key]
    text = labels.get(current()) or labels["en"]
    return text.format(**values) if values else text


def language_switch() -> None:
    """A language selector in the sidebar; the choice is kept for the session."""
    widget = "_lang_widget"

    def changed() -> None:
        value = st.session_state.get(widget)
        if value in LANGUAGES:
            st.session_state[_KEY] = value
        else:  # a segmented control can be deselected: keep the current language selected
            st.session_state[widget] = current()

    st.sidebar.segmented_control(
        t("language"), options=list(LANGUAGES), format_func=LANGUAGES.__getitem__,
        default=current(), key=widget, selection_mode="single", on_change=changed,
        label_visibility="collapsed",
    )
