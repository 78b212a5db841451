"""Users, groups and per-user API keys, in a SQLite database (``RAG_USERS_DB``, default
``users.sqlite3`` in the store folder). Passwords are hashed with Argon2 (argon2-cffi); API keys
are random, shown once, and stored as SHA-256 hashes (they carry 256 bits of entropy, so a slow
hash adds nothing), revocable one by one."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.config import Settings
from rag.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password TEXT,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    grp TEXT NOT NULL,
    PRIMARY KEY (user, grp)
);
CREATE TABLE IF NOT EXISTS document_groups (
    source TEXT PRIMARY KEY,
    groups TEXT NOT NULL,
    uploader TEXT,
    set_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    digest TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
"""
_NAME = re.compile(r"^[\w.@-]{1,64}$", re.UNICODE)
KEY_PREFIX = "kb-"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    groups: frozenset[str]
    admin: bool = False


def users_db_path(settings: Settings) -> Path:
    return settings.users_db or Path(settings.store_dir) / "users.sqlite3"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(f"invalid {kind} name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


def parse_groups(text: str | None) -> list[str]:
    groups = sorted({g.strip() for g in (text or "").split(",") if g.strip()})
    return [_check_name("group", g) for g in groups]


class Users:
    """The users database. Every method is one transaction; safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        path = users_db_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # --- reading ------------------------------------------------------------------------
    def get(self, name: str) -> User | None:
        row = self.conn.execute("SELECT name, admin FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        groups = {g for (g,) in self.conn.execute("SELECT grp FROM memberships WHERE user = ?", (name,))}
        return User(name=row[0], groups=frozenset(groups), admin=bool(row[1]))

    def require(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise ConfigError(f"no user {name!r}: `python -m rag users list` shows them, "
                              "`python -m rag users add NAME` adds one")
        return user

    def all(self) -> list[User]:
        names = [n for (n,) in self.conn.execute("SELECT name FROM users ORDER BY name")]
        return [u for n in names if (u := self.get(n)) is not None]

    def has_keys(self) -> bool:
        """Whether any user holds an API key that works."""
        return self.conn.execute(
            "SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1").fetchone() is not None

    def has_admin(self) -> bool:
        return self.conn.execute("SELECT 1 FROM users WHERE admin = 1 LIMIT 1").fetchone() is not None

    def by_key(self, key: str) -> User | None:
        """The user an API key belongs to (None: unknown or revoked key)."""
        row = self.conn.execute(
            "SELECT user FROM api_keys WHERE digest = ? AND revoked_at IS NULL", (_digest(key),)
        ).fetchone()
        return self.get(row[0]) if row else None

    def verify_password(self, name: str, password: str) -> User | None:
        """The user if the password is right (None otherwise, in about the same time)."""
        from argon2 import PasswordHasher
        from argon2.exceptions import VerificationError

        hasher = PasswordHasher()
        row = self.conn.execute("SELECT password FROM users WHERE name = ?", (name,)).fetchone()
        stored = row[0] if row and row[0] else _dummy_hash()
        try:
            hasher.verify(stored, password)
        except VerificationError:
            return None
        return self.get(name) if row and row[0] else None

    def document_groups(self) -> dict[str, frozenset[str]]:
        """Uploaded documents and the groups that may see them (empty: everyone)."""
        rows = self.conn.execute("SELECT source, groups FROM document_groups")
        return {source: frozenset(g for g in groups.split(",") if g) for source, groups in rows}

    def uploader(self, source: str) -> str | None:
        row = self.conn.execute("SELECT uploader FROM document_groups WHERE source = ?",
                                (source,)).fetchone()
        return row[0] if row else None

    # --- writing ------------------------------------------------------------------------
    def set_document_groups(self, source: str, groups: list[str], uploader: str | None) -> None:
        self.conn.execute("INSERT OR REPLACE INTO document_groups VALUES (?, ?, ?, ?)",
                          (source, ",".join(sorted(groups)), uploader, time.time()))

    def forget_document(self, source: str) -> None:
        self.conn.execute("DELETE FROM document_groups WHERE source = ?", (source,))

    def add(self, name: str, *, groups: list[str] = (), admin: bool = False,  # type: ignore[assignment]
            password: str | None = None) -> tuple[User, str]:
        """Create a user with a fresh API key; returns the user and the key (shown once)."""
        _check_name("user", name)
        if self.get(name) is not None:
            raise ConfigError(f"user {name!r} exists: `python -m rag users remove {name}` first, "
                              "or change it with `users groups` / `users passwd`")
        with _transaction(self.conn):
            self.conn.execute("INSERT INTO users VALUES (?, ?, ?, ?)",
                              (name, _hash(password) if password else None, int(admin), time.time()))
            self.conn.executemany("INSERT INTO memberships VALUES (?, ?)", [(name, g) for g in groups])
        return self.require(name), self.new_key(name)

    def new_key(self, name: str) -> str:
        self.require(name)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.conn.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, NULL)",
                          (_digest(key), name, key[:8], time.time()))
        return key

    def revoke_keys(self, name: str) -> int:
        self.require(name)
        cursor = self.conn.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL",
            (time.time(), name))
        return cursor.rowcount

    def remove(self, name: str) -> None:
        self.require(name)
        self.conn.execute("DELETE FROM users WHERE name = ?", (name,))

    def set_password(self, name: str, password: str) -> None:
        self.require(name)
        if len(password) < 8:
            raise ConfigError("the password is too short: use at least 8 characters")
        self.conn.execute("UPDATE users SET password = ? WHERE name = ?", (_hash(password), name))

    def set_groups(self, name: str, groups: list[str], admin: bool | None = None) -> User:
        self.require(name)
        with _transaction(self.conn):
            if admin is not None:
                self.conn.execute("UPDATE users SET admin = ? WHERE name = ?", (int(admin), name))
            self.conn.execute("DELETE FROM memberships WHERE user = ?", (name,))
            self.conn.executemany("INSERT INTO memberships VALUES (?, ?)", [(name, g) for g in groups])
        return self.require(name)


def _hash(password: str) -> str:
    from argon2 import PasswordHasher

    if len(password) < 8:
        raise ConfigError("the password is too short: use at least 8 characters")
    return PasswordHasher().hash(password)


class _transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password: checking an unknown user costs what a known one does."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(secrets.token_hex(16))
