"""``python -m rag doctor``: what this machine can run, and what to do about what it cannot.

Each check reads; nothing is written, downloaded or started. A check's status is ``ok``,
``warn`` (works, with less: no OCR, little disk) or ``fail`` (will not run as configured), and
every non-ok check says what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rag.config import Settings
from rag.errors import RagError
from rag.model_memory import GB, gguf_memory

Status = Literal["ok", "warn", "fail"]
# llama.cpp's name for a CPU feature -> /proc/cpuinfo's
_FEATURES = {"SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX2": "avx2", "F16C": "f16c",
             "FMA": "fma", "BMI2": "bmi2", "AVX_VNNI": "avx_vnni", "AVX512": "avx512f",
             "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni",
             "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8"}


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

    from rag.catalog_refresh import open_catalog
    from rag.embedders import embedder_info
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
