"""``python -m ingest`` as a user runs it: exit codes, the JSON contract, and a SIGKILL mid-run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.cli import build_parser
from rag.catalog import CATALOG_NAME
from rag.config import load_settings
from tests.conftest import SHARED_EVAL
from tests.ingest.test_sync import store_state

CONTRACT_KEYS = {"files_added", "files_updated", "files_unchanged", "files_removed", "files_failed",
                 "chunks_written", "chunks_total", "seconds"}


def ingest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args], capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})}, check=False,
    )


def test_broken_pdfs_exit_1_with_per_file_errors(eval_pdfs: Path, store: Path) -> None:
    result = ingest(str(eval_pdfs), "--store", str(store), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert CONTRACT_KEYS <= set(report)
    errors = {f["path"]: f["error"] for f in report["files_failed"]}
    assert errors["libreoffice-writer-password.pdf"].startswith("encrypted:")
    assert errors["unreadablemetadata.pdf"].startswith("malformed PDF")
    assert errors["imagemagick-images.pdf"].startswith("no extractable text")
    assert errors["grayscale-image.pdf"].startswith("no extractable text")
    assert errors["LICENSE"].startswith("unsupported file type")
    # the seven good PDFs and MANIFEST.md
    assert report["files_added"] == 8 and report["chunks_total"] == report["chunks_written"] > 0
    assert "Traceback" not in result.stderr


def test_exit_0_and_2(docs: Path, store: Path) -> None:
    (docs / "a.md").write_text("# A\n\nThe canteen opens at 11:30.\n")
    ok = ingest(str(docs), "--store", str(store), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.strip().splitlines()[-1])["files_added"] == 1

    missing = ingest(str(docs / "nope"), "--store", str(store))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr

    bad_setting = ingest(str(docs), "--store", str(store), env={"RAG_CHUNK_SIZE": "many"})
    assert bad_setting.returncode == 2 and "RAG_CHUNK_SIZE" in bad_setting.stderr
    assert "Traceback" not in bad_setting.stderr


_UNCHANGED_RUN = """
import json, sys
from ingest.cli import main
code = main(sys.argv[1:])
heavy = ("numpy", "langchain_core", "langchain_text_splitters", "chromadb", "onnxruntime", "torch")
print(json.dumps({"code": code, "imported": [m for m in heavy if m in sys.modules]}))
"""


def test_an_unchanged_rerun_imports_nothing_heavy(docs: Path, store: Path) -> None:
    """A fresh ``python -m ingest`` with nothing changed answers from the catalog: it imports no
    model runtime, no Chroma, no numpy and no text splitter (0.37 s instead of about 1 s)."""
    (docs / "a.md").write_text("# A\n\nThe canteen opens at 11:30.\n")
    assert ingest(str(docs), "--store", str(store), "--json").returncode == 0
    rerun = subprocess.run([sys.executable, "-c", _UNCHANGED_RUN, str(docs), "--store", str(store), "--json"],
                           capture_output=True, text=True, timeout=600, check=False)
    last = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert last == {"code": 0, "imported": []}, rerun.stderr
    assert json.loads(rerun.stdout.strip().splitlines()[-2])["files_unchanged"] == 1


def test_progress_lines_on_stderr_and_the_json_report_last_on_stdout(docs: Path, store: Path) -> None:
    for name, topic in (("canteen", "lunch from 11:30"), ("parking", "badge at the gate"),
                        ("library", "books for four weeks")):
        (docs / f"{name}.md").write_text(f"# {name.title()}\n\n## Rules\n\nThe {name}: {topic}.\n")
    result = ingest(str(docs), "--store", str(store), "--json")  # stderr is a pipe, not a terminal
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert CONTRACT_KEYS <= set(report) and report["files_added"] == 3
    assert "ingest:" not in result.stdout  # progress never mixes with the report

    lines = [line for line in result.stderr.splitlines() if line.startswith("ingest: ")]
    assert lines[0].startswith("ingest: 0/3 files (0%), 0 chunks,"), result.stderr
    final = re.fullmatch(r"ingest: 3/3 files \(100%\), ([\d,]+) chunks, [\d.]+ chunks/s, "
                         r"[\d.]+ files/s, took \d+s", lines[-1])
    assert final, result.stderr
    assert int(final.group(1).replace(",", "")) == report["chunks_written"] > 0
    assert "\r" not in result.stderr  # no bar drawn into a log

    quiet = ingest(str(docs), "--store", str(store), "--json", "--rebuild", "--no-progress")
    assert quiet.returncode == 0, quiet.stderr
    assert "ingest:" not in quiet.stderr
    assert json.loads(quiet.stdout.strip().splitlines()[-1])["files_added"] == 3


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_progress_every_must_be_seconds(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--progress-every", value])
    assert exit_info.value.code == 2 and "--progress-every" in capsys.readouterr().err
    assert build_parser().parse_args(["--progress-every", "2.5"]).progress_every == 2.5


def test_sigkill_mid_run_converges(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for path in sorted((SHARED_EVAL / "docs_en").glob("*.md"))[:5]:
        shutil.copy(path, docs / path.name)
    env = {"RAG_BATCH_SIZE": "16"}
    killed_store, clean_store = tmp_path / "killed", tmp_path / "clean"

    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest", str(docs), "--store", str(killed_store)],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    catalog = killed_store / CATALOG_NAME
    deadline = time.monotonic() + 300
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if catalog.exists():
            try:
                with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True) as conn:
                    done = conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
            except sqlite3.Error:
                done = 0
            if done >= 2:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "ingestion finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= done < 5

    rerun = ingest(str(docs), "--store", str(killed_store), "--json", env=env)
    assert rerun.returncode == 0, rerun.stderr
    clean = ingest(str(docs), "--store", str(clean_store), "--json", env=env)
    assert clean.returncode == 0, clean.stderr

    killed_state = store_state(load_settings(store_dir=killed_store))
    clean_state = store_state(load_settings(store_dir=clean_store))
    assert killed_state == clean_state
    assert len(clean_state["files"]) == 5
