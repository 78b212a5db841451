"""``make bundle``: one archive that installs the whole product on a machine with no network.

Run on a machine of the same kind (Python version, CPU, Debian release) that can reach the
package index. The archive ``dist/private-kb-<version>-<python>-<platform>-<llama build>.tar.gz``
holds, under ``private-kb-<version>/``:

- the project's files at the committed ``HEAD`` (``git archive``: uncommitted changes are left out),
- ``data/models/``: the bundled GGUF models, assembled and checked against their published hashes,
- ``bundle/wheels/``: every wheel the locked install needs (``constraints.txt``, extras ``dev``):
  the CPU PyTorch wheel, llama-cpp-python compiled once, the embedder packages, the project,
- ``bundle/requirements.txt``: each wheel pinned with its SHA-256 (pip ``--require-hashes``),
- ``bundle/debs/``: Tesseract (English, Simplified Chinese) with the Debian packages it needs,
- ``bundle/sbom.cdx.json``: a CycloneDX software bill of materials of all of the above,
- ``bundle/BUNDLE.json``: what the bundle was built for (Python, CPU features, Debian release),
- ``install.sh`` and ``SHA256SUMS`` (every file).

The same commit and lock give the same file list and hashes: timestamps are the commit's, owners
and modes normalised, the gzip header carries no time, and llama-cpp-python is compiled once per
build flavour and kept in ``build/llama/``.

    python -m devtools.bundle [--dist dist] [--llama native|portable|baseline] [--no-os-packages]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from devtools.bundle_parts import (
    LLAMA_FLAVOURS,
    cpu_flags,
    debian_release,
    os_packages,
    required_cpu_flags,
    sbom,
)
from rag.catalog import sha256_file

ROOT = Path(__file__).resolve().parent.parent
NAME = "private-kb"


def _run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def version() -> str:
    from rag import __version__

    return __version__


def archive_name(flavour: str) -> str:
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    return f"{NAME}-{version()}-{py}-linux_{platform.machine()}-{flavour}.tar.gz"


def stage_source(target: Path) -> None:
    """The committed tree (what a clean clone has), without the working folder's extras."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def llama_wheel(flavour: str, cache: Path) -> Path:
    """llama-cpp-python compiled once per flavour; later bundles reuse the wheel."""
    pin = next(line for line in (ROOT / "constraints.txt").read_text().splitlines()
               if line.startswith("llama-cpp-python=="))
    folder = cache / flavour
    if not list(folder.glob("llama_cpp_python-*.whl")):
        env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}  # it turns off
        env["CMAKE_ARGS"] = LLAMA_FLAVOURS[flavour]  # llama.cpp's native build by default
        # native: pip's own wheel cache holds the build `make install` compiled (default flags,
        # the same native build), so it is not compiled twice; portable is always compiled.
        # (PyPI has only its source; --no-binary would also bypass that cache.)
        fresh = [] if flavour == "native" else ["--no-cache-dir", "--no-binary", "llama-cpp-python"]
        print(f"building {pin} ({flavour}: {env['CMAKE_ARGS']}) once", flush=True)
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *fresh, "-w", str(folder), pin],
             env=env)
    return folder


def wheelhouse(source: Path, wheels: Path, llama: Path, epoch: int) -> None:
    """Every wheel of the locked install (extras ``dev``), sdists built into wheels here."""
    build = source.parent / "project-build"
    shutil.copytree(source, build)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    _run([sys.executable, "-m", "pip", "wheel", "-qq", "-w", str(wheels),
          "-c", str(source / "constraints.txt"), "--find-links", str(llama),
          f"{build}[dev]"], env=env)
    shutil.rmtree(build)


def write_requirements(wheels: Path, out: Path) -> list[tuple[str, str]]:
    """``name==version --hash=sha256:...`` for every wheel: pip checks each one on install."""
    from packaging.utils import parse_wheel_filename

    pinned = []
    lines = ["# Every wheel in this bundle, pinned with its hash: pip install --require-hashes"]
    for wheel in sorted(wheels.glob("*.whl")):
        name, ver, _, _ = parse_wheel_filename(wheel.name)
        pinned.append((str(name), str(ver)))
        lines.append(f"{name}=={ver} --hash=sha256:{sha256_file(wheel)}")
    out.write_text("\n".join(lines) + "\n")
    return pinned


def place_models(target: Path) -> list[dict[str, object]]:
    """The bundled GGUFs, assembled and hash-checked by the product's own code."""
    from rag.bundled_models import BUNDLED, assemble
    from rag.config import load_settings

    models_dir = Path(load_settings().models_dir)
    target.mkdir(parents=True, exist_ok=True)
    placed = []
    for name, model in sorted(BUNDLED.items()):
        path = assemble(name, models_dir)
        copy = target / model.file_name
        try:
            os.link(path, copy)
        except OSError:
            shutil.copyfile(path, copy)
        placed.append({"name": name, "file": f"data/models/{model.file_name}",
                       "sha256": model.sha256, "size": copy.stat().st_size})
    place_embedder_export(target)
    return placed


def place_embedder_export(target: Path) -> None:
    """The embedder's ONNX copies (``rag.embedder_export``), made here so that an installation
    starts answering without first spending a minute exporting them."""
    from rag.config import load_settings
    from rag.embedder_export import onnx_model
    from rag.embedders import embedder_info, embedding_model_dir

    settings = load_settings(models_dir=target, embedding_backend="onnx-int8")
    onnx_model(settings, embedding_model_dir(settings), embedder_info(settings).fingerprint)


def write_sums(top: Path) -> None:
    lines = [f"{sha256_file(p)}  {p.relative_to(top).as_posix()}" for p in sorted(top.rglob("*"))
             if p.is_file() and p.name != "SHA256SUMS"]
    (top / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def write_archive(top: Path, out: Path, epoch: int) -> str:
    """A tar.gz whose bytes depend only on the files: sorted, commit time, no owners."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
        executable = info.isdir() or info.mode & 0o100
        info.mode = 0o755 if executable else 0o644
        return info

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in [top, *sorted(top.rglob("*"))]:
            arcname = Path(top.name, path.relative_to(top)).as_posix()
            tar.add(path, arcname=arcname, recursive=False, filter=normalise)
    partial.replace(out)
    digest = sha256_file(out)
    (out.parent / (out.name + ".sha256")).write_text(f"{digest}  {out.name}\n")
    return digest


def build(dist: Path, flavour: str, work: Path, with_os_packages: bool = True) -> Path:
    started = time.monotonic()
    if _git("status", "--porcelain", "--untracked-files=no"):
        print("note: uncommitted changes are not in the bundle (it is built from HEAD)")
    epoch = int(_git("log", "-1", "--format=%ct"))
    top = work / f"{NAME}-{version()}"
    shutil.rmtree(work, ignore_errors=True)
    stage_source(top)
    payload = top / "bundle"
    (payload / "wheels").mkdir(parents=True)
    wheelhouse(top, payload / "wheels", llama_wheel(flavour, ROOT / "build" / "llama"), epoch)
    pinned = write_requirements(payload / "wheels", payload / "requirements.txt")
    models = place_models(top / "data" / "models")
    debs = os_packages(payload / "debs") if with_os_packages else []
    shutil.copy2(top / "devtools" / "install.sh", top / "install.sh")  # as committed
    (top / "install.sh").chmod(0o755)
    shutil.copy2(top / "devtools" / "bundle_install.py", payload / "install.py")
    manifest = {
        "name": NAME, "version": version(), "commit": _git("rev-parse", "HEAD"),
        "source_date_epoch": epoch,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "machine": platform.machine(), "debian": debian_release(),
        "llama_build": flavour, "llama_cmake_args": LLAMA_FLAVOURS[flavour],
        "cpu_flags_required": required_cpu_flags(flavour, cpu_flags()),
        "wheels": len(pinned), "models": models,
        "os_packages": [f"{name}={ver}" for name, ver, _ in debs],
    }
    (payload / "BUNDLE.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    sbom(top, payload / "requirements.txt", payload / "sbom.cdx.json", models, debs)
    write_sums(top)
    out = dist / archive_name(flavour)
    digest = write_archive(top, out, epoch)
    shutil.rmtree(work)
    size = out.stat().st_size
    print(f"wrote {out} ({size / 1e6:,.0f} MB, {len(pinned)} wheels, {len(models)} models, "
          f"{len(debs)} Debian packages) in {time.monotonic() - started:.0f} s")
    print(f"sha256 {digest}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bundle", description=__doc__.split("\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--llama", choices=sorted(LLAMA_FLAVOURS), default="native",
                        help="native: this CPU's instruction set (fastest); portable: any x86-64 "
                             "CPU with AVX2 (x86-64-v3); baseline: any with SSE4.2 (far slower)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bundle")
    parser.add_argument("--no-os-packages", action="store_true",
                        help="leave Tesseract's Debian packages out (OCR then needs them installed)")
    args = parser.parse_args(argv)
    build(args.dist.resolve(), args.llama, args.work.resolve(), not args.no_os_packages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
