"""A pause point for fault-injection tests: where a test kills, or cuts the database under, a run.

Used only by tests (``tests/test_faults.py``); with ``ZWAUDIT_FAULT_PAUSE_AT`` unset every call is
one environment lookup. With ``ZWAUDIT_FAULT_PAUSE_AT=<stage>[,<stage>…]`` and
``ZWAUDIT_FAULT_DIR=<dir>``, the process reaching a listed stage writes ``<dir>/<stage>.paused``
(its pid) and waits until ``<dir>/<stage>.go`` exists, then goes on. A test waits for the first
file, then kills the process (SIGKILL by that pid) or breaks something and writes the second: the
kill lands at a known point, without sleeps.

Stages: ``crawl`` (the crawl subprocess is running), ``probes`` (the first check's findings are
stored, the others not), ``score`` (the audit is stored, scoring not started), ``export`` (the CSV
is written, the bundle not).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "ZWAUDIT_FAULT_PAUSE_AT"
DIR_ENV = "ZWAUDIT_FAULT_DIR"
MAX_PAUSE_S = 600.0  # a test that forgot to release us must not hang CI forever


def pause_at(stage: str) -> None:
    """Pause at ``stage`` when a test asked for it (see the module docstring)."""
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted or stage not in wanted.split(","):
        return
    directory = Path(os.environ.get(DIR_ENV, "."))
    go = directory / f"{stage}.go"
    scratch = directory / f"{stage}.paused.tmp"
    scratch.write_text(str(os.getpid()))
    scratch.replace(directory / f"{stage}.paused")  # atomic: the test never reads half a pid
    deadline = time.monotonic() + MAX_PAUSE_S
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
