"""Who may see which document.

``RAG_ACCESS_FILE`` (YAML) is a list of rules ``{"path": GLOB, "groups": [...]}``; GLOB is matched
against the document's name relative to the docs root (``*`` also crosses folders, ``?`` is one
character). The first rule that matches a document decides: only those groups (and admins) see
it. A document no rule matches is visible to every user. Uploads carry the groups the uploader
chose (:meth:`rag.users.Users.set_document_groups`), which take the place of the rules.

Rules and memberships are read for every question, so a change takes effect on the next one,
without re-embedding: retrieval is given the documents the user may not see and filters them
inside both searches (:meth:`rag.retrieval.Retriever.search`).
"""

from __future__ import annotations

import fnmatch
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.catalog import FileRecord
from rag.config import Settings
from rag.errors import ConfigError
from rag.users import User


@dataclass(frozen=True, slots=True)
class Rule:
    path: str
    groups: frozenset[str]

    def matches(self, source: str) -> bool:
        return fnmatch.fnmatchcase(source, self.path)


_cache: dict[Path, tuple[float, list[Rule]]] = {}


def load_rules(settings: Settings) -> list[Rule]:
    """The rules of ``RAG_ACCESS_FILE`` (none when it is not set), re-read when it changes."""
    path = settings.access_file
    if path is None:
        return []
    try:
        mtime = path.stat().st_mtime
    except OSError:
        raise ConfigError(f"the access file {path} (RAG_ACCESS_FILE) cannot be read: create it "
                          "or unset RAG_ACCESS_FILE") from None
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the access file {path} is not valid YAML ({exc}): fix it") from None
    if not isinstance(data, list):
        raise ConfigError(f"the access file {path} must be a list of {{path, groups}} rules")
    rules = []
    for i, item in enumerate(data, start=1):
        if (not isinstance(item, dict) or not isinstance(item.get("path"), str)
                or not isinstance(item.get("groups"), list)
                or not all(isinstance(g, str) for g in item["groups"])):
            raise ConfigError(f"rule {i} of {path} must look like "
                              "`- {path: \"hr/*\", groups: [hr]}`")
        rules.append(Rule(path=item["path"], groups=frozenset(item["groups"])))
    _cache[path] = (mtime, rules)
    return rules


@dataclass(frozen=True, slots=True)
class Access:
    """What one requester may see. ``user`` None: the operator (CLI without ``--user``, API
    keys from ``RAG_API_KEYS``) sees everything."""

    user: User | None = None
    rules: tuple[Rule, ...] = ()
    uploads: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def everything(self) -> bool:
        return self.user is None or self.user.admin

    def groups_of(self, source: str) -> frozenset[str] | None:
        """The groups that may see ``source`` (None: everyone)."""
        if source in self.uploads:
            return self.uploads[source] or None
        for rule in self.rules:
            if rule.matches(source):
                return rule.groups
        return None

    def allows(self, source: str) -> bool:
        if self.everything:
            return True
        assert self.user is not None
        groups = self.groups_of(source)
        return groups is None or bool(groups & self.user.groups)

    def forbidden(self, sources: Iterable[str]) -> frozenset[str]:
        """Of ``sources``, those this requester may not see."""
        if self.everything:
            return frozenset()
        return frozenset(s for s in sources if not self.allows(s))


EVERYTHING = Access()


def access_for(settings: Settings, user: User | None) -> Access:
    """The requester's access now (rules and uploads read afresh)."""
    if user is None:
        return EVERYTHING
    from rag.users import Users

    users = Users(settings)
    try:
        uploads = users.document_groups()
    finally:
        users.close()
    return Access(user=user, rules=tuple(load_rules(settings)), uploads=uploads)


def access_of(settings: Settings, name: str | None) -> Access:
    """The access of the user called ``name`` (None: the operator, everything), read now."""
    if name is None:
        return EVERYTHING
    from rag.users import Users

    users = Users(settings)
    try:
        user = users.require(name)
    finally:
        users.close()
    return access_for(settings, user)


def visible_documents(settings: Settings, access: Access) -> tuple[dict[str, FileRecord], dict[str, str]]:
    """The stored files ``access`` allows, and the failed ones (source -> error), from the
    catalog brought in step with Chroma: what a documents list may show."""
    from rag.catalog_refresh import open_catalog

    catalog = open_catalog(settings)
    if catalog is None:
        return {}, {}
    try:
        files = {s: r for s, r in catalog.files().items() if access.allows(s)}
        failed = {s: f[2] for s, f in catalog.failures().items() if access.allows(s)}
    except sqlite3.Error:  # the first ingestion is creating the catalog right now
        return {}, {}
    finally:
        catalog.close()
    return files, failed

