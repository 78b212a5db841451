"""The settings module makes every process that imports it offline and telemetry-free, whatever
the environment says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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
