"""The offline bundle's installer: ``bundle/install.py``, run by ``install.sh`` once every file
has matched ``SHA256SUMS``. Standard library only: it runs before anything is installed.

It checks the machine (Python version, CPU features of the llama.cpp build), installs Tesseract's
Debian packages from the bundle when they are missing, copies the application into the target
folder, builds ``.venv`` with ``pip --no-index --require-hashes --only-binary :all:`` from the
bundle's wheels alone, and checks that it imports. An upgrade (a newer bundle into a folder an
older one installed) replaces the application's files and ``.venv`` and keeps everything else:
the store (``data/chroma`` or wherever ``.env`` puts it), the users, ``.env``, and documents a
user added or changed under ``data/docs``. A failed install puts the previous ``.venv`` back.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent
TOP = BUNDLE.parent
RECORD = ".bundle"  # in the installation: BUNDLE.json, the SBOM, the installed files
USER_DATA = "data/docs/"
_AVX2_LEVEL = {"avx", "avx2", "bmi2", "f16c", "fma", "sse4_2"}  # LLAMA_BUILD=portable needs  # files here that a user changed are never replaced or removed


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_machine(manifest: dict, cpuinfo: str, python: tuple[int, int], machine: str) -> None:
    """Refuse a machine of another kind, saying what to do instead."""
    want = manifest["python"]
    if f"{python[0]}.{python[1]}" != want:
        fail(f"this bundle was built for Python {want} (its wheels are for that version), but "
             f"{sys.executable} is Python {python[0]}.{python[1]}: run it with that version, "
             f"e.g. PYTHON=/usr/bin/python{want} ./install.sh, or build a bundle with "
             f"Python {python[0]}.{python[1]} on the connected machine")
    if machine != manifest["machine"]:
        fail(f"this bundle is for {manifest['machine']} machines, this one is {machine}")
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    missing = [f for f in manifest["cpu_flags_required"] if f not in flags]
    if missing:
        fits = "portable" if _AVX2_LEVEL <= flags else "baseline"
        fail(f"this bundle's llama.cpp was built ({manifest['llama_build']}) for CPUs with "
             f"{', '.join(missing)}, which this CPU lacks, so the language model would crash: "
             f"on the connected machine build a bundle this CPU runs with "
             f"`make bundle LLAMA_BUILD={fits}` (README: Installing without network)")


def app_files(top: Path) -> dict[str, str]:
    """The application's files and hashes: everything in SHA256SUMS but the install payload."""
    files = {}
    for line in (top / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        if not name.startswith("bundle/") and name != "install.sh":
            files[name] = digest
    return files


def sync_files(top: Path, target: Path, files: dict[str, str],
               previous: dict[str, str]) -> list[str]:
    """Copy the application into ``target``; remove what the previous version had and this one
    does not. Returns the user's files that were kept as they are."""
    kept = []

    def users_own(name: str, path: Path) -> bool:
        return (name.startswith(USER_DATA) and path.exists()
                and sha256_of(path) != previous.get(name))

    for name, digest in files.items():
        dest = target / name
        if users_own(name, dest) and sha256_of(dest) != digest:
            kept.append(name)
            continue
        if top != target:
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(dest.name + ".installing")
            shutil.copy2(top / name, partial)
            partial.replace(dest)
    for name in sorted(previous.keys() - files.keys()):
        path = target / name
        if users_own(name, path):
            kept.append(name)
        else:
            path.unlink(missing_ok=True)
    return kept


def _installed(package: str) -> bool:
    found = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                           capture_output=True, text=True)
    return found.returncode == 0 and found.stdout.endswith(" installed")


def os_packages() -> None:
    """Tesseract from the bundle's .deb files, unless it is there already (OCR is optional)."""
    have = shutil.which("tesseract") and "chi_sim" in subprocess.run(
        ["tesseract", "--list-langs"], capture_output=True, text=True).stdout
    debs = sorted((BUNDLE / "debs").glob("*.deb"))
    if have or not debs:
        print("Tesseract: " + ("already installed" if have else "not in this bundle (no OCR)"))
        return
    names = {d: d.name.split("_", 1)[0] for d in debs}
    missing = [str(d) for d in debs if not _installed(names[d])]
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"],
                                                   capture_output=True).returncode == 0:
            cmd = ["sudo", "-n", *cmd]
        else:
            print("warning: Tesseract (OCR of scanned PDFs and images) is not installed and this "
                  f"is not root: run `sudo apt-get install --no-install-recommends {BUNDLE}/debs/*.deb`; "
                  "everything else works without it")
            return
    print(f"installing Tesseract from {len(missing)} Debian packages in the bundle ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(cmd, env=env).returncode != 0:
        print(f"warning: Tesseract could not be installed (see above); run `{' '.join(cmd)}` "
              "once that is fixed. Everything but OCR works without it")


def build_venv(target: Path) -> None:
    """``target/.venv`` from the bundle's wheels only; the previous one back on failure."""
    venv, previous = target / ".venv", target / ".venv.previous"
    shutil.rmtree(previous, ignore_errors=True)
    if venv.exists():
        venv.rename(previous)
    python = venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--isolated", "--no-index", "--only-binary=:all:",
         "--require-hashes", "--disable-pip-version-check", "--no-warn-script-location",
         "--quiet", "--find-links", str(BUNDLE / "wheels"), "-r", str(BUNDLE / "requirements.txt")],
        [str(python), "-c", "import llama_cpp, torch, chromadb, rag.cli, ingest, ui, api"],
    ]
    print("installing the Python packages from the bundle (no index, hashes checked) ...")
    for step in steps:
        if subprocess.run(step, cwd=target).returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            if previous.exists():
                previous.rename(venv)
            fail(f"`{' '.join(step)}` failed (see above); the previous installation, if any, "
                 "is unchanged")
    shutil.rmtree(previous, ignore_errors=True)
    (venv / ".installed").touch()  # the Makefile's stamp: make run does not reinstall


def check_store(target: Path) -> None:
    """After an upgrade: the existing store opens with this version (a dry run of ``make
    ingest``: nothing is written), or the product says what to run."""
    python = target / ".venv" / "bin" / "python"
    found = subprocess.run([str(python), "-m", "ingest", "--dry-run", "--no-progress"],
                           cwd=target, capture_output=True, text=True)
    if found.returncode in (0, 1):
        print("the knowledge base opens with this version; `make ingest` would do this:\n"
              + found.stdout.strip())
    else:
        print("warning: the knowledge base needs attention before use:\n" + found.stderr.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./install.sh", description=__doc__.split("\n")[0])
    parser.add_argument("target", nargs="?", type=Path, default=TOP,
                        help="folder to install into or upgrade (default: this bundle's folder)")
    parser.add_argument("--no-os-packages", action="store_true",
                        help="do not install Tesseract's Debian packages")
    args = parser.parse_args(argv)
    started = time.monotonic()
    manifest = json.loads((BUNDLE / "BUNDLE.json").read_text())
    check_machine(manifest, Path("/proc/cpuinfo").read_text(), sys.version_info[:2],
                  platform.machine())
    target = args.target.resolve()
    record = target / RECORD
    installed = record / "installed.json"
    previous = json.loads(installed.read_text())["files"] if installed.exists() else {}
    if target != TOP and target.exists() and any(target.iterdir()) and not previous:
        fail(f"{target} is not empty and no bundle installed it: name an empty or new folder, "
             "or a folder an earlier bundle installed (to upgrade it)")
    print(f"installing {manifest['name']} {manifest['version']} into {target}")
    if not args.no_os_packages:
        os_packages()
    files = app_files(TOP)
    kept = sync_files(TOP, target, files, previous)
    build_venv(target)
    record.mkdir(exist_ok=True)
    for name in ("BUNDLE.json", "sbom.cdx.json"):
        shutil.copy2(BUNDLE / name, record / name)
    installed.write_text(json.dumps({"version": manifest["version"], "files": files}, indent=1))
    for name in kept:
        print(f"kept your changed file {name}")
    if previous:
        check_store(target)
    print("what this machine can run (python -m rag doctor):")
    subprocess.run([str(target / ".venv" / "bin" / "python"), "-m", "rag", "doctor"], cwd=target)
    print(f"installed in {time.monotonic() - started:.0f} s. Next, in {target}: `make run` (chat "
          "page), `make ingest` (your documents from data/docs), "
          "`.venv/bin/python -m rag ask \"...\"`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
