"""A process's own peak memory, for the benchmarks that start the measured process.

``getrusage``'s figure for a child counts at least the size of the process that started it
(Linux carries the parent's high-water mark over ``fork`` and ``exec``), so a child measured from
a bench with models loaded looked as big as the bench. ``VmHWM`` is the high-water mark of the
process's own memory since it started (Linux). Light on purpose: a measured child imports it.
"""

from __future__ import annotations

from pathlib import Path


def own_peak_kb() -> int:
    """This process's peak resident memory in kB (``VmHWM`` of ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/status has no VmHWM line: the benchmarks need Linux")
