"""The machine's busy CPU time, for the benches that run Chromium.

Chromium's renderers are reaped by its zygote, so ``getrusage`` of a child process misses most of
the browser's work; these benches count the whole machine's busy time instead (``/proc/stat``),
which also counts anything else the machine runs meanwhile: run them on a quiet machine.
"""

from __future__ import annotations

import os


def busy_cpu() -> float:
    """CPU seconds the machine has been busy since boot (all cores, idle and iowait excluded)."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
