"""Access control through the HTTP API: per-user keys, canary documents that must never reach
a user outside their groups (answers, sources, evidence, stream frames, document lists), uploads
for the uploader's groups, and group changes that take effect on the next request."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.sync import run_sync
from rag.config import load_settings
from rag.users import Users
from tests.rag.test_access import CANARIES, RULES
from tests.servers import rag_serve

pytestmark = pytest.mark.slow
HIDDEN_FROM_CAROL = {s: m for s, (m, _) in CANARIES.items() if not s.startswith("public/")}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("api-access")
    docs, store = root / "docs", root / "store"
    for source, (_, text) in CANARIES.items():
        (docs / source).parent.mkdir(parents=True, exist_ok=True)
        (docs / source).write_text(text)
    (root / "access.yaml").write_text(RULES)
    settings = load_settings(docs_dir=docs, store_dir=store, access_file=root / "access.yaml")
    run_sync([], settings)
    users = Users(settings)
    keys = {name: users.add(name, groups=groups)[1]
            for name, groups in (("alice", ["hr"]), ("carol", []))}
    users.close()
    env = {**os.environ, "RAG_API_KEYS": "operator-key", "RAG_DOCS_DIR": str(docs),
           "RAG_ACCESS_FILE": str(root / "access.yaml")}
    with rag_serve(store, root / "serve.log", env) as url:
        yield {"url": url, "store": str(store), "docs": str(docs), **keys}


def _ask(api: dict[str, str], who: str, question: str, stream: bool) -> str:
    """The raw response body (every byte a client could read)."""
    response = httpx.post(f"{api['url']}/v1/chat/completions", timeout=300,
                          headers={"Authorization": f"Bearer {api[who]}"},
                          json={"messages": [{"role": "user", "content": question}],
                                "stream": stream, "temperature": 0})
    assert response.status_code == 200, response.text
    return response.text


def _documents(api: dict[str, str], who: str) -> set[str]:
    response = httpx.get(f"{api['url']}/v1/documents", headers={"Authorization": f"Bearer {api[who]}"})
    return {d["id"] for d in response.json()["data"]}


def test_canaries_never_reach_a_user_outside_their_groups(api: dict[str, str]) -> None:
    for source, marker in HIDDEN_FROM_CAROL.items():
        for stream in (False, True):
            body = _ask(api, "carol", f"What is {marker}?", stream)
            assert marker not in body and source not in body, body
    assert _documents(api, "carol") == {"public/handbook.md"}
    body = json.loads(_ask(api, "alice", "Which band is zebracanary?", False))
    assert body["sources"][0]["source"] == "hr/salaries.md"
    assert "board/minutes.md" not in _documents(api, "alice")


def test_uploads_are_for_the_uploaders_groups(api: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {api['alice']}"}
    note = ("bonus.md", b"# Bonus\n\nThe wombatcanary bonus is paid in June.\n", "text/markdown")
    wider = httpx.post(f"{api['url']}/v1/documents", headers=headers, files=[("files", note)],
                       data={"groups": "board"}, timeout=300)
    assert wider.status_code == 403 and "own groups" in wider.json()["error"]["message"]
    added = httpx.post(f"{api['url']}/v1/documents", headers=headers, files=[("files", note)],
                       timeout=300)
    assert added.json()["added"] == ["uploads/alice/bonus.md"]
    assert "uploads/alice/bonus.md" in _documents(api, "alice")
    assert "uploads/alice/bonus.md" not in _documents(api, "carol")
    body = _ask(api, "carol", "When is the wombatcanary bonus paid?", True)
    assert "wombatcanary" not in body and "bonus.md" not in body
    carol = {"Authorization": f"Bearer {api['carol']}"}
    refused = httpx.delete(f"{api['url']}/v1/documents/uploads/alice/bonus.md", headers=carol)
    assert refused.status_code == 404  # not hers, and not even confirmed to exist
    assert httpx.delete(f"{api['url']}/v1/documents/hr/salaries.md", headers=headers).status_code == 404
    gone = httpx.delete(f"{api['url']}/v1/documents/uploads/alice/bonus.md", headers=headers)
    assert gone.status_code == 200


def test_a_group_change_and_a_revoked_key_apply_to_the_next_request(api: dict[str, str]) -> None:
    settings = load_settings(store_dir=Path(api["store"]))
    users = Users(settings)
    try:
        users.add("dave", groups=["hr"])
        key = users.new_key("dave")
        api = {**api, "dave": key}
        assert "hr/salaries.md" in _documents(api, "dave")
        users.set_groups("dave", [])
        assert "hr/salaries.md" not in _documents(api, "dave")
        body = _ask(api, "dave", "Which band is zebracanary?", False)
        assert "zebracanary" not in body
        users.revoke_keys("dave")
        response = httpx.get(f"{api['url']}/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401
    finally:
        users.close()
