"""``python -m rag serve [--host H] [--port P] [--store DIR]``: the HTTP API under uvicorn."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag.cli_common import run_main, setup_logging
from rag.config import load_settings
from rag.errors import ConfigError
from rag.users import Users


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rag serve",
        description="Serve the knowledge base over HTTP: OpenAI-compatible /v1/chat/completions "
        "and /v1/models, /v1/documents; the OpenAPI schema at /openapi.json. Keys: RAG_API_KEYS.")
    parser.add_argument("--host", help="address to listen on (default: RAG_API_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: RAG_API_PORT, 8600)")
    parser.add_argument("--store", type=Path, help="store folder (default: RAG_STORE_DIR)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()

    def body() -> int:
        import uvicorn

        from api.app import create_app

        overrides: dict[str, object] = {}
        for name, value in (("api_host", args.host), ("api_port", args.port), ("store_dir", args.store)):
            if value is not None:
                overrides[name] = value
        settings = load_settings(**overrides)
        users = Users(settings)
        try:
            user_keys = users.has_keys()
        finally:
            users.close()
        if not settings.api_key_list() and not user_keys:
            raise ConfigError(
                "no API keys: set RAG_API_KEYS to one or more comma-separated keys (make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), in .env or the "
                "environment, or give users keys (`python -m rag users add NAME`); clients send "
                "`Authorization: Bearer KEY`")
        print(f"HTTP API on http://{settings.api_host}:{settings.api_port} (schema at /openapi.json)",
              file=sys.stderr, flush=True)
        uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                    log_level="warning", access_log=False)
        return 0

    return run_main(body, debug=args.debug)
