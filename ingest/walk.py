"""The files of a documents folder, and nothing outside it.

Symbolic links whose target lies inside the folder are followed, each real file and folder
once (under its own name when it has one outside links), so a link cycle ends. A link that
leads outside the folder, or nowhere, is refused with a reason instead of being followed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def hidden(name: str) -> bool:
    """Names ingestion skips: hidden files, Office lock files (``~$x.docx``), caches."""
    return name.startswith((".", "~$")) or name == "__pycache__"


@dataclass(slots=True)
class FolderFiles:
    files: list[Path] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


@dataclass(slots=True)
class _Walk:
    root: Path
    result: FolderFiles = field(default_factory=FolderFiles)
    real_dirs: set[Path] = field(default_factory=set)
    real_files: set[Path] = field(default_factory=set)
    links: list[Path] = field(default_factory=list)

    def source(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def folder(self, path: Path, real: Path) -> None:
        """Walk a folder (and its sub-folders) without following links; links are kept for
        later, so that real names come first."""
        stack = [(path, real)]
        while stack:
            folder, real_folder = stack.pop()
            if real_folder in self.real_dirs:
                continue
            self.real_dirs.add(real_folder)
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                self.result.refused.append((
                    self.source(folder) or ".",
                    f"unreadable folder: {exc.strerror or exc} (check its permissions)",
                ))
                continue
            for entry in entries:
                if hidden(entry.name):
                    continue
                child = folder / entry.name
                if entry.is_symlink():
                    self.links.append(child)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((child, real_folder / entry.name))
                elif entry.is_file(follow_symlinks=False):
                    self.file(child, real_folder / entry.name)

    def file(self, path: Path, real: Path) -> None:
        if real not in self.real_files:
            self.real_files.add(real)
            self.result.files.append(path)

    def link(self, path: Path) -> None:
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(self.root):
            reason = (
                f"symbolic link to a path outside the documents folder: {path.name} -> "
                f"{target}; only files inside {self.root} are ingested: copy the file in instead"
            )
            self.result.refused.append((self.source(path), reason))
        elif target.is_dir():
            self.folder(path, target)
        elif target.is_file():
            self.file(path, target)
        elif not target.exists():
            self.result.refused.append((
                self.source(path),
                f"broken symbolic link: its target {target} does not exist (fix or remove the link)",
            ))


def folder_files(root: Path) -> FolderFiles:
    """Every visible file under ``root`` (resolved first), sorted, and the paths refused."""
    walk = _Walk(root=root.resolve())
    walk.folder(walk.root, walk.root)
    while walk.links:  # links found inside linked folders are appended as the walk goes on
        walk.links.sort()
        walk.link(walk.links.pop(0))
    walk.result.files.sort()
    walk.result.refused.sort()
    return walk.result
