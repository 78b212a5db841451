"""What every command-line edge shares: logging set-up and turning errors into exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from rag.errors import RagError

USAGE_ERROR = 2


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("chromadb", "httpx", "sentence_transformers", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def run_main(body: Callable[[], int], debug: bool = False) -> int:
    """Run a command body; a domain error becomes its message and exit code, never a traceback."""
    try:
        return body()
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the edge: no traceback reaches a user
        if debug:
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (run again with --debug for details)",
            file=sys.stderr,
        )
        return 1
