"""``python -m rag doctor``: what this machine can run, and what to do about what it cannot.

Each check reads; nothing is written, downloaded or started. A check's status is ``ok``,
``warn`` (works, with less: no OCR, little disk) or ``fail`` (will not run as configured), and
every non-ok check says what to do.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rag.config import Settings
from rag.errors import RagError

Status = Literal["ok", "warn", "fail"]
GB = 1024 ** 3
# llama.cpp's name for a CPU feature -> /proc/cpuinfo's
_FEATURES = {"SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX2": "avx2", "F16C": "f16c",
             "FMA": "fma", "BMI2": "bmi2", "AVX_VNNI": "avx_vnni", "AVX512": "avx512f",
             "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni",
             "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8"}
# Nominal bits per weight of GGUF file types (llama.cpp's LLAMA_FTYPE_*), for the rule of thumb
_BITS = {0: 32.0, 1: 16.0, 2: 4.5, 3: 5.0, 7: 8.5, 8: 5.5, 9: 6.0, 10: 2.6, 11: 3.4, 12: 3.9,
         13: 4.3, 14: 4.4, 15: 4.8, 16: 5.5, 17: 5.7, 18: 6.6, 32: 16.0}
# Measured here with both bundled models: resident memory after a 600-token prompt is the file,
# the KV cache and about a quarter of the file again (compute buffers, logits).
_COMPUTE_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {**self.data, "name": self.name, "status": self.status, "detail": self.detail,
                "fix": self.fix}


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:(.*)$", text, re.M)
    return set(match.group(1).split()) if match else set()


def _meminfo() -> dict[str, int]:
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in lines)}


def check_cpu(settings: Settings) -> Check:
    cores = len(os.sched_getaffinity(0))
    try:
        import llama_cpp
    except ImportError as exc:
        return Check("cpu", "fail", f"{cores} cores; llama-cpp-python does not load: {exc}",
                     "run `make install` (or the offline bundle's install.sh) again")
    info = llama_cpp.llama_print_system_info().decode()
    built = sorted(k for k, v in re.findall(r"(\w+) = (\d)", info) if v == "1" and k in _FEATURES)
    flags = _cpu_flags()
    missing = [k for k in built if _FEATURES[k] not in flags] if flags else []
    threads = settings.n_threads or cores
    data = {"cores": cores, "llama_features": built, "threads": threads}
    detail = f"{cores} cores, the model uses {threads} threads; llama.cpp built with {' '.join(built)}"
    if missing:
        return Check("cpu", "fail", detail + f"; this CPU lacks {' '.join(missing)}",
                     "the language model would crash: reinstall llama-cpp-python built on this "
                     "machine (make install), or use a bundle built with LLAMA_BUILD=portable "
                     "or baseline (README: Installing without network)", data)
    return Check("cpu", "ok", detail, data=data)


def check_memory(settings: Settings, need: int) -> Check:
    info = _meminfo()
    available, total = info.get("MemAvailable", 0), info.get("MemTotal", 0)
    data = {"available_gb": round(available / GB, 2), "total_gb": round(total / GB, 2),
            "needed_gb": round(need / GB, 2)}
    detail = (f"{available / GB:.1f} GB free of {total / GB:.1f} GB; the models need about "
              f"{need / GB:.1f} GB")
    if available and available < need:
        return Check("memory", "fail", detail, "free memory, or choose a smaller model "
                     "(RAG_BUNDLED_MODEL=gemma-3-270m, a smaller RAG_N_CTX) or a model server "
                     "(RAG_LLM_BASE_URL)", data)
    return Check("memory", "ok", detail, data=data)


def check_disk(settings: Settings) -> Check:
    where = Path(settings.store_dir).resolve()
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    data = {"path": str(where), "free_gb": round(free / GB, 2)}
    detail = f"{free / GB:.1f} GB free for the store ({where})"
    if free < GB:
        return Check("disk", "warn", detail, "free disk space: the store needs about 3 KB per "
                     "chunk and room to grow", data)
    return Check("disk", "ok", detail, data=data)


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """llama.cpp writes to the C library's stderr buffer, which Python cannot catch."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _params(label: str | None, size: int, bits: float) -> float:
    match = re.fullmatch(r"([\d.]+)([MBK])", label or "")
    if match:
        return float(match.group(1)) * {"K": 1e3, "M": 1e6, "B": 1e9}[match.group(2)]
    return size * 8 / bits


def gguf_memory(path: Path, n_ctx: int) -> dict[str, Any]:
    """A GGUF's memory: the rule of thumb (parameters x bits / 8 x 1.2) and what it really
    takes (file, KV cache at ``n_ctx``, compute buffers), from its metadata (vocabulary only)."""
    from llama_cpp import Llama

    with _quiet_stderr():
        model = Llama(str(path), vocab_only=True, verbose=False)
        meta = dict(model.metadata)
        model.close()
    arch = meta.get("general.architecture", "")
    size = path.stat().st_size
    bits = _BITS.get(int(meta.get("general.file_type", -1)), size * 8 / 1e9)
    params = _params(meta.get("general.size_label"), size, bits)
    layers = int(meta.get(f"{arch}.block_count", 0))
    heads = int(meta.get(f"{arch}.attention.head_count", 1))
    kv_heads = int(meta.get(f"{arch}.attention.head_count_kv", heads))
    head_dim = int(meta.get(f"{arch}.embedding_length", 0)) // max(heads, 1)
    key = int(meta.get(f"{arch}.attention.key_length", head_dim))
    value = int(meta.get(f"{arch}.attention.value_length", head_dim))
    kv = layers * n_ctx * kv_heads * (key + value) * 2  # f16
    trained = int(meta.get(f"{arch}.context_length", 0))
    return {"file_gb": round(size / GB, 3), "parameters": int(params), "bits": bits,
            "rule_gb": round(params * bits / 8 * 1.2 / GB, 3), "kv_cache_gb": round(kv / GB, 3),
            "needed_gb": round((size * (1 + _COMPUTE_SHARE) + kv) / GB, 3),
            "context_trained": trained, "n_ctx": n_ctx, "model": meta.get("general.name", path.name)}


def check_language_model(settings: Settings) -> tuple[Check, int]:
    """The configured model and the memory it needs in this process (0 for a model server)."""
    if settings.llm_base_url:
        import openai

        from rag.llm_server import first_model

        base_url = str(settings.llm_base_url).rstrip("/")
        client = openai.OpenAI(base_url=base_url, api_key=settings.llm_api_key or "not-needed",
                               timeout=min(settings.llm_timeout_s, 5.0), max_retries=0)
        try:
            model = settings.llm_model or first_model(client, base_url, 5.0)
        except RagError as exc:
            return Check("language model", "fail", f"server {base_url}: {exc}",
                         "start the model server, or unset RAG_LLM_BASE_URL for the in-process "
                         "model"), 0
        return Check("language model", "ok", f"{model} on the server {base_url}",
                     data={"server": base_url, "model": model}), 0
    from rag.bundled_models import bundled_model

    if settings.model_path:
        path = Path(settings.model_path)
    else:
        model = bundled_model(settings.bundled_model)
        path = Path(settings.models_dir) / model.file_name
        if not path.is_file():
            try:
                model.part_paths()
            except RagError as exc:
                return Check("language model", "fail", str(exc), "see the message"), 0
            return Check("language model", "ok", f"{model.label}: assembled into {path} on first "
                         "use", data={"path": str(path)}), int(model.size * 1.4)
    if not path.is_file():
        return Check("language model", "fail", f"{path} does not exist",
                     "set RAG_MODEL_PATH to a GGUF file, or unset it for the bundled model"), 0
    mem = gguf_memory(path, settings.n_ctx)
    detail = (f"{mem['model']} ({path.name}): {mem['parameters'] / 1e9:.2f}B parameters x "
              f"{mem['bits']} bits / 8 x 1.2 = {mem['rule_gb']:.2f} GB by the rule of thumb; "
              f"really {mem['file_gb']:.2f} GB file + {mem['kv_cache_gb']:.2f} GB KV cache at "
              f"{settings.n_ctx} tokens + compute buffers = about {mem['needed_gb']:.2f} GB")
    data = {"path": str(path), **mem}
    if mem["context_trained"] and settings.n_ctx > mem["context_trained"]:
        return Check("language model", "warn", detail, f"RAG_N_CTX ({settings.n_ctx}) is above "
                     f"the {mem['context_trained']} tokens the model was trained on: lower it",
                     data), int(mem["needed_gb"] * GB)
    return Check("language model", "ok", detail, data=data), int(mem["needed_gb"] * GB)


def check_embedder(settings: Settings) -> tuple[Check, int]:
    from rag.embedder_export import ONNX_FILES, export_dir
    from rag.embedders import embedder_info, embedding_model_dir

    try:
        info = embedder_info(settings)
    except (RagError, OSError) as exc:
        return Check("embedder", "fail", str(exc), "set RAG_EMBEDDING_MODEL to a "
                     "sentence-transformers folder, or reinstall (make install)"), 0
    folder = embedding_model_dir(settings)
    weights = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    need = int(weights * 1.5) + 300 * 1024 ** 2  # the weights in memory, and PyTorch itself
    backend = settings.embedding_backend
    if backend != "torch":
        exported = export_dir(settings, folder, info.fingerprint) / ONNX_FILES[backend]
        backend += (" (exported)" if exported.is_file() else
                    " (exported from the model folder at first use, a few seconds, once)")
    return Check("embedder", "ok", f"{info.name} ({info.dimension}-d, {weights / 1024 ** 2:.0f} "
                 f"MB on disk; runs on {backend}; multilingual "
                 f"{'on' if settings.multilingual_embedding else 'off'})",
                 data={"model": info.name, "dimension": info.dimension,
                       "backend": settings.embedding_backend}), need


def check_ocr(settings: Settings) -> Check:
    wanted = [c for c in settings.ocr_languages.split("+") if c.strip()]
    hint = ("OCR of scanned PDFs and images needs it: `make ocr` (Debian: apt-get install "
            "tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim; offline: the bundle's "
            "install.sh); everything else works without it")
    if not wanted:
        return Check("ocr", "ok", "off (RAG_OCR_LANGUAGES is empty)")
    if shutil.which("tesseract") is None:
        return Check("ocr", "warn", "Tesseract is not installed", hint)
    listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True)
    have = set(listed.stdout.split()[1:] if listed.returncode == 0 else [])
    missing = [c for c in wanted if c not in have]
    data = {"languages": sorted(have & set(wanted))}
    if missing:
        return Check("ocr", "warn", f"Tesseract lacks {', '.join(missing)}",
                     f"install its language data (tesseract-ocr-{missing[0].replace('_', '-')}) "
                     "or change RAG_OCR_LANGUAGES", data)
    return Check("ocr", "ok", f"Tesseract with {', '.join(wanted)}", data=data)


def check_chromium(settings: Settings) -> Check:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Check("chromium", "ok", f"{found} (for the browser tests only)")
    return Check("chromium", "warn", "not installed (needed only by the browser tests)",
                 "`make chromium`; without it `make test` runs everything but the browser tests")


def check_store(settings: Settings) -> Check:
    import json

    from rag.embedders import embedder_info
    from rag.records import open_catalog
    from rag.store import check_embedder

    where = settings.chroma_host and f"{settings.chroma_host}:{settings.chroma_port}"
    where = where or str(settings.store_dir)
    try:
        catalog = open_catalog(settings)
    except RagError as exc:
        return Check("store", "fail", f"{where}: {exc}", "see the message")
    if catalog is None:
        return Check("store", "warn", f"{where}: empty", "run `make ingest` to add documents")
    try:
        files, chunks = len(catalog.files()), catalog.chunk_count()
        recorded = catalog.get_meta("embedder")
        store_format = catalog.get_meta("store_format")
    finally:
        catalog.close()
    built = json.loads(recorded) if recorded else {}
    data = {"documents": files, "chunks": chunks, "embedder": built.get("embedder"),
            "store_format": store_format}
    detail = f"{where}: {files} documents, {chunks} chunks, built by {built.get('embedder', '?')}"
    if built:
        try:
            check_embedder(built, embedder_info(settings), settings)
        except RagError as exc:
            return Check("store", "fail", detail, str(exc), data)
    return Check("store", "ok", detail, data=data)


def run_checks(settings: Settings) -> list[Check]:
    cpu = check_cpu(settings)
    model, model_need = check_language_model(settings)
    embedder, embedder_need = check_embedder(settings)
    return [cpu, check_memory(settings, model_need + embedder_need), check_disk(settings), model,
            embedder, check_ocr(settings), check_chromium(settings), check_store(settings)]
