"""The embedding model as ONNX for ONNX Runtime, made on this machine from the local
sentence-transformers folder (no download): sentence-transformers exports it through Optimum,
and its ``export_dynamic_quantized_onnx_model`` makes the int8 copy (dynamic quantisation:
weights int8 per channel, activations quantised on the fly; no calibration data).

The export is made once, at first use (or when ``make bundle`` builds the offline bundle, which
ships it), into ``RAG_MODELS_DIR/embedders/<model>-<fingerprint>/`` and reused by every process. It is built in
a temporary folder and renamed into place, so a crash or a second process never leaves half a
model. ``RAG_EMBEDDING_BACKEND=torch`` keeps the original PyTorch path.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

from rag.config import Settings
from rag.errors import ConfigError

log = logging.getLogger(__name__)
_lock = threading.Lock()

ONNX_FILES = {"onnx": "onnx/model.onnx", "onnx-int8": "onnx/model_qint8.onnx"}


def export_dir(settings: Settings, model_dir: Path, fingerprint: str) -> Path:
    """Where the ONNX copies of this model (this exact config: ``fingerprint``) are kept."""
    name = model_dir.name if model_dir.name != "model" else model_dir.parent.name
    return Path(settings.models_dir).expanduser().resolve() / "embedders" / f"{name}-{fingerprint}"


def onnx_model(settings: Settings, model_dir: Path, fingerprint: str) -> tuple[Path, str]:
    """The folder and file name of the ONNX model for ``settings.embedding_backend``, exported
    first if this machine does not have it yet."""
    target = export_dir(settings, model_dir, fingerprint)
    file_name = ONNX_FILES[settings.embedding_backend]
    with _lock:
        if not (target / file_name).is_file():
            _export(model_dir, target)
    return target, file_name


def _export(model_dir: Path, target: Path) -> None:
    try:
        from optimum.onnxruntime import AutoQuantizationConfig
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.backend import export_dynamic_quantized_onnx_model
    except ImportError:
        raise ConfigError(
            "the ONNX embedder needs optimum-onnx: run `make install`, or set "
            "RAG_EMBEDDING_BACKEND=torch"
        ) from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as exc:
        raise ConfigError(
            f"cannot write the ONNX embedder under {target.parent} ({exc}): make RAG_MODELS_DIR "
            "writable, or set RAG_EMBEDDING_BACKEND=torch"
        ) from None
    log.warning("exporting the embedding model to ONNX in %s (once per machine)", target)
    quiet = logging.getLogger("sentence_transformers")
    level = quiet.level
    try:
        # It warns that it exports (we know) and the tracer warns about constants (harmless).
        quiet.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SentenceTransformer(str(model_dir), backend="onnx", device="cpu",
                                        local_files_only=True)
        model.save(str(work))  # the tokenizer, pooling and onnx/model.onnx
        # Signed int8 weights per channel without reduced range (the AVX-512 VNNI recipe's
        # format, which ONNX Runtime runs on any x86-64 or ARM CPU): on the eval sets it
        # costs no recall; the AVX2 recipe (uint8, 7-bit) is slower and less exact here.
        config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True)
        export_dynamic_quantized_onnx_model(model, config, str(work), file_suffix="qint8")
        if (work / "onnx" / "model.onnx").is_file() and (work / "onnx" / "model_qint8.onnx").is_file():
            if target.exists() and not (target / ONNX_FILES["onnx-int8"]).is_file():
                shutil.rmtree(target, ignore_errors=True)  # an older, incomplete copy
            try:
                os.replace(work, target)
            except OSError:  # another process finished first: keep its copy
                if not (target / ONNX_FILES["onnx-int8"]).is_file():
                    raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(
            f"could not export the embedding model at {model_dir} to ONNX ({exc}): set "
            "RAG_EMBEDDING_BACKEND=torch to use it as it is"
        ) from None
    finally:
        quiet.setLevel(level)
        shutil.rmtree(work, ignore_errors=True)
