"""Proof of an air-gapped run: commands in a network namespace that has only loopback, under
``strace``, and every connection attempt beyond loopback counted (the count must be 0).

Used by ``tests/airgap`` (``make test-airgap``). Needs root (or unprivileged user namespaces),
``unshare``, ``ip`` and ``strace``.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from pathlib import Path

_IPV4 = re.compile(r'sin_addr=inet_addr\("([^"]+)"\)')
_IPV6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')


def outside_connects(trace: str) -> list[str]:
    """strace's ``connect`` lines that aim beyond loopback (AF_UNIX and netlink are local)."""
    found = []
    for line in trace.splitlines():
        if "connect(" not in line:
            continue
        if "AF_INET6" in line:
            match = _IPV6.search(line)
        elif "AF_INET" in line:
            match = _IPV4.search(line)
        else:
            continue
        if match is None:  # an address strace printed another way: counted, to be safe
            found.append(line)
            continue
        address = ipaddress.ip_address(match.group(1))
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not (address.is_loopback or address.is_unspecified):
            found.append(line)
    return found


def run_offline(script: str, trace: Path, *, cwd: Path, env: dict[str, str],
                timeout: float) -> subprocess.CompletedProcess[str]:
    """``script`` (bash) in a new network namespace with loopback up and nothing else, every
    process traced for ``connect``; stdout and stderr captured."""
    wrapped = f"ip link set lo up\n{script}"
    return subprocess.run(
        ["unshare", "--net", "strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect",
         "-e", "signal=none", "-o", str(trace), "bash", "-euo", "pipefail", "-c", wrapped],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _depends(stanza: str, installed: dict[str, str]) -> list[str]:
    names = []
    for field in ("Pre-Depends", "Depends"):
        match = re.search(rf"^{field}: (.*)$", stanza, re.M)
        for group in match.group(1).split(",") if match else []:
            for alternative in group.split("|"):
                name = alternative.split()[0].split(":")[0]
                if name in installed:
                    names.append(name)
                    break
    return names


def base_system_status(status: str) -> str:
    """A dpkg status file of only the base system (Essential and Priority: required packages
    with what they depend on), cut from this machine's: what every Debian install has."""
    installed = {}
    for stanza in status.strip().split("\n\n"):
        match = re.search(r"^Package: (\S+)$", stanza, re.M)
        if match:
            installed[match.group(1)] = stanza
    todo = [name for name, stanza in installed.items()
            if re.search(r"^(Essential: yes|Priority: required)$", stanza, re.M)]
    base: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in base:
            base.add(name)
            todo.extend(_depends(installed[name], installed))
    return "\n\n".join(installed[name] for name in sorted(base)) + "\n"
