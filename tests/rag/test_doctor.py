"""`python -m rag doctor`: the real machine, the real models and store; the failures it must
name (a CPU without the build's features, too little memory, a missing model or server) with
this machine's readings replaced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.sync import run_sync
from rag import doctor
from rag.bundled_models import GEMMA, QWEN, assemble
from rag.config import load_settings
from rag.model_memory import gguf_memory
from tests.conftest import ROOT
from tests.servers import free_port


def _doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "rag", "doctor", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_this_machine_runs_everything_and_says_so(docs: Path, store: Path) -> None:
    (docs / "policy.md").write_text("# Leave\n\nFull-time staff get 25 vacation days a year.\n")
    run_sync([], load_settings(docs_dir=docs, store_dir=store))
    proc = _doctor("--store", str(store), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] and list(checks) == ["cpu", "memory", "disk", "language model",
                                             "embedder", "ocr", "chromium", "store"]
    assert checks["cpu"]["cores"] >= 1 and "AVX2" in checks["cpu"]["llama_features"]
    model = checks["language model"]
    assert model["file_gb"] == pytest.approx(QWEN.size / 1024 ** 3, abs=0.001)
    # the rule of thumb (0.5B x 4.8 bits / 8 x 1.2) is set beside the file and its KV cache
    assert model["rule_gb"] == pytest.approx(0.5e9 * 4.8 / 8 * 1.2 / 1024 ** 3, rel=0.01)
    assert model["file_gb"] < model["needed_gb"] < 2 * model["file_gb"] and model["kv_cache_gb"] > 0
    assert checks["store"]["documents"] == 1 and checks["store"]["embedder"]
    text = _doctor("--store", str(store))
    assert text.returncode == 0 and "OK    store:" in text.stdout


def test_a_cpu_without_the_builds_features_fails_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "_cpu_flags", lambda: {"fpu", "sse4_2", "pni", "ssse3"})
    check = doctor.check_cpu(load_settings())
    assert check.status == "fail" and "AVX2" in check.detail and "LLAMA_BUILD=portable" in check.fix


def test_too_little_memory_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "_meminfo", lambda: {"MemAvailable": 2 ** 29, "MemTotal": 2 ** 30})
    check = doctor.check_memory(load_settings(), need=2 ** 30)
    assert check.status == "fail" and "gemma-3-270m" in check.fix


def test_no_tesseract_is_a_warning_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    check = doctor.check_ocr(load_settings())
    assert check.status == "warn" and "make ocr" in check.fix


def test_a_missing_model_or_server_fails_the_run(tmp_path: Path) -> None:
    proc = _doctor(env={"RAG_MODEL_PATH": str(tmp_path / "nope.gguf")})
    assert proc.returncode == 1 and "FAIL  language model" in proc.stdout and "RAG_MODEL_PATH" in proc.stdout
    down = f"http://127.0.0.1:{free_port()}/v1"
    proc = _doctor("--json", env={"RAG_LLM_BASE_URL": down})
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    model = next(c for c in report["checks"] if c["name"] == "language model")
    assert proc.returncode == 1 and not report["ok"] and model["status"] == "fail"
    assert "start the model server" in model["fix"]


def test_the_gemma_file_reads_too() -> None:
    path = assemble(GEMMA.name, ROOT / "data" / "models")  # placed once, as the product does
    mem = gguf_memory(path, 4096)
    assert mem["parameters"] == 270_000_000 and mem["kv_cache_gb"] > 0
    assert mem["needed_gb"] > mem["file_gb"] > 0.2
