"""Narrow checks of the API's error paths in process (FastAPI's TestClient): an unexpected
error is a JSON 500 without a traceback, and it is logged once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.state import Service
from rag.config import load_settings


def test_an_unexpected_error_is_json_without_traceback(store: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Service, who: object) -> list[dict[str, object]]:
        raise RuntimeError("disk on fire /secret/path")

    monkeypatch.setattr(Service, "documents", broken)
    client = TestClient(create_app(load_settings(store_dir=store, api_keys="k")),
                        raise_server_exceptions=False)
    response = client.get("/v1/documents", headers={"Authorization": "Bearer k"})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error" and "RuntimeError" in error["message"]
    assert "Traceback" not in response.text and "/secret/path" not in response.text
    logged = [json.loads(line) for line in (store / "audit.jsonl").read_text().splitlines()]
    assert [(r["path"], r["status"]) for r in logged] == [("/v1/documents", 500)]


def test_unknown_paths_and_methods_are_json(store: Path) -> None:
    client = TestClient(create_app(load_settings(store_dir=store, api_keys="k")))
    missing = client.get("/v1/nothing", headers={"Authorization": "Bearer k"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = client.put("/v1/models", headers={"Authorization": "Bearer k"})
    assert wrong.status_code == 405 and wrong.json()["error"]["message"]


def test_serve_needs_a_key_from_the_settings_or_a_user(store: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    from rag.users import Users

    taken = socket.socket()  # a port in use: the server stops there, after the key check
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    env = {k: v for k, v in os.environ.items() if k != "RAG_API_KEYS"}
    command = [sys.executable, "-m", "rag", "serve", "--store", str(store), "--port",
               str(taken.getsockname()[1])]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                             check=False)
    assert refused.returncode == 2 and "no API keys" in refused.stderr
    users = Users(load_settings(store_dir=store))
    users.add("svc")
    users.close()
    started = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                             check=False)
    taken.close()
    assert "no API keys" not in started.stderr and "HTTP API on" in started.stderr
