"""Calibration of search_accuracy and auth_https on every sandbox-1 province (real Chromium).

Runs the same code path as ``zwaudit calibrate --family sandbox-1 --probe search_accuracy --probe
auth_https``: precision and recall must be 1.0, no ``error`` finding, and every expected ``pass``
reported. The real-structure family (issue 13) is measured by ``zwaudit calibrate --family
real-structure``; add it here once its search judgement is catalogue-aware.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.provinces import family_of
from zwaudit.app.calibration import calibrate, reported_findings
from zwaudit.config.loader import Config
from zwaudit.db.engine import make_engine, session_factory, upgrade

PROBES = ["search_accuracy", "auth_https"]


@pytest.mark.browser
@pytest.mark.timeout(900)  # calibration crawls every province too: search is judged against its catalogue
@pytest.mark.long(130)
def test_precision_and_recall_are_one_on_every_province(
    sandbox: Any, sandbox_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZWAUDIT_EVIDENCE", str(tmp_path / "evidence"))
    db_url = f"sqlite:///{tmp_path / 'calibration.sqlite'}"
    engine = make_engine(db_url)
    upgrade(engine)
    sf = session_factory(engine)
    portal_ids = [p for p in sandbox.portal_ids if family_of(p) == "sandbox-1"]
    try:
        result, report = calibrate(
            sandbox_config,
            sf,
            ground_truth_dir=sandbox.ground_truth_dir,
            captcha_dir=sandbox.captcha_dir,
            probes=PROBES,
            db_url=db_url,
            portal_ids=portal_ids,
        )
        assert report.errors == []
        assert report.false_positives == [] and report.false_negatives == []
        for probe in PROBES:
            assert (report.per_probe[probe].precision, report.per_probe[probe].recall) == (1.0, 1.0)
        reported = {
            (r.portal_id, r.probe, r.target, r.status, r.code) for r in reported_findings(sf, result.run_id)
        }
        for pid in portal_ids:
            for e in sandbox.ground_truth(pid)["expectations"]:
                if e["probe"] in PROBES:
                    assert (pid, e["probe"], e["target"], e["status"], e.get("code")) in reported
        evidence = list((tmp_path / "evidence").rglob("*.png"))
        assert evidence, "screenshots are written as evidence"
    finally:
        engine.dispose()
