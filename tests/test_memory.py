"""The process-tree peak memory meter (what bench/hostile_bench.py reports)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from zwaudit.app.memory import MIB, PeakSampler, main, measure, tree_memory, tree_pids

GRANDCHILD = "import time; block = b'\\x01' * (150 * 1024 * 1024); time.sleep(1.5)"
CHILD = textwrap.dedent(
    f"""
    import subprocess, sys
    subprocess.run([sys.executable, "-c", {GRANDCHILD!r}], check=True)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_peak_counts_grandchildren_not_just_the_child() -> None:
    result = measure([sys.executable, "-c", CHILD])
    assert result.exit_code == 0
    assert result.peak.rss >= 150 * MIB  # the 150 MiB live in the grandchild only
    assert result.peak.processes >= 2 and result.peak.samples >= 5
    assert 0 < result.peak.pss <= result.peak.rss + MIB
    assert "peak tree RSS" in result.line()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sampler_around_a_block_and_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with PeakSampler(interval=0.05) as peak:
        proc = subprocess.Popen([sys.executable, "-c", GRANDCHILD])
        assert proc.pid in tree_pids(proc.pid)
        proc.wait()
    assert peak.rss >= 150 * MIB
    rss, _pss, count = tree_memory(proc.pid)  # gone: nothing to count but the (reaped) pid
    assert rss == 0 and count == 1
    assert main(["--", sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert "wall" in capsys.readouterr().err
    assert main([]) == 2
