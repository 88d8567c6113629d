"""Scoring stored runs on SQLite and PostgreSQL: hand-computed values, manual CSV, idempotent
rescoring, and the ``zwaudit score`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from test_scoring_helpers import NINE, project_config

from scoring.api import import_manual_csv, score_run
from zwaudit.app.cli import cli
from zwaudit.config.schema import PortalProfile
from zwaudit.db import models, store
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.errors import ConfigError
from zwaudit.findings import Finding, error_finding
from zwaudit.outcomes import ErrorKind, Status

KEYWORDS = ["公积金", "个税", "社保", "结婚", "低保", "网约车", "卫生证", "身份证", "开公司", "工业生产许可"]


def F(probe: str, target: str, code: str | None = None) -> Finding:
    return Finding(probe, target, Status.FAIL if code else Status.PASS, code)


def audit_p1() -> list[Finding]:
    """A good portal: one keyword incomplete, one timed out, one department asks a second login …"""
    out = [F("search_accuracy", k) for k in KEYWORDS if k not in ("低保", "网约车")]
    out += [F("search_accuracy", "低保", "incomplete")]
    out += [error_finding("search_accuracy", "网约车", ErrorKind.TIMEOUT, "results did not load")]
    out += [F("auth_https", "https://p1/login"), F("name_masking", "https://p1/user")]
    out += [F("duplicate_login", f"https://d{i}/") for i in range(3)]
    out += [F("duplicate_login", "https://d3/", "second_login")]
    out += [F("data_same_source", "A@dept:gongan"), F("data_same_source", "B@dept:gongan", "field_mismatch")]
    out += [F("data_same_source", "A@mobile"), F("data_same_source", "B@mobile")]
    out += [F("guide_completeness", f"{c}@portal") for c in "ABC"]
    out += [F("guide_completeness", "D@portal", "element_missing")]
    out += [F("cancelled_items", "X@portal"), F("click_depth", "A@portal"), F("click_depth", "B@portal")]
    out += [F("link_health", "https://p1/"), F("link_health", "https://p1/form.doc", "broken_link")]
    return out


def audit_p2() -> list[Finding]:
    """A weak portal: search misses, a plain-http login, names unmasked, department logins fail."""
    out = [F("search_accuracy", k) for k in KEYWORDS[:4]]
    out += [F("search_accuracy", k, "not_found") for k in KEYWORDS[4:]]
    out += [
        F("auth_https", "http://p2/login", "login_page_http"),
        F("auth_https", "http://p2/login", "hsts_missing"),
    ]
    out += [F("name_masking", "https://p2/user", "name_unmasked")]
    out += [error_finding("duplicate_login", f"https://e{i}/", ErrorKind.LOGIN_FAILED, "x") for i in range(2)]
    out += [F("guide_completeness", "A@portal"), F("guide_completeness", "B@portal")]
    out += [F("guide_completeness", f"{c}@portal", "element_missing") for c in "CD"]
    out += [
        F("cancelled_items", "X@portal", "still_listed"),
        F("cancelled_items", "Y@portal", "still_listed"),
    ]
    out += [F("click_depth", "A@portal"), F("click_depth", "B@portal", "too_deep")]
    return out


def profile(pid: str) -> PortalProfile:
    return PortalProfile.model_validate(
        {"id": pid, "name": f"{pid}省政务服务网", "home_url": f"https://{pid}.example/"}
    )


def store_run(sf: sessionmaker[Session]) -> int:
    run_id = store.start_run(sf, "audit", portals=[profile("p1"), profile("p2")])
    for portal, findings in (("p1", audit_p1()), ("p2", audit_p2())):
        for probe in NINE:
            mine = [f for f in findings if f.probe == probe]
            store.replace_findings(sf, run_id, portal, probe, "1.0", mine)
    store.finish_run(sf, run_id, "ok")
    return run_id


MANUAL_CSV = (
    "\ufeffportal_id,framework,indicator,value,source,entered_by,note\n"
    "p2,ccps,effectiveness.real_name_users,12.28,国家政务服务平台 2019-12-01,auditor-wang,实名用户占常住人口%\n"
    "p2,ccps,证明事项清理,1,省司法厅清单,auditor-wang,\n"
)


def stored(sf: sessionmaker[Session], run_id: int) -> list[tuple[Any, ...]]:
    with sf() as session:
        rows = session.scalars(
            select(models.IndicatorValue)
            .where(models.IndicatorValue.run_id == run_id)
            .order_by(
                models.IndicatorValue.framework,
                models.IndicatorValue.portal_id,
                models.IndicatorValue.indicator,
            )
        )
        return [(r.framework, r.portal_id, r.indicator, r.value, r.state, r.band, r.inputs) for r in rows]


def test_stored_run_scores_to_hand_computed_values(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    run_id = store_run(sessions)
    config = project_config()
    csv_path = tmp_path / "manual.csv"
    csv_path.write_text(MANUAL_CSV, encoding="utf-8")
    assert len(import_manual_csv(sessions, config, csv_path, run_id)) == 2

    ranked = score_run(sessions, run_id, ["ccps"], config)["ccps"]
    assert [s.portal_id for s in ranked] == ["p1", "p2"]
    p1, p2 = ({k: v.value for k, v in s.values.items()} for s in ranked)
    # p1: 8 of 9 concluded keywords (the timeout is not a failure)
    assert p1["completeness.search"] == pytest.approx(88.8889)
    assert p1["completeness.links"] == 95.0 and p1["maturity.single_login"] == 75.0
    assert p1["integration.departments"] == 50.0 and p1["integration.mobile"] == 100.0
    assert p1["completeness"] == pytest.approx(
        96.7778
    )  # (88.8889 + 100 + 100 + 100 + 95) / 5, mobile missing
    assert p1["effectiveness"] is None  # manual only, nothing entered
    assert p1["overall"] == pytest.approx(84.3556)  # (75 + 96.7778 + 100 + 75 + 75) / 5
    overall1 = ranked[0].overall
    assert overall1.state == "incomplete" and overall1.inputs["missing"] == ["effectiveness"]
    assert overall1.inputs["bands"] == {"national": "高", "provincial": "良好"}
    assert overall1.band is None and overall1.inputs["bands_provisional"]  # incomplete: no verdict
    # p2: http login deducts 100 + 10, capped at 100; two cancelled items still listed: 100 − 2·10
    assert p2["completeness.https"] == 0.0 and p2["coverage.dynamics"] == 80.0
    assert p2["maturity.single_login"] is None  # login_failed errors only: missing, not 0
    assert p2["completeness"] == 22.5  # (40 + 0 + 0 + 50) / 4
    assert p2["effectiveness.real_name_users"] == 100.0  # the only (hence best) value of the run
    assert p2["coverage"] == 90.0  # (80 + 100) / 2
    assert p2["overall"] == pytest.approx(65.625)  # (100 + 22.5 + 90 + 50) / 4
    assert ranked[1].overall.inputs["bands"] == {"national": "中", "provincial": "中等"}

    with sessions() as session:
        manual = session.scalars(select(models.ManualInput).order_by(models.ManualInput.id)).all()
        assert [(m.indicator, m.value, m.entered_by) for m in manual] == [
            ("effectiveness.real_name_users", 12.28, "auditor-wang"),
            ("coverage.certificates", 1.0, "auditor-wang"),
        ]
        assert manual[0].source == "国家政务服务平台 2019-12-01" and manual[0].entered_at.tzinfo is not None
        leaf = session.scalars(
            select(models.IndicatorValue).where(
                models.IndicatorValue.portal_id == "p2",
                models.IndicatorValue.indicator == "coverage.certificates",
            )
        ).one()
        assert leaf.inputs["manual"] == [manual[1].id]

    # rescoring (and re-importing the same CSV) changes nothing
    first = stored(sessions, run_id)
    import_manual_csv(sessions, config, csv_path, run_id)
    score_run(sessions, run_id, ["ccps"], config)
    assert stored(sessions, run_id) == first
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(models.ManualInput)) == 2


def test_both_frameworks_score_and_manual_inputs_carry_forward(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    first_run = store_run(sessions)
    config = project_config()
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(
        "portal_id,framework,indicator,value,source,entered_by\np1,cstc2021,领导机制,80,省政府文件,li\n",
        encoding="utf-8",
    )
    import_manual_csv(sessions, config, csv_path, first_run)
    second_run = store_run(sessions)
    results = score_run(sessions, second_run, None, config)
    assert set(results) >= {"ccps", "cstc2021"}
    p1 = next(s for s in results["cstc2021"] if s.portal_id == "p1")
    assert p1.values["leadership"].value == 80.0  # entered for the earlier run, still standing
    assert p1.values["search"].value == pytest.approx(88.8889)
    assert p1.values["identity.sso"].value == 75.0
    # a later input never changes an earlier run's values
    csv_path.write_text(
        "portal_id,framework,indicator,value,source,entered_by\np1,cstc2021,leadership,20,复核,li\n",
        encoding="utf-8",
    )
    import_manual_csv(sessions, config, csv_path, second_run)
    again = score_run(sessions, first_run, ["cstc2021"], config)["cstc2021"]
    assert next(s for s in again if s.portal_id == "p1").values["leadership"].value == 80.0


@pytest.mark.parametrize(
    ("row", "where", "message"),
    [
        ("p9,ccps,coverage.certificates,1,s,a", "line 2, column portal_id", "unknown portal 'p9'"),
        ("p1,ccps,coverage.certificates,yes,s,a", "line 2, column value", "not a number"),
        ("p1,ccps,coverage.certificates,2,s,a", "line 2, column value", "takes 1 or 0"),
        ("p1,ccps,coverage.catalogue,120,s,a", "line 2, column value", "between 0 and 100"),
        ("p1,ccps,completeness.search,50,s,a", "line 2, column indicator", "not a manual leaf"),
        ("p1,ccps,nothing,50,s,a", "line 2, column indicator", "unknown indicator"),
        ("p1,nope,coverage.catalogue,50,s,a", "line 2, column framework", "unknown or invalid framework"),
        ("p1,ccps,coverage.catalogue,50,,a", "line 2, column source", "empty"),
    ],
)
def test_bad_manual_csv_names_file_line_and_column(
    sessions: sessionmaker[Session], tmp_path: Path, row: str, where: str, message: str
) -> None:
    run_id = store_run(sessions)
    path = tmp_path / "bad.csv"
    path.write_text(f"portal_id,framework,indicator,value,source,entered_by\n{row}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        import_manual_csv(sessions, project_config(), path, run_id)
    assert str(info.value).startswith(f"{path}: {where}: ") and message in str(info.value)
    with sessions() as session:  # nothing stored from an invalid file
        assert session.scalar(select(func.count()).select_from(models.ManualInput)) == 0


def stand_in_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config dir whose registry points at importable stand-ins with the decided codes."""
    module = tmp_path / "pkg" / "scoring_stand_ins.py"
    module.parent.mkdir()
    lines = ["from zwaudit.checks import CheckOptions, Requires", ""]
    for probe, codes in NINE.items():
        lines += [
            f"class C_{probe}:",
            f"    name = {probe!r}",
            "    version = '0'",
            f"    codes = frozenset({sorted(codes)!r})",
            "    requires = Requires.HTTP",
            "    Options = CheckOptions",
            "",
        ]
    module.write_text("\n".join(lines), encoding="utf-8")
    monkeypatch.syspath_prepend(str(module.parent))
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    registry = "\n".join(f"  {p}: scoring_stand_ins:C_{p}" for p in NINE)
    (config_dir / "checks.yaml").write_text(f"checks:\n{registry}\n", encoding="utf-8")
    return config_dir


def test_score_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = stand_in_config(tmp_path, monkeypatch)
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    run_id = store_run(session_factory(engine))
    engine.dispose()
    base = ["--config", str(config_dir), "--db", url, "score"]
    runner = CliRunner()

    result = runner.invoke(cli, [*base, "--framework", "ccps"])
    assert result.exit_code == 0, (result.output, result.exc_info)
    assert f"run {run_id}" in result.output and "p1省政务服务网" in result.output
    assert result.output.index("p1 ") < result.output.index("p2 ")
    assert "84.36" in result.output and "(良好)" in result.output and "在线服务成效度" in result.output

    result = runner.invoke(cli, [*base, "--framework", "ccps", "--explain", "--portal", "p2"])
    assert result.exit_code == 0, result.output
    assert "缺失/missing" in result.output
    assert "auth_https http://p2/login fail login_page_http" in result.output
    assert "duplicate_login https://e0/ error login_failed" in result.output

    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(
        "portal_id,framework,indicator,value,source,entered_by\np1,ccps,x,1,s,a\n", encoding="utf-8"
    )
    result = runner.invoke(cli, [*base, "--manual", str(csv_path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"zwaudit: error: {csv_path}: line 2, column indicator: unknown indicator 'x' in ccps"
    ]
    assert runner.invoke(cli, [*base, "--portal", "p1"]).exit_code == 2
    assert runner.invoke(cli, [*base, "--run", "99"]).exit_code == 2
    assert runner.invoke(cli, [*base, "--framework", "nope"]).exit_code == 2


def test_sandbox_ground_truth_scores_end_to_end(
    request: pytest.FixtureRequest, sessions: sessionmaker[Session]
) -> None:
    """Store what a perfect audit of the sandbox would find (its ground truth) and score it."""
    sandbox = request.getfixturevalue("sandbox")
    from zwaudit.config import load_config

    portals = load_config(sandbox.config_dir, validate_probes=False).portals
    run_id = store.start_run(sessions, "calibrate", portals=list(portals.values()))
    expected_fail: dict[str, set[str]] = {}
    for portal_id in sandbox.portal_ids:
        truth = sandbox.ground_truth(portal_id)
        by_probe: dict[str, list[Finding]] = {}
        for e in truth["expectations"]:
            by_probe.setdefault(e["probe"], []).append(
                Finding(e["probe"], e["target"], Status(e["status"]), e.get("code"))
            )
            if e["status"] == "fail":
                expected_fail.setdefault(portal_id, set()).add(e["probe"])
        for probe, findings in by_probe.items():
            store.replace_findings(sessions, run_id, portal_id, probe, "truth", findings)
    config = project_config()
    first = score_run(sessions, run_id, ["ccps", "cstc2021"], config)
    assert {s.portal_id for s in first["ccps"]} == set(sandbox.portal_ids)
    for score in first["ccps"]:
        assert score.overall.value is not None and 0 <= score.overall.value <= 100
        truth_probes = {e["probe"] for e in sandbox.ground_truth(score.portal_id)["expectations"]}
        # a probe with planted defects lowers its leaves below 100; one without leaves them at 100
        for leaf_id, probe in (
            ("completeness.search", "search_accuracy"),
            ("completeness.masking", "name_masking"),
            ("maturity.single_login", "duplicate_login"),
        ):
            value = score.values[leaf_id].value
            if probe not in truth_probes:
                assert value is None
            elif probe in expected_fail.get(score.portal_id, set()):
                assert value is not None and value < 100
            else:
                assert value == 100.0
    before = stored(sessions, run_id)
    score_run(sessions, run_id, ["ccps", "cstc2021"], config)
    assert stored(sessions, run_id) == before
