"""The settings module makes every process that imports it offline and telemetry-free, whatever
the environment says; its one settings object reads ``RAG_*`` variables and overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import Settings, load_settings
from rag.errors import ConfigError


def _run(code: str, home: Path) -> None:
    # A user's plain shell: ONNX Runtime skips telemetry where it sees a CI system (CI,
    # GITHUB_ACTIONS, JENKINS_URL, ...), so none of this process's environment is passed on.
    env = {"PATH": os.environ["PATH"], "HOME": str(home),
           "ORT_DISABLE_TELEMETRY": "0"}  # and one asking for telemetry
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120,
                   cwd=Path(__file__).resolve().parents[2])


def test_onnx_runtime_keeps_no_telemetry_once_the_settings_module_is_loaded(
        tmp_path: Path) -> None:
    # ONNX Runtime 1.31 on Linux starts its telemetry at import: a device id and an event
    # database under ~/.cache/Microsoft, then uploads to mobile.events.data.microsoft.com.
    bare, product = tmp_path / "bare", tmp_path / "product"
    bare.mkdir(), product.mkdir()
    _run("import onnxruntime", bare)
    assert (bare / ".cache" / "Microsoft").is_dir(), "ONNX Runtime no longer starts telemetry?"
    _run("import rag.config, onnxruntime", product)
    assert list(product.rglob("*")) == []


def test_an_empty_variable_means_not_set_for_text_and_paths_alike(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAG_LLM_BASE_URL", "RAG_API_KEYS", "RAG_MODEL_PATH", "RAG_ACCESS_FILE"):
        monkeypatch.setenv(name, "  ")
    monkeypatch.setenv("RAG_USERS_DB", "")
    settings = Settings(_env_file=None)
    assert settings.llm_base_url is None and settings.api_key_list() == []
    assert settings.model_path is None and settings.access_file is None
    assert settings.users_db is None
    monkeypatch.setenv("RAG_MODEL_PATH", "models/x.gguf")
    assert Settings(_env_file=None).model_path == Path("models/x.gguf")


def test_overrides_go_on_top_and_a_bad_value_names_the_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "7")
    assert load_settings().top_k == 7
    assert load_settings(top_k=3, store_dir=None).top_k == 3  # None: not given
    monkeypatch.setenv("RAG_CHUNK_SIZE", "not a number")
    with pytest.raises(ConfigError, match="RAG_CHUNK_SIZE"):
        load_settings()
    monkeypatch.setenv("RAG_CHUNK_SIZE", "40")
    with pytest.raises(ConfigError, match="chunk_overlap"):
        load_settings(chunk_overlap=40)
