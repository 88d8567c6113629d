"""Where the test suite's CPU goes: each test's CPU seconds, its subprocesses and Chromium included.

A pytest plugin and its summary. Loaded into a run of the suite, each pytest-xdist worker moves
itself into a cpuacct cgroup of its own (cgroup v1, as root), which every process it starts
inherits: the sandbox it serves, the CLI, crawl and nightly subprocesses, Chromium's zygote and
renderers (which ``getrusage`` misses, their parent being the zygote). The cgroup's counter read
before and after each test is that test's CPU, whatever else the machine runs meanwhile. Where
no such cgroup can be made, it says so once and records wall time only.

    PYTHONDONTWRITEBYTECODE= PYTHONPATH=bench .venv/bin/python -m pytest -q -p no:cacheprovider \\
        -p suite_cpu -n 6 --dist loadgroup --no-loadscope-reorder
    .venv/bin/python bench/suite_cpu.py [--top 30] [--durations tests/durations.json]

``--durations`` also writes each test's wall time, the weights by which tests/conftest.py sends
the suite's work units to the workers (longest first): measure with ``make test``'s worker count.
Rows go to ``var/bench/suite-cpu-<worker>.tsv`` (worker, start, end, CPU-s, test id), appended;
the summary reads every such file (delete them before a new measurement). A test's CPU includes
what its module or session fixtures spend while it runs (the first test of a file pays for the
file's server).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

OUT = Path(__file__).resolve().parent.parent / "var" / "bench"
CPUACCT = Path("/sys/fs/cgroup/cpuacct")


class _Worker:
    """This process's cgroup (``None`` when none could be made) and its rows file."""

    def __init__(self) -> None:
        self.name = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.group: Path | None = CPUACCT / f"zwaudit-suite-{os.getpid()}"
        try:
            self.group.mkdir(exist_ok=True)
            (self.group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError as exc:
            print(f"suite_cpu: no cpuacct cgroup ({exc}); wall time only", file=sys.stderr)
            self.group = None
        OUT.mkdir(parents=True, exist_ok=True)
        self.rows = (OUT / f"suite-cpu-{self.name}.tsv").open("a", encoding="utf-8")

    def cpu(self) -> float:
        if self.group is None:
            return float("nan")
        return int((self.group / "cpuacct.usage").read_text()) / 1e9


_WORKER: _Worker | None = None


def pytest_configure(config: Any) -> None:
    global _WORKER
    _WORKER = _Worker()


def pytest_unconfigure(config: Any) -> None:
    """Leave the cgroup and remove it (kept, harmlessly, while a process of the run is alive)."""
    if _WORKER is not None and _WORKER.group is not None:
        try:
            (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
            _WORKER.group.rmdir()
        except OSError:
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Generator[None, None, None]:
    assert _WORKER is not None
    start, cpu = time.time(), _WORKER.cpu()
    yield
    used = _WORKER.cpu() - cpu
    _WORKER.rows.write(f"{_WORKER.name}\t{start:.2f}\t{time.time():.2f}\t{used:.2f}\t{item.nodeid}\n")
    _WORKER.rows.flush()


class Row(NamedTuple):
    worker: str
    start: float
    end: float
    cpu: float
    test: str


def main() -> int:
    parser = argparse.ArgumentParser(description="Summarise a run of the suite under -p suite_cpu.")
    parser.add_argument("--top", type=int, default=25, help="how many tests and files to list")
    parser.add_argument(
        "--durations",
        type=Path,
        metavar="JSON",
        help="also write each test's wall time there (tests/durations.json: the suite's schedule)",
    )
    args = parser.parse_args()
    rows: list[Row] = []
    for path in sorted(OUT.glob("suite-cpu-*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split("\t", 4)
            start, end, cpu = (float(v) for v in fields[1:4])
            rows.append(Row(fields[0], start, end, cpu, fields[4].split("@", 1)[0]))
    if not rows:
        print(f"no rows under {OUT}: run the suite with -p suite_cpu first", file=sys.stderr)
        return 1
    span = max(r.end for r in rows) - min(r.start for r in rows)
    total = sum(r.cpu for r in rows)
    busy = total / span / (os.cpu_count() or 1)
    print(f"{len(rows)} tests, {total:.0f} CPU-s in {span:.0f} s: the tests kept the cores {busy:.0%} busy")
    print(f"\n{'CPU-s':>7} {'wall':>7}  test")
    for row in sorted(rows, key=lambda r: -r.cpu)[: args.top]:
        print(f"{row.cpu:7.1f} {row.end - row.start:7.1f}  {row.test}")
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for row in rows:
        entry = files[row.test.split("::", 1)[0]]
        entry[0] += row.cpu
        entry[1] += row.end - row.start
        entry[2] += 1
    print(f"\n{'CPU-s':>7} {'wall':>7} {'tests':>5}  file")
    for name, (cpu, wall, count) in sorted(files.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"{cpu:7.1f} {wall:7.1f} {count:5.0f}  {name}")
    if args.durations is not None:
        write_durations(rows, args.durations)
        print(f"\nwall times of {len({r.test for r in rows})} tests written to {args.durations}")
    return 0


def write_durations(rows: list[Row], path: Path) -> None:
    """Each test's wall time (its last row), to a tenth of a second, one test a line."""
    walls = {row.test: round(max(row.end - row.start, 0.0), 1) for row in sorted(rows, key=lambda r: r.start)}
    path.write_text(
        json.dumps(dict(sorted(walls.items())), indent=0, ensure_ascii=False) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    sys.exit(main())
