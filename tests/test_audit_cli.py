"""``zwaudit audit`` and ``zwaudit calibrate``'s engine end to end on the sandbox (real Chromium).

Also the privacy guarantee: after a run, neither the evidence directory nor the database holds
the test account's name, ID number or phone in unmasked form.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from zwaudit.app.calibration import calibrate
from zwaudit.app.cli import cli
from zwaudit.config.loader import Config
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.secrets import Secrets

PROBES = ["name_masking", "duplicate_login"]


def unmasked_values(config: Config, portal_id: str) -> dict[str, str]:
    account = config.portal(portal_id).account
    assert account is not None
    personal = Secrets.for_config_dir(config.directory).personal_data(account)
    return {k: v for k, v in personal.items() if k in ("name", "id_number", "phone")}


def assert_nothing_leaked(
    values: dict[str, str], evidence: Path, db_url: str, texts: dict[str, str] | None = None
) -> int:
    """Grep every evidence file, every stored text and ``texts`` (logs, CSVs) for the values.

    Screenshots are images: their pixels are checked by ``test_name_masking_screenshot``; here
    their bytes are grepped too, for text chunks (PNG metadata) that could carry the values.
    """
    loose = {k: re.compile(r"[\s\-]?".join(map(re.escape, v)), re.I) for k, v in values.items()}
    for where, content in (texts or {}).items():
        for kind, pattern in loose.items():
            assert not pattern.search(content), f"{kind} unmasked in {where}"
    files = [p for p in evidence.rglob("*") if p.is_file()]
    for path in files:
        content = path.read_bytes().decode("utf-8", errors="ignore")
        for kind, pattern in loose.items():
            assert not pattern.search(content), f"{kind} unmasked in {path}"
    engine = create_engine(db_url)
    with engine.connect() as conn:
        for table in ("finding", "evidence", "run", "portal"):
            dump = " ".join(str(row) for row in conn.execute(text(f"SELECT * FROM {table}")))
            for kind, pattern in loose.items():
                assert not pattern.search(dump), f"{kind} unmasked in table {table}"
    engine.dispose()
    return len(files)


@pytest.mark.browser
@pytest.mark.long(25)
def test_audit_cli_on_one_province_matches_ground_truth_and_leaks_nothing(
    sandbox: Any,
    sandbox_config: Config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    evidence = tmp_path / "evidence"
    monkeypatch.setenv("ZWAUDIT_EVIDENCE", str(evidence))
    db_url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    common = ["--config", str(sandbox.config_dir), "--db", db_url]
    args = [*common, "-v", "--log-format", "json", "audit", "--portal", "sbx-shu"]
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(cli, [*args, "--probe", "name_masking", "--probe", "duplicate_login"])
    assert result.exit_code == 0, result.output
    run_id = int(result.output.strip().splitlines()[-1].split()[-1])

    engine = create_engine(db_url)
    with engine.connect() as conn:
        found = {
            (probe, target, status, code)
            for probe, target, status, code in conn.execute(
                text("SELECT probe, target, status, code FROM finding WHERE run_id = :r"), {"r": run_id}
            )
        }
        status = conn.execute(text("SELECT status FROM run WHERE id = :r"), {"r": run_id}).scalar_one()
    engine.dispose()
    assert status == "ok"
    truth = sandbox.ground_truth("sbx-shu")["expectations"]
    expected_fails = {
        (e["probe"], e["target"], "fail", e["code"])
        for e in truth
        if e["probe"] in PROBES and e["status"] == "fail"
    }
    assert expected_fails and {f for f in found if f[2] == "fail"} == expected_fails
    assert not [f for f in found if f[2] == "error"]
    csv_path = tmp_path / "findings.csv"
    exported = CliRunner().invoke(cli, [*common, "export", "--run", "latest", "--out", str(csv_path)])
    assert exported.exit_code == 0, exported.output
    csv_text = csv_path.read_text(encoding="utf-8-sig")
    assert "name_masking" in csv_text and "duplicate_login" in csv_text
    texts = {"CLI output and log lines": result.output, "captured log records": caplog.text, "CSV": csv_text}
    personal = unmasked_values(sandbox_config, "sbx-shu")
    assert assert_nothing_leaked(personal, evidence, db_url, texts) >= 4

    # "we fixed it": rerun exactly one check on one portal
    again = CliRunner().invoke(cli, [*common, "audit", "--portal", "sbx-shu", "--probe", "name_masking"])
    assert again.exit_code == 0, again.output
    assert "name_masking" in again.output and "duplicate_login" not in again.output


@pytest.mark.browser
@pytest.mark.long(18)
def test_calibration_with_the_captcha_province_uses_a_saved_session(
    sandbox: Any, sandbox_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sbx-jin's login has an image captcha: only the stand-in person's saved session gets in."""
    assert sandbox.ground_truth("sbx-jin")["notes"]["captcha_login"] is True
    evidence = tmp_path / "evidence"
    monkeypatch.setenv("ZWAUDIT_EVIDENCE", str(evidence))
    db_url = f"sqlite:///{tmp_path / 'cal.sqlite'}"
    engine = make_engine(db_url)
    upgrade(engine)
    _, report = calibrate(
        sandbox_config,
        session_factory(engine),
        ground_truth_dir=sandbox.ground_truth_dir,
        captcha_dir=sandbox.captcha_dir,
        probes=PROBES,
        db_url=db_url,
        portal_ids=["sbx-jin"],
    )
    engine.dispose()
    assert report.errors == []
    assert {p: (s.tp, s.fp, s.fn) for p, s in report.per_probe.items()}["name_masking"][1:] == (0, 0)
    assert all(s.precision == 1.0 and s.recall == 1.0 for s in report.per_probe.values())
    assert sum(s.tp for s in report.per_probe.values()) >= 2
    session = Path(str(tmp_path / "var" / "sessions" / "sbx-jin.json"))
    assert session.exists() and session.stat().st_mode & 0o077 == 0
    assert_nothing_leaked(unmasked_values(sandbox_config, "sbx-jin"), evidence, db_url)
