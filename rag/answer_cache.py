"""Repeated questions answered from a cache: the same question, against the same store, model
and answer settings, seen by someone who may see the same documents, gets the stored answer.

The cache is a small SQLite file in the store folder, so every process over that folder shares
it (the chat page, the API, each ``rag ask``). Its key holds the store's version, which changes
with every write (any sync, upload or delete that changed something): entries of an older
version are never returned and are dropped by the next write to the cache. It keeps at most
``RAG_ANSWER_CACHE_SIZE`` answers, the least recently used going first; 0 turns it off.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.schemas import Answer

CACHE_NAME = "answers.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, version TEXT NOT NULL, answer TEXT NOT NULL, used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_used ON answers (used);
"""


def normalise(question: str) -> str:
    """Case, width, spacing and closing punctuation do not make a question another one."""
    text = unicodedata.normalize("NFKC", question).casefold()
    return re.sub(r"\s+", " ", text).strip().rstrip("?!.。？！ ")


def cache_key(question: str, history: Sequence[tuple[str, str]], version: str, model: str,
              settings: dict[str, Any], hidden: frozenset[str]) -> str:
    """What makes two answers the same: all of it hashed (nothing of it is stored readable)."""
    parts = {"q": normalise(question), "h": [[normalise(q), a] for q, a in history],
             "v": version, "m": model, "s": settings, "hidden": sorted(hidden)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class AnswerCache:
    def __init__(self, store_dir: Path, size: int) -> None:
        self.path = Path(store_dir) / CACHE_NAME
        self.size = size

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.executescript(_SCHEMA)
        return conn

    def get(self, key: str) -> Answer | None:
        if not self.path.is_file():
            return None
        conn = self._connect()
        try:
            with conn:
                row = conn.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
                if row is None:
                    return None
                conn.execute("UPDATE answers SET used = ? WHERE key = ?", (time.time(), key))
        except sqlite3.Error:  # a cache never stands between a question and its answer
            return None
        finally:
            conn.close()
        return Answer.model_validate_json(row[0])

    def put(self, key: str, version: str, answer: Answer) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error:
            return
        try:
            with conn:
                conn.execute("DELETE FROM answers WHERE version != ?", (version,))
                conn.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                             (key, version, answer.model_dump_json(), time.time()))
                conn.execute("DELETE FROM answers WHERE key NOT IN (SELECT key FROM answers "
                             "ORDER BY used DESC LIMIT ?)", (self.size,))
        except sqlite3.Error:
            pass
        finally:
            conn.close()
