"""What a GGUF language model needs in memory, read from its metadata (vocabulary only, no
weights loaded): the seed articles' rule of thumb (parameters x bits / 8 x 1.2) next to what it
really takes (the file, the KV cache at the context size, compute buffers). For ``rag doctor``.
"""

from __future__ import annotations

import ctypes
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GB = 1024 ** 3
# Nominal bits per weight of GGUF file types (llama.cpp's LLAMA_FTYPE_*), for the rule of thumb
_BITS = {0: 32.0, 1: 16.0, 2: 4.5, 3: 5.0, 7: 8.5, 8: 5.5, 9: 6.0, 10: 2.6, 11: 3.4, 12: 3.9,
         13: 4.3, 14: 4.4, 15: 4.8, 16: 5.5, 17: 5.7, 18: 6.6, 32: 16.0}
# Measured here with both bundled models: resident memory after a 600-token prompt is the file,
# the KV cache and about a quarter of the file again (compute buffers, logits).
_COMPUTE_SHARE = 0.25


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
