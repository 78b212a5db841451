"""The offline bundle's parts that need no bundle: the installer's checks and upgrade rules, the
archive's reproducibility, the connection count (tests/airgap runs the whole thing)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from devtools.airgap import base_system_status, outside_connects
from devtools.bundle import write_archive, write_sums
from devtools.bundle_install import app_files, check_machine, sync_files
from devtools.bundle_parts import cpu_flags, required_cpu_flags

MANIFEST = {"python": "3.11", "machine": "x86_64", "llama_build": "native",
            "cpu_flags_required": ["avx2", "avx512f", "fma", "sse4_2"]}
CPUINFO = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 avx512f fma\n"


def test_a_machine_of_the_same_kind_passes() -> None:
    check_machine(MANIFEST, CPUINFO, (3, 11), "x86_64")


@pytest.mark.parametrize(("cpuinfo", "python", "says"), [
    (CPUINFO, (3, 12), "PYTHON=/usr/bin/python3.11 ./install.sh"),
    ("flags\t: fpu sse4_2 avx avx2 fma f16c bmi2\n", (3, 11), "make bundle LLAMA_BUILD=portable"),
    ("flags\t: fpu sse4_2 avx\n", (3, 11), "make bundle LLAMA_BUILD=baseline"),
])
def test_another_kind_of_machine_is_refused_with_what_to_do(
        cpuinfo: str, python: tuple[int, int], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        check_machine(MANIFEST, cpuinfo, python, "x86_64")
    assert exit_.value.code == 2 and says in capsys.readouterr().err


def test_the_cpu_features_a_build_needs() -> None:
    flags = cpu_flags("flags\t: fpu vme sse4_2 avx avx2 fma f16c hypervisor\n")
    assert required_cpu_flags("native", flags) == ["avx", "avx2", "f16c", "fma", "sse4_2"]
    assert required_cpu_flags("portable", flags) == ["avx", "avx2", "bmi2", "f16c", "fma", "sse4_2"]
    assert required_cpu_flags("baseline", flags) == ["sse4_2"]


def _bundle(top: Path, files: dict[str, str]) -> dict[str, str]:
    for name, text in files.items():
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(text)
    (top / "bundle").mkdir(exist_ok=True)
    (top / "bundle" / "wheels.whl").write_text("payload")
    write_sums(top)
    return app_files(top)


def test_an_upgrade_replaces_the_application_and_keeps_the_users_files(tmp_path: Path) -> None:
    old, new, target = tmp_path / "old", tmp_path / "new", tmp_path / "install"
    v1 = _bundle(old, {"rag/a.py": "v1", "rag/gone.py": "v1", "data/docs/sample.md": "sample v1",
                       "data/docs/edited.md": "sample v1"})
    assert "bundle/wheels.whl" not in v1 and "SHA256SUMS" not in v1
    assert sync_files(old, target, v1, {}) == []
    (target / ".env").write_text("RAG_TOP_K=3\n")  # the user's settings, store, own documents
    (target / "data" / "chroma").mkdir()
    (target / "data" / "docs" / "mine.md").write_text("my document")
    (target / "data" / "docs" / "edited.md").write_text("edited by the user")
    v2 = _bundle(new, {"rag/a.py": "v2", "rag/new.py": "v2", "data/docs/sample.md": "sample v2",
                       "data/docs/edited.md": "sample v2"})
    kept = sync_files(new, target, v2, v1)
    assert kept == ["data/docs/edited.md"]
    assert (target / "rag" / "a.py").read_text() == "v2" and (target / "rag" / "new.py").exists()
    assert not (target / "rag" / "gone.py").exists()
    assert (target / "data" / "docs" / "sample.md").read_text() == "sample v2"
    assert (target / "data" / "docs" / "edited.md").read_text() == "edited by the user"
    assert (target / ".env").exists() and (target / "data" / "chroma").is_dir()
    assert (target / "data" / "docs" / "mine.md").read_text() == "my document"


def test_the_archive_depends_only_on_the_files(tmp_path: Path) -> None:
    top = tmp_path / "private-kb-0.1.0"
    _bundle(top, {"run.sh": "#!/bin/sh\n", "rag/a.py": "x = 1\n"})
    (top / "run.sh").chmod(0o755)
    first, second = tmp_path / "1" / "b.tar.gz", tmp_path / "2" / "b.tar.gz"
    write_archive(top, first, epoch=1_700_000_000)
    later = time.time() + 3600
    for path in top.rglob("*"):
        os.utime(path, (later, later))
    write_archive(top, second, epoch=1_700_000_000)
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    (top / "rag" / "a.py").write_text("x = 2\n")
    write_archive(top, second, epoch=1_700_000_000)
    assert first.read_bytes() != second.read_bytes()


STRACE = """\
101 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT
101 connect(4, {sa_family=AF_INET, sin_port=htons(8600), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
101 connect(5, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
101 connect(5, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 0
101 connect(6, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 0
102 connect(7, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("151.101.0.223")}, 16) = -1 ENETUNREACH
102 connect(8, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH
102 connect(9, {sa_family=AF_INET, sin_port=htons(53), ...}, 16) = -1 ENETUNREACH
"""


def test_every_connection_beyond_loopback_is_counted() -> None:
    counted = outside_connects(STRACE)
    assert len(counted) == 3
    assert "151.101.0.223" in counted[0] and "2001:db8::1" in counted[1] and "..." in counted[2]


def test_the_base_system_is_what_required_packages_pull_in() -> None:
    status = "\n\n".join([
        "Package: dpkg\nEssential: yes\nPriority: required\nPre-Depends: libc6 (>= 2.34), tar",
        "Package: tar\nPriority: required\nDepends: libacl1 | libfoo",
        "Package: libc6\nPriority: optional",
        "Package: libacl1\nPriority: optional",
        "Package: tesseract-ocr\nPriority: optional\nDepends: libc6",
    ])
    base = base_system_status(status)
    names = [line.split()[1] for line in base.splitlines() if line.startswith("Package:")]
    assert names == ["dpkg", "libacl1", "libc6", "tar"]
