"""bench/hostile_bench.py measures the auditor's whole process tree, children included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hostile_bench import tree_rss_bytes


def test_tree_rss_counts_grandchildren() -> None:
    code = "import subprocess,sys;subprocess.run([sys.executable,'-c','x=bytearray(80<<20);import time;time.sleep(30)'])"
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and tree_rss_bytes(child.pid) < 80 << 20:
            time.sleep(0.1)
        assert tree_rss_bytes(child.pid) >= 80 << 20  # the 80 MiB live in the grandchild
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the group this test started, by its id
        child.wait()
