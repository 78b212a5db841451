# Everything a newcomer needs: `make run` and `make test`. Both install on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
EVAL_DIR ?= ../shared/eval
# llama-cpp-python compiles on install. 0.3.16 with llama.cpp's default flags (built for the
# CPU it is compiled on) is the fastest build measured here, and it runs; see README.
LLAMA_CMAKE_ARGS ?=

.PHONY: install run ingest test test-fast bench bench-ingest bench-answer bench-load eval lock clean-store chromium ocr serve

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: this exact version is a CPU wheel; anything else pulls CUDA.
	$(PIP) install --quiet torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

ingest: install
	$(PY) -m ingest

# The HTTP API (OpenAI-compatible); needs RAG_API_KEYS (see README "HTTP API").
serve: install
	$(PY) -m rag serve

run: install
	$(PY) -m ui.launch

test: install chromium ocr
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# Debian's Tesseract with English and Simplified Chinese data: OCR of scanned PDFs and images
# (optional for `make run`: without it such files are refused with this hint).
ocr:
	@if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>/dev/null | grep -qx chi_sim; then \
		echo "installing Debian's tesseract-ocr (English, Simplified Chinese) for OCR"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim >/dev/null; \
	fi

bench: bench-ingest bench-answer

bench-ingest: install
	$(PY) -m devtools.bench_ingest $(EVAL_DIR)/docs_en

bench-answer: install
	$(PY) -m devtools.bench_answer

# 16 concurrent clients x 5 questions: the in-process model, then a llama.cpp server.
bench-load: install
	$(PY) -m devtools.bench_load

eval: install
	$(PY) -m devtools.eval_report $(EVAL_DIR)

# Re-pin every dependency after changing pyproject.toml (needs `pip install uv`).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header --no-annotate -o constraints.txt

clean-store:
	rm -rf data/chroma
