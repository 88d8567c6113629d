"""The suite's schedule: each test's wall time, written by bench/suite_cpu.py, weighs the work
units tests/conftest.py sends to the xdist workers (longest first)."""

from __future__ import annotations

from pathlib import Path

from conftest import DURATIONS, measured_durations

from bench.suite_cpu import Row, write_durations


def test_written_wall_times_are_read_back_the_last_run_of_a_test_counting(tmp_path: Path) -> None:
    rows = [
        Row("gw0", 100.0, 112.34, 3.0, "tests/test_a.py::test_slow"),
        Row("gw1", 100.0, 100.04, 0.0, "tests/test_a.py::test_quick[sqlite]"),
        Row("gw0", 200.0, 205.0, 2.0, "tests/test_a.py::test_slow"),  # a later run of it
    ]
    path = tmp_path / "durations.json"
    write_durations(rows, path)
    assert measured_durations(path) == {
        "tests/test_a.py::test_slow": 5.0,
        "tests/test_a.py::test_quick[sqlite]": 0.0,
    }


def test_no_usable_file_leaves_the_estimates(tmp_path: Path) -> None:
    assert measured_durations(tmp_path / "missing.json") == {}
    for text in ("{not json", "[1, 2]"):
        (tmp_path / "bad.json").write_text(text, encoding="utf-8")
        assert measured_durations(tmp_path / "bad.json") == {}


def test_the_committed_durations_cover_the_longest_tests() -> None:
    durations = measured_durations(DURATIONS)
    calibration = "tests/test_search_auth_calibration.py::test_precision_and_recall_are_one_on_every_province"
    assert durations and max(durations, key=durations.__getitem__) == calibration
