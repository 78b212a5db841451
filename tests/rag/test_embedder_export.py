"""The embedder's ONNX int8 export: made locally from the real model folder, reused, close to
the PyTorch model's vectors, and refused with a clear message where it cannot be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import factories
from rag.config import load_settings
from rag.embedder_export import ONNX_FILES, export_dir, onnx_model
from rag.errors import ConfigError

TEXTS = [
    "Employees accrue 25 days of paid vacation per calendar year.",
    "Travel expenses must be submitted within 30 days with receipts.",
    "员工每年享有二十五天带薪年假。",
    "The Apollo program landed twelve astronauts on the Moon between 1969 and 1972.",
]


def test_the_int8_export_is_made_once_from_the_local_folder_and_agrees_with_pytorch(
        tmp_path: Path) -> None:
    settings = load_settings(models_dir=tmp_path / "models")
    model_dir = factories.embedding_model_dir(settings)
    fingerprint = factories.embedder_info(settings).fingerprint
    folder, file_name = onnx_model(settings, model_dir, fingerprint)
    assert folder == export_dir(settings, model_dir, fingerprint)
    assert (folder / file_name).is_file() and (folder / ONNX_FILES["onnx"]).is_file()
    assert (folder / "tokenizer.json").is_file()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no work folders left
    stamp = (folder / file_name).stat().st_mtime_ns
    assert onnx_model(settings, model_dir, fingerprint) == (folder, file_name)
    assert (folder / file_name).stat().st_mtime_ns == stamp  # reused, not exported again

    int8 = factories.build_embeddings(settings)
    torch = factories.build_embeddings(load_settings(embedding_backend="torch"))
    assert int8 is not torch
    a, b = int8.embed_documents(TEXTS), torch.embed_documents(TEXTS)
    cosines = [sum(x * y for x, y in zip(u, v, strict=True)) for u, v in zip(a, b, strict=True)]
    assert min(cosines) > 0.97, cosines  # quantised, yet the same model
    assert max(cosines) < 0.99999  # and really the int8 copy, not PyTorch again
    # the two backends rank the same passage first for a question
    q8, qt = int8.embed_query("How many vacation days do I get?"), torch.embed_query(
        "How many vacation days do I get?")
    best8 = max(range(len(TEXTS)), key=lambda i: sum(x * y for x, y in zip(q8, a[i], strict=True)))
    bestt = max(range(len(TEXTS)), key=lambda i: sum(x * y for x, y in zip(qt, b[i], strict=True)))
    assert best8 == bestt == 0


def test_an_incomplete_export_is_replaced(tmp_path: Path) -> None:
    settings = load_settings(models_dir=tmp_path / "models", embedding_backend="onnx")
    model_dir = factories.embedding_model_dir(settings)
    fingerprint = factories.embedder_info(settings).fingerprint
    target = export_dir(settings, model_dir, fingerprint)
    (target / "onnx").mkdir(parents=True)
    (target / "leftover.txt").write_text("from an interrupted run")
    folder, file_name = onnx_model(settings, model_dir, fingerprint)
    assert (folder / file_name).is_file() and not (folder / "leftover.txt").exists()


def test_an_unwritable_models_folder_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "models"
    blocker.write_text("a file where the folder should be")
    settings = load_settings(models_dir=blocker)
    with pytest.raises(ConfigError, match="RAG_EMBEDDING_BACKEND=torch"):
        factories.build_embeddings(settings)
