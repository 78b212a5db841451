"""The offline bundle's machine-specific parts: the llama.cpp build, Debian packages, the SBOM."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

# CMAKE_ARGS for llama-cpp-python, and what each build needs of a CPU (as /proc/cpuinfo names
# it). native: whatever the building CPU has (-march=native), the fastest. portable: AVX2, FMA,
# F16C, BMI2 (x86-64-v3: Intel since 2013, AMD since 2015), about as fast here. baseline: SSE4.2
# only, any x86-64 CPU of the last fifteen years, many times slower (README).
LLAMA_FLAVOURS = {
    "native": "-DGGML_NATIVE=ON",
    "portable": "-DGGML_NATIVE=OFF",  # llama.cpp then turns on AVX, AVX2, FMA, F16C, BMI2
    "baseline": "-DGGML_NATIVE=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF "
                "-DGGML_F16C=OFF -DGGML_BMI2=OFF",
}
_NEEDS = {
    "portable": ["avx", "avx2", "bmi2", "f16c", "fma", "sse4_2"],
    "baseline": ["sse4_2"],
}
# Instruction-set extensions a compiler may use with -march=native (as /proc/cpuinfo names them).
ISA_FLAGS = frozenset({
    "sse3", "ssse3", "sse4_1", "sse4_2", "sse4a", "popcnt", "abm", "movbe", "bmi1", "bmi2",
    "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512cd", "avx512bw", "avx512dq",
    "avx512vl", "avx512_vnni", "avx512_bf16", "avx512vbmi", "avx512_vbmi2", "avx512ifma",
    "amx_tile", "amx_int8", "amx_bf16",
})
# What Tesseract needs for the two OCR languages the product uses.
OCR_PACKAGES = ("tesseract-ocr", "tesseract-ocr-eng", "tesseract-ocr-chi-sim", "tesseract-ocr-osd")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    if cpuinfo is None:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def required_cpu_flags(flavour: str, flags: set[str]) -> list[str]:
    """The CPU features a machine needs to run this build of llama.cpp."""
    if flavour in _NEEDS:
        return _NEEDS[flavour]
    return sorted(flags & ISA_FLAGS)


def debian_release() -> str:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return "unknown"
    found = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', text, re.M))
    return f"{found.get('ID', 'unknown')} {found.get('VERSION_ID', '')}".strip()


def _apt(*args: str) -> str:
    return subprocess.run(["apt-cache", *args], check=True, capture_output=True, text=True).stdout


def _base_system(names: list[str]) -> set[str]:
    """Packages every Debian system has (Essential or Priority: required): never shipped."""
    base, name, fields = set(), None, {}
    for line in _apt("show", "--no-all-versions", *names).splitlines() + [""]:
        if not line:
            if name and (fields.get("Essential") == "yes" or fields.get("Priority") == "required"):
                base.add(name)
            name, fields = None, {}
        elif ":" in line and not line.startswith(" "):
            key, value = line.split(":", 1)
            if key == "Package":
                name = value.strip()
            fields[key] = value.strip()
    return base


def os_packages(target: Path) -> list[tuple[str, str, str]]:
    """Tesseract and everything it depends on beyond the base system, as .deb files:
    (package, version, file name)."""
    closure = _apt("depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                   "--no-breaks", "--no-replaces", "--no-enhances", *OCR_PACKAGES)
    names = sorted({line for line in closure.splitlines()
                    if line and not line.startswith((" ", "<"))})
    wanted = [n for n in names if n not in _base_system(names)]
    target.mkdir(parents=True, exist_ok=True)
    download = ["apt-get", "download", "-qq", *wanted]
    if subprocess.run(download, cwd=target, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)  # no package lists yet
        subprocess.run(download, cwd=target, check=True)
    out = []
    for deb in sorted(target.glob("*.deb")):
        fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version"], check=True,
                                capture_output=True, text=True).stdout
        info = dict(line.split(": ", 1) for line in fields.splitlines())
        out.append((info["Package"], info["Version"], deb.name))
    return out


def sbom(top: Path, requirements: Path, out: Path, models: list[dict[str, Any]],
         debs: list[tuple[str, str, str]]) -> None:
    """CycloneDX (cyclonedx-py) from the pinned, hashed wheels, plus the models and .debs."""
    subprocess.run([sys.executable, "-W", "ignore::UserWarning", "-m", "cyclonedx_py", "requirements", "--pyproject",
                    str(top / "pyproject.toml"), "--output-reproducible", "--of", "JSON",
                    "-o", str(out), str(requirements)], check=True)
    doc = json.loads(out.read_text())
    components = doc.setdefault("components", [])
    for model in models:
        components.append({
            "type": "machine-learning-model", "bom-ref": f"model:{model['name']}",
            "name": str(model["name"]), "description": f"GGUF file {model['file']}",
            "hashes": [{"alg": "SHA-256", "content": model["sha256"]}]})
    for name, ver, file in debs:
        arch = file.rsplit("_", 1)[-1].removesuffix(".deb")
        components.append({
            "type": "library", "bom-ref": f"deb:{name}", "name": name, "version": ver,
            "purl": f"pkg:deb/debian/{name}@{ver}?arch={arch}"})
    out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
