"""Peak memory of a whole process tree: zwaudit, its crawl subprocess, Playwright's driver and
every Chromium process under it (Linux ``/proc``).

``getrusage(RUSAGE_CHILDREN)`` reports the largest single descendant, not their sum, and misses
processes still running; a run's memory is the *sum* over the tree at its worst moment. So a
sampler thread walks the tree every ``interval`` seconds and keeps the peak of:

- ``rss``: the sum of each process's resident set (``VmRSS``). Pages shared between processes
  (Chromium's) are counted once per process, so this over-states: a safe upper bound.
- ``pss``: the sum of proportional set sizes (``/proc/<pid>/smaps_rollup``), shared pages split
  between their users: what the tree really costs the machine (0 where the kernel hides it).

A peak shorter than ``interval`` can be missed; 0.1 s catches a page being parsed whole.
Use it around a call (:class:`PeakSampler`) or around a command::

    python -m zwaudit.app.memory -- zwaudit --config var/sandbox/config audit --portal sbx-x
    # wall 183.2 s, peak tree RSS 812.4 MiB, peak tree PSS 604.1 MiB, 14 processes at most, exit 0
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
MIB = 1024 * 1024


def _children_map() -> dict[int, list[int]]:
    """ppid → pids, from ``/proc/<pid>/stat`` (works without ``CONFIG_PROC_CHILDREN``)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone since the listing
            continue
        # the command name (field 2) may hold spaces and parentheses: split after the last ")"
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_pids(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    children = _children_map()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


#: the executable names of Chromium's processes (Debian's, Google's, Playwright's headless shell)
CHROMIUM_NAMES = ("chromium", "chrome", "headless_shell")


def chromium_processes(root: int | None = None) -> dict[int, list[str]]:
    """The Chromium processes under ``root`` (``root`` included; every one on the machine when
    None), each with its command line. Chromium's helpers (zygote, renderer, GPU …) rewrite theirs
    as one string, so it is split on spaces as well as on NULs."""
    pids = tree_pids(root) if root is not None else [int(e.name) for e in PROC.iterdir() if e.name.isdigit()]
    found: dict[int, list[str]] = {}
    for pid in pids:
        try:
            raw = (PROC / str(pid) / "cmdline").read_bytes()
        except OSError:  # gone since the listing
            continue
        argv = raw.decode(errors="replace").replace("\0", " ").split()
        if argv and argv[0].rsplit("/", 1)[-1] in CHROMIUM_NAMES:
            found[pid] = argv
    return found


def chromium_kind(argv: list[str]) -> str:
    """``browser`` for the browser process itself, else the helper's ``--type`` (``renderer`` …)."""
    return next((a.split("=", 1)[1] for a in argv if a.startswith("--type=")), "browser")


def _kib_field(path: Path, name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_memory(root: int) -> tuple[int, int, int]:
    """(rss bytes, pss bytes, processes) of the tree under ``root`` now."""
    rss = pss = 0
    pids = tree_pids(root)
    for pid in pids:
        rss += _kib_field(PROC / str(pid) / "status", "VmRSS:")
        pss += _kib_field(PROC / str(pid) / "smaps_rollup", "Pss:")
    return rss, pss, len(pids)


@dataclass
class Peak:
    rss: int = 0
    pss: int = 0
    processes: int = 0
    samples: int = 0

    def line(self) -> str:
        return (
            f"peak tree RSS {self.rss / MIB:.1f} MiB, peak tree PSS {self.pss / MIB:.1f} MiB, "
            f"{self.processes} processes at most"
        )


class PeakSampler:
    """``with PeakSampler() as peak: …`` — the peak of :func:`tree_memory` while the block runs
    (default root: this process, so every subprocess it starts is included)."""

    def __init__(self, root: int | None = None, interval: float = 0.1) -> None:
        self.root = root if root is not None else os.getpid()
        self.interval = interval
        self.peak = Peak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def sample(self) -> None:
        rss, pss, count = tree_memory(self.root)
        peak = self.peak
        peak.rss, peak.pss = max(peak.rss, rss), max(peak.pss, pss)
        peak.processes = max(peak.processes, count)
        peak.samples += 1

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Peak:
        self._thread.start()
        return self.peak

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@dataclass(frozen=True)
class Measurement:
    exit_code: int
    wall_s: float
    peak: Peak

    def line(self) -> str:
        return f"wall {self.wall_s:.1f} s, {self.peak.line()}, exit {self.exit_code}"


def measure(cmd: list[str], *, interval: float = 0.1, **popen: object) -> Measurement:
    """Run ``cmd`` to its end; its wall time and the peak memory of its whole tree."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, **popen)  # type: ignore[call-overload]
    with PeakSampler(proc.pid, interval) as peak:
        code = proc.wait()
    return Measurement(int(code), time.monotonic() - started, peak)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python -m zwaudit.app.memory -- COMMAND [ARG …]", file=sys.stderr)
        return 2
    result = measure(args)
    print(result.line(), file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
