"""The offline bundle, proven: installed, used and upgraded in a network namespace that has only
loopback, every process traced, and no connection attempt beyond loopback allowed.

Run by ``make test-airgap`` (it builds ``dist/private-kb-*.tar.gz`` with ``make bundle`` first);
``make test`` leaves these out. Needs root, ``unshare``, ``ip`` and ``strace``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.airgap import base_system_status, outside_connects, run_offline
from devtools.bundle import version
from tests.conftest import ROOT

pytestmark = [pytest.mark.airgap, pytest.mark.slow, pytest.mark.timeout(3600)]

QUESTION = "How many vacation days do full-time employees get per year?"
PYTHON = Path(sys.base_prefix) / "bin" / "python3"  # the machine's Python, not this venv's


def _env(home: Path) -> dict[str, str]:
    """A bare environment: nothing of this session (no pip settings, no RAG_ settings)."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(home), "LANG": "C.UTF-8", "PYTHON": str(PYTHON)}


@dataclass
class Unpacked:
    archive: Path
    top: Path  # the unpacked bundle's folder
    work: Path


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unpacked]:
    archives = sorted(ROOT.glob(f"dist/private-kb-{version()}-*.tar.gz"),
                      key=lambda p: p.stat().st_mtime)
    if not archives:
        pytest.fail("no bundle in dist/: run `make test-airgap` (it runs `make bundle` first)")
    work = tmp_path_factory.mktemp("airgap")
    with tarfile.open(archives[-1]) as tar:
        tar.extractall(work / "unpacked", filter="tar")
    top = next((work / "unpacked").iterdir())
    manifest = json.loads((top / "bundle" / "BUNDLE.json").read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()
    if manifest["commit"] != head:
        pytest.fail(f"{archives[-1].name} was built from {manifest['commit'][:8]}, not HEAD: "
                    "run `make test-airgap` (it rebuilds the bundle)")
    yield Unpacked(archives[-1], top, work)


@dataclass
class OfflineRun:
    proc: subprocess.CompletedProcess[str]
    outside: list[str]
    install: Path
    out: Path


@pytest.fixture(scope="module")
def offline_install(unpacked: Unpacked) -> OfflineRun:
    """Install in place (as DESIGN.md's contract says), ingest, answer, add a setting and a
    user; then a second copy of the bundle upgrades that installation; answer again; start the
    chat page (`make run`) and load it over loopback."""
    install, out = unpacked.top, unpacked.work / "out"
    out.mkdir()
    script = f"""
        mkdir -p newer && tar -xzf {unpacked.archive} -C newer
        cd {install}
        ./install.sh > {out}/install.txt 2>&1
        make ingest > {out}/ingest.txt 2>&1
        .venv/bin/python -m rag ask "{QUESTION}" --json > {out}/answer.json
        printf 'RAG_TOP_K=2\\n' > .env
        .venv/bin/python -m rag users add alice --groups hr --json > {out}/user.json
        {unpacked.work}/newer/{install.name}/install.sh {install} > {out}/upgrade.txt 2>&1
        .venv/bin/python -m rag users list --json > {out}/users.json
        .venv/bin/python -m rag ask "{QUESTION}" --json > {out}/answer2.json
        make ingest > {out}/ingest2.txt 2>&1
        setsid make run > {out}/run.txt 2>&1 &
        run=$!
        for i in $(seq 120); do
            curl -sf http://127.0.0.1:8501/_stcore/health > {out}/health.txt && break || sleep 1
        done
        curl -sf http://127.0.0.1:8501/ > {out}/page.html
        kill -- -$run
        wait $run || true
    """
    trace = out / "strace.log"
    proc = run_offline(script, trace, cwd=unpacked.work, env=_env(unpacked.work / "home"),
                       timeout=1800)
    return OfflineRun(proc, outside_connects(trace.read_text()), install, out)


def _last_json(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text().strip().splitlines()[-1])


def test_the_count_sees_an_attempt_to_leave(unpacked: Unpacked) -> None:
    """The harness can fail: one attempt to reach a documentation address is counted."""
    trace = unpacked.work / "control.log"
    probe = ("import socket; s = socket.socket(); s.settimeout(2); "
             "print(s.connect_ex(('192.0.2.1', 443)))")
    proc = run_offline(f"{PYTHON} -c \"{probe}\"", trace, cwd=unpacked.work,
                       env=_env(unpacked.work / "home"), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(outside_connects(trace.read_text())) == 1


def test_installs_ingests_and_answers_with_no_network(offline_install: OfflineRun) -> None:
    run, out = offline_install, offline_install.out
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(out.glob("*.txt")))
    assert run.proc.returncode == 0, f"{run.proc.stderr[-3000:]}\n{logs}"
    assert run.outside == [], f"{len(run.outside)} connection attempts beyond loopback"
    install = (out / "install.txt").read_text()
    assert "checking every file" in install and "installed in" in install
    assert "OK    cpu:" in install and "OK    language model:" in install  # rag doctor
    assert (run.install / ".venv" / ".installed").is_file()
    answer = _last_json(out / "answer.json")
    assert answer["found"] and "25" in answer["answer"]
    assert answer["citations"][0]["source"] == "en/employee-handbook.md"
    assert "files: 7 added" in (out / "ingest.txt").read_text()


def test_an_upgrade_keeps_store_users_and_settings(offline_install: OfflineRun) -> None:
    run, out = offline_install, offline_install.out
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    assert "the knowledge base opens with this version" in (out / "upgrade.txt").read_text()
    assert (run.install / ".env").read_text() == "RAG_TOP_K=2\n"
    assert [u["user"] for u in _last_json(out / "users.json")["users"]] == ["alice"]
    again = _last_json(out / "answer2.json")
    assert again["found"] and len(again["citations"]) <= 2  # the kept .env applies
    assert "7 unchanged" in (out / "ingest2.txt").read_text()  # nothing re-embedded


def test_the_chat_page_starts_with_no_network(offline_install: OfflineRun) -> None:
    out = offline_install.out
    assert offline_install.proc.returncode == 0, offline_install.proc.stderr[-3000:]
    assert (out / "health.txt").read_text() == "ok", (out / "run.txt").read_text()[-3000:]
    assert "<title>" in (out / "page.html").read_text()


def test_the_test_suite_passes_offline_in_the_installation(offline_install: OfflineRun) -> None:
    """`make test`'s non-browser part, run in the installed folder with no network."""
    assert offline_install.proc.returncode == 0
    install = offline_install.install
    shared = install.parent / "shared"
    shared.symlink_to(ROOT.parent / "shared")
    trace = offline_install.out / "pytest-strace.log"
    proc = run_offline(".venv/bin/python -m pytest -m 'not browser' -q -p no:cacheprovider",
                       trace, cwd=install, env=_env(install.parent / "home"), timeout=2400)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert " passed" in proc.stdout
    assert outside_connects(trace.read_text()) == []


def test_tesseract_installs_from_the_bundle_on_a_base_debian(unpacked: Unpacked) -> None:
    """apt resolves Tesseract from the bundle's .deb files alone, on a system that has only
    Debian's base packages (this machine's status cut down to them), with no network."""
    status = unpacked.work / "base-status"
    status.write_text(base_system_status(Path("/var/lib/dpkg/status").read_text()))
    base = {line.split()[1] for line in status.read_text().splitlines()
            if line.startswith("Package:")}
    debs = [d for d in sorted((unpacked.top / "bundle" / "debs").glob("*.deb"))
            if d.name.split("_", 1)[0] not in base]
    trace = unpacked.work / "apt.log"
    proc = run_offline(
        f"apt-get install --simulate --no-install-recommends -o Dir::State::status={status} "
        + " ".join(str(d) for d in debs), trace, cwd=unpacked.work,
        env=_env(unpacked.work / "home"), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    installs = [line for line in proc.stdout.splitlines() if line.startswith("Inst ")]
    assert any(line.startswith("Inst tesseract-ocr-chi-sim ") for line in installs)
    assert installs and all("local-deb" in line for line in installs)
    assert outside_connects(trace.read_text()) == []
