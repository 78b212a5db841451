"""Bundled GGUF models: assembled once from their packages, atomically, hash-checked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rag import bundled_models
from rag.bundled_models import BUNDLED, DEFAULT_MODEL, BundledModel, assemble
from rag.config import load_settings
from rag.errors import ModelError
from tests.conftest import ROOT

GGUF_MAGIC = b"GGUF"


def test_the_default_is_the_instruction_tuned_model() -> None:
    assert DEFAULT_MODEL == "qwen2.5-coder-0.5b-instruct" == load_settings().bundled_model
    assert set(BUNDLED) == {"qwen2.5-coder-0.5b-instruct", "gemma-3-270m"}


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_each_bundled_model_assembles_to_its_published_hash(name: str) -> None:
    model = BUNDLED[name]
    path = assemble(name, ROOT / "data" / "models")  # the real packages, as make test uses them
    assert path.name == model.file_name and path.read_bytes()[:4] == GGUF_MAGIC
    if model.size:
        assert path.stat().st_size == model.size
    assert assemble(name, ROOT / "data" / "models") == path  # found and checked, not rebuilt


def fake_model(tmp_path: Path, parts: list[bytes], digest: str | None = None) -> BundledModel:
    """A model of tiny parts in a real package folder on sys.path (this test's only fake)."""
    package = tmp_path / "pkgs" / "tiny_model_parts"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for i, data in enumerate(parts):
        (package / "data" / f"part{i}.bin").write_bytes(data)
    whole = b"".join(parts)
    return BundledModel(name="tiny", label="Tiny", file_name="tiny.gguf",
                        sha256=digest or hashlib.sha256(whole).hexdigest(), size=len(whole),
                        parts=tuple(("tiny_model_parts", f"data/part{i}.bin") for i in range(len(parts))),
                        packages="tiny-model-parts")


@pytest.fixture()
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BundledModel:
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    model = fake_model(tmp_path, [b"GGUF", b"-part-two", b"-three"])
    monkeypatch.setitem(BUNDLED, "tiny", model)
    return model


def test_parts_are_joined_in_order_and_checked(tiny: BundledModel, tmp_path: Path) -> None:
    path = assemble("tiny", tmp_path / "models")
    assert path.read_bytes() == b"GGUF-part-two-three"
    assert not list((tmp_path / "models").glob("*.partial"))


def test_a_damaged_copy_is_rebuilt(tiny: BundledModel, tmp_path: Path) -> None:
    target = tmp_path / "models" / tiny.file_name
    target.parent.mkdir()
    target.write_bytes(b"GGUF-truncated")
    assert assemble("tiny", tmp_path / "models").read_bytes() == b"GGUF-part-two-three"


def test_parts_that_do_not_add_up_are_refused_and_leave_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setitem(BUNDLED, "tiny", fake_model(tmp_path, [b"GGUF", b"x"], digest="0" * 64))
    with pytest.raises(ModelError, match="reinstall"):
        assemble("tiny", tmp_path / "models")
    assert not list((tmp_path / "models").iterdir())


def test_a_missing_package_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = BundledModel(name="gone", label="Gone", file_name="gone.gguf", sha256="0" * 64, size=1,
                           parts=(("no_such_model_package_part1", "data/part01.bin"),),
                           packages="no-such-model-package")
    monkeypatch.setitem(BUNDLED, "gone", missing)
    with pytest.raises(ModelError, match="make install.*no-such-model-package.*RAG_MODEL_PATH"):
        assemble("gone", tmp_path)
    with pytest.raises(ModelError, match="RAG_BUNDLED_MODEL"):
        bundled_models.bundled_model("nonexistent")
