"""Domain errors. Each message says what went wrong and how to fix it.

The edges (CLI, chat page) turn these into a clear message and a non-zero exit or an
``st.error``; no traceback reaches a user.
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error a user may see. ``exit_code`` is what the CLI returns."""

    exit_code = 1


class ConfigError(RagError):
    """Bad settings or arguments (exit code 2)."""

    exit_code = 2


class StoreEmptyError(RagError):
    """The knowledge base holds nothing yet."""

    def __init__(self, store_dir: object = None) -> None:
        where = f" at {store_dir}" if store_dir else ""
        super().__init__(
            f"the knowledge base{where} is empty: run `make ingest` (or "
            "`python -m ingest PATH`) to add documents"
        )


class StoreLockedError(RagError):
    """Another process is writing the same store."""

    exit_code = 2


class StoreUnavailableError(RagError):
    """The Chroma server does not answer."""

    exit_code = 2


class StoreFormatError(RagError):
    """The store was written by a newer version of the product than this one."""

    exit_code = 2


class PermissionDenied(RagError):
    """The user may not do this (their message names what they may do instead)."""

    exit_code = 2


class EmbedderMismatchError(ConfigError):
    """The store was built with a different embedding model than the settings name."""


class ModelError(RagError):
    """The language model file is missing, corrupt or cannot be loaded."""

    exit_code = 2


class BusyError(RagError):
    """The model has as many questions waiting as it may queue: try again shortly."""

    exit_code = 3


class LoaderError(RagError):
    """One file could not be turned into text; ingestion records it and goes on."""
