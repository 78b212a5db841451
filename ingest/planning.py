"""What a sync has to do, read from the store's books and the files on disk: which files to
parse (new or changed, by content hash), which sources to remove (gone from a folder the run
covers), and which files are refused before parsing (too large, unreadable, or the same content
that failed last time, with the error it gave then). Nothing is written here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ingest.targets import Target
from rag.catalog import FileRecord, sha256_file
from rag.config import Settings
from rag.schemas import FileFailure


class Books(Protocol):
    """What planning reads: the local catalog, or a writer's books over it."""

    def files(self) -> dict[str, FileRecord]: ...

    def failures(self) -> dict[str, tuple[str, str, str]]: ...


@dataclass(frozen=True, slots=True)
class FileToParse:
    """A new or changed file, and how the store names it."""

    path: Path
    source: str
    root: str
    sha256: str
    is_new: bool


@dataclass(slots=True)
class SyncPlan:
    to_parse: list[FileToParse] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # sources gone from disk
    stale_failures: list[str] = field(default_factory=list)  # failures of files gone from disk
    failures: list[FileFailure] = field(default_factory=list)  # refused before parsing, in order
    unchanged: int = 0
    hashes: dict[Path, str] = field(default_factory=dict)  # the content hash of each file read

    @property
    def nothing_to_do(self) -> bool:
        return not (self.to_parse or self.removed or self.stale_failures)


def _refusal(path: Path, settings: Settings, hashed: Mapping[Path, str]) -> tuple[str | None, str]:
    """(sha256, "") of a file that may be parsed, or (None, why not). ``hashed``: the hashes an
    earlier plan of the same run read."""
    try:
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            return None, (f"file too large ({size / 1048576:.1f} MB > limit "
                          f"{settings.max_file_size_mb:g} MB): split it or raise "
                          "RAG_MAX_FILE_SIZE_MB")
        return hashed.get(path) or sha256_file(path), ""
    except OSError as exc:
        return None, f"unreadable file: {exc.strerror or exc} (check its permissions)"


def plan_sync(targets: list[Target], books: Books, settings: Settings,
              hashed: Mapping[Path, str] | None = None) -> SyncPlan:
    """Compare ``targets`` with what ``books`` record. ``hashed``: the files' hashes as an
    earlier plan of the same run read them (:attr:`SyncPlan.hashes`), so a run that plans twice
    reads each file once."""
    known = books.files()
    failed = books.failures()
    plan = SyncPlan()
    seen: set[str] = set()
    for target in targets:
        plan.failures += [FileFailure(path=source, error=why) for source, why in target.refused]
        for path in target.files:
            source = path.relative_to(target.root).as_posix()
            if source in seen:
                continue
            seen.add(source)
            sha, refused = _refusal(path, settings, hashed or {})
            old = known.get(source)
            if sha is None:
                plan.failures.append(FileFailure(path=source, error=refused))
                continue
            plan.hashes[path] = sha
            if old is not None and old.sha256 == sha:
                plan.unchanged += 1
            elif source in failed and failed[source][1] == sha:
                plan.failures.append(FileFailure(path=source, error=failed[source][2]))
            else:
                plan.to_parse.append(FileToParse(path, source, str(target.root), sha, old is None))

    def pruned(source: str, root: str) -> bool:
        return source not in seen and any(t.prune and root == str(t.root) for t in targets)

    plan.removed = [source for source, record in known.items() if pruned(source, record.root)]
    plan.stale_failures = [source for source, (root, _, _) in failed.items()
                           if pruned(source, root)]
    return plan
