"""Calibration scores per style family and overall; ``zwaudit calibrate --family`` selection."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from zwaudit.app.calibration import CalibrationReport, Reported, compare
from zwaudit.app.cli import calibrate as calibrate_cli
from zwaudit.errors import UsageError

TRUTH = {
    "sbx-a": [
        {"probe": "search_accuracy", "target": "低保", "status": "fail", "code": "not_found"},
        {"probe": "search_accuracy", "target": "社保", "status": "pass"},
    ],
    "sbx-b": [
        {"probe": "search_accuracy", "target": "低保", "status": "fail", "code": "imprecise"},
        {"probe": "search_accuracy", "target": "结婚", "status": "pass"},
        {"probe": "duplicate_login", "target": "https://d/apply", "status": "fail", "code": "second_login"},
    ],
}
FAMILIES = {"sbx-a": "sandbox-1", "sbx-b": "real-structure"}


def _reported() -> list[Reported]:
    return [
        Reported("sbx-a", "search_accuracy", "低保", "fail", "not_found"),
        Reported("sbx-b", "search_accuracy", "低保", "fail", "incomplete"),  # wrong code: FP + FN
        Reported("sbx-b", "search_accuracy", "结婚", "fail", "incomplete"),  # a compliant case: FP
        Reported("sbx-b", "duplicate_login", "https://d/", "error", "element_not_found"),
    ]


def test_scores_per_family_and_overall() -> None:
    report = compare(TRUTH, _reported(), ["search_accuracy", "duplicate_login"], 7, FAMILIES)
    one = report.per_family["sandbox-1"]
    real = report.per_family["real-structure"]
    assert (one["search_accuracy"].tp, one["search_accuracy"].fp, one["search_accuracy"].fn) == (1, 0, 0)
    assert (real["search_accuracy"].tp, real["search_accuracy"].fp, real["search_accuracy"].fn) == (0, 2, 1)
    assert (real["duplicate_login"].tp, real["duplicate_login"].fn) == (0, 1)
    assert one["duplicate_login"].precision == 1.0 and one["duplicate_login"].recall == 1.0
    assert (report.overall.tp, report.overall.fp, report.overall.fn) == (1, 2, 2)
    # the per-check totals are the sums over families
    for probe, total in report.per_probe.items():
        parts = [report.per_family[f][probe] for f in report.per_family]
        assert (total.tp, total.fp, total.fn) == (
            sum(p.tp for p in parts),
            sum(p.fp for p in parts),
            sum(p.fn for p in parts),
        )
    assert len(report.errors) == 1 and report.below(1.0) == ["duplicate_login", "search_accuracy"]


def test_a_ground_truth_without_family_counts_as_sandbox_1() -> None:
    report = compare(TRUTH, _reported(), ["search_accuracy"])
    assert list(report.per_family) == ["sandbox-1"]
    assert report.per_family["sandbox-1"]["search_accuracy"].fp == 2


def test_family_table_lists_each_family_and_the_overall_row() -> None:
    report = compare(TRUTH, _reported(), ["search_accuracy", "duplicate_login"], 7, FAMILIES)
    console = Console(width=200, record=True)
    console.print(calibrate_cli.family_table(report))
    text = console.export_text()
    cells = {tuple(c.strip() for c in line.split("│")[1:-1]) for line in text.splitlines() if "│" in line}
    assert ("real-structure", "search_accuracy", "0", "2", "1", "0.00", "0.00") in cells
    assert ("sandbox-1", "all", "1", "0", "0", "1.00", "1.00") in cells
    assert ("overall", "all", "1", "2", "2", "0.33", "0.33") in cells


def test_family_option_selects_provinces() -> None:
    assert calibrate_cli.chosen_provinces((), ()) is None
    assert calibrate_cli.chosen_provinces((), ("real-structure",)) == ["sbx-yue", "sbx-zj", "sbx-chuan"]
    assert calibrate_cli.chosen_provinces(("sbx-shu", "sbx-zj"), ("real-structure",)) == ["sbx-zj"]
    assert len(calibrate_cli.chosen_provinces((), ("sandbox-1",)) or []) == 6
    with pytest.raises(UsageError):
        calibrate_cli.chosen_provinces((), ("nope",))
    with pytest.raises(UsageError):
        calibrate_cli.chosen_provinces(("sbx-shu",), ("real-structure",))


def test_cli_prints_per_family_and_keeps_the_exit_rule(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Below --threshold → exit 1; the sandbox starts only the chosen family's provinces."""
    from zwaudit.app.cli import cli

    started: list[Any] = []

    def fake_calibrate(config: Any, sf: Any, **kwargs: Any) -> tuple[None, CalibrationReport]:
        started.append(sorted(config.portals))
        return None, compare(TRUTH, _reported(), ["search_accuracy", "duplicate_login"], 3, FAMILIES)

    monkeypatch.setattr(calibrate_cli, "calibrate", fake_calibrate)
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    runner = CliRunner()
    failing = runner.invoke(cli, ["--db", db, "calibrate", "--family", "real-structure"])
    assert started == [["sbx-chuan", "sbx-yue", "sbx-zj"]]
    assert failing.exit_code == 1, failing.output
    assert (
        "per family" in failing.output and "real-structure" in failing.output and "overall" in failing.output
    )
    passing = runner.invoke(cli, ["--db", db, "calibrate", "--family", "real-structure", "--threshold", "0"])
    assert passing.exit_code == 0, passing.output
    bad = runner.invoke(cli, ["--db", db, "calibrate", "--family", "nope"])
    assert bad.exit_code != 0 and "unknown family" in bad.output
