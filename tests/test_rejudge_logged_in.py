"""``zwaudit rejudge`` for the logged-in checks (issue 14): one audit of a sandbox province by
name_masking and duplicate_login (real Chromium), then their stored observations judged again —
same rules, same findings; a stricter masking style, exactly the finding it affects; and the
stored observations hold none of the test account's personal data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from zwaudit.app.cli import cli
from zwaudit.config.loader import Config
from zwaudit.secrets import Secrets

PORTAL = "sbx-min"  # name 张*友 (compliant), phone shown in full


def _findings(db_url: str, run_id: int) -> set[tuple[Any, ...]]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT probe, target, status, code, detail FROM finding WHERE run_id = :r"), {"r": run_id}
        )
        out = {
            (p, t, s, c, json.dumps(d if isinstance(d, dict) else json.loads(d), sort_keys=True))
            for p, t, s, c, d in rows
        }
    engine.dispose()
    return out


def _run_id(output: str) -> int:
    return int(output.strip().splitlines()[-1].split()[-1])


@pytest.mark.browser
@pytest.mark.long(15)
def test_rejudge_reproduces_and_a_masking_rule_change_moves_exactly_its_finding(
    sandbox: Any, sandbox_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = tmp_path / "evidence"
    monkeypatch.setenv("ZWAUDIT_EVIDENCE", str(evidence))
    db_url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    common = ["--config", str(sandbox.config_dir), "--db", db_url]
    runner = CliRunner()
    audited = runner.invoke(
        cli, [*common, "audit", "--portal", PORTAL, "--probe", "name_masking", "--probe", "duplicate_login"]
    )
    assert audited.exit_code == 0, audited.output
    source = _run_id(audited.output)
    before = _findings(db_url, source)
    assert {p for p, *_ in before} == {"name_masking", "duplicate_login"}

    # both checks stored an observation, and none holds the account's personal data
    files = sorted(evidence.rglob("observation.json"))
    assert {f.parent.name for f in files} == {"name_masking", "duplicate_login"}
    account = sandbox_config.portal(PORTAL).account
    assert account is not None
    personal = Secrets.for_config_dir(sandbox_config.directory).personal_data(account)
    for f in files:
        stored = f.read_text(encoding="utf-8")
        for key in ("name", "id_number", "phone"):
            assert personal[key] not in stored, (f, key)

    again = runner.invoke(cli, [*common, "rejudge", "--run", "latest"])
    assert again.exit_code == 0, again.output
    assert _findings(db_url, _run_id(again.output)) == before

    # a stricter style for names: 张*友 (two characters shown) is no longer enough
    changed = tmp_path / "config"
    shutil.copytree(sandbox.config_dir, changed)
    rules = yaml.safe_load(
        (Path(__file__).parents[1] / "config" / "masking.yaml").read_text(encoding="utf-8")
    )
    rules["name"] = [{"first": 1}]
    (changed / "masking.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    stricter = runner.invoke(
        cli,
        [
            "--config",
            str(changed),
            "--db",
            db_url,
            "rejudge",
            "--run",
            str(source),
            "--probe",
            "name_masking",
        ],
    )
    assert stricter.exit_code == 0, stricter.output
    after = _findings(db_url, _run_id(stricter.output))
    old = {(t, s, c) for p, t, s, c, _ in before if p == "name_masking"}
    new = {(t, s, c) for _, t, s, c, _ in after}
    (centre,) = {t for t, _, _ in old}
    assert new - old == {(centre, "fail", "name_unmasked")}
    assert old - new <= {(centre, "pass", None)}
    diff = runner.invoke(cli, ["--db", db_url, "diff", str(source), str(_run_id(stricter.output))])
    assert diff.exit_code == 0 and "1 new" in diff.output, diff.output
