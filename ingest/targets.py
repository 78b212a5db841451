"""What a sync covers: the folders (walked recursively, see :mod:`ingest.walk`) and single
files it was given, and how their files are named in the store. Nothing outside a folder gets
in through a link: a file named inside the documents folder whose real location is outside it
is refused and reported."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ingest.walk import folder_files
from rag.config import Settings
from rag.errors import ConfigError


@dataclass(slots=True)
class Target:
    """A folder (or single file) to sync, and how its files are named in the store."""

    root: Path
    files: list[Path]
    prune: bool  # remove files of this root that are gone (folders only)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (source, reason), reported


def _outside_link(path: Path, docs: Path) -> tuple[str, str] | None:
    """A file named inside the docs folder whose real location is outside it: (source, reason)."""
    real_docs, real = docs.resolve(), path.resolve()
    if real.is_relative_to(real_docs):
        return None
    named = Path(os.path.abspath(path))
    for folder in (Path(os.path.abspath(docs)), real_docs):
        if named.is_relative_to(folder):
            return named.relative_to(folder).as_posix(), (
                f"symbolic link to a path outside the documents folder: {named.name} -> {real}; "
                f"only files inside {real_docs} are ingested: copy the file in instead"
            )
    return None


def collect_targets(paths: list[Path], settings: Settings) -> list[Target]:
    """The targets for ``paths`` (default: the docs folder); a file inside the docs folder
    keeps its name there."""
    docs = Path(settings.docs_dir)
    if not paths:
        if not docs.is_dir():
            raise ConfigError(
                f"the documents folder {docs} does not exist: create it and put documents in it, "
                "or set RAG_DOCS_DIR"
            )
        paths = [docs]
    targets: list[Target] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = folder_files(path)
            targets.append(Target(root=path.resolve(), files=found.files, prune=True,
                                  refused=found.refused))
        elif path.is_file() and docs.is_dir() and (refused := _outside_link(path, docs)):
            targets.append(Target(root=docs.resolve(), files=[], prune=False, refused=[refused]))
        elif path.is_file():
            resolved = path.resolve()
            root = docs.resolve() if docs.is_dir() and resolved.is_relative_to(docs.resolve()) else resolved.parent
            targets.append(Target(root=root, files=[resolved], prune=False))
        else:
            raise ConfigError(f"{path} does not exist: give existing files or folders to ingest")
    return targets
