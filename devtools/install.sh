#!/usr/bin/env bash
# Installs this offline bundle of the private knowledge base: no network, no compiler.
#
#   ./install.sh            install here, in the unpacked bundle's folder
#   ./install.sh DIR        install into DIR, or upgrade the installation in DIR (its store,
#                           users and .env settings are kept)
#
# PYTHON=/path/to/python3.11 ./install.sh picks the interpreter (the bundle's Python version).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
echo "checking every file of the bundle against SHA256SUMS ..."
if ! sha256sum --quiet --strict -c SHA256SUMS; then
    echo "error: the files above do not match SHA256SUMS: the bundle is damaged or incomplete." >&2
    echo "Copy the archive again and compare it with its .sha256 file (sha256sum -c)." >&2
    exit 1
fi
exec "${PYTHON:-python3}" bundle/install.py "$@"
