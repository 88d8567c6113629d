"""Stored observations and ``zwaudit rejudge``: one audit of the crawl test site, then judges
applied again to what it stored — same rules, same findings; a changed rule, exactly the findings
it affects; the judges pure (no network, no database, no clock they depend on)."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from crawl_site import ITEMS, CrawlSite
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit import observations
from zwaudit.app.cli import cli
from zwaudit.app.history import diff_runs, run_note
from zwaudit.app.orchestrator import run_audit
from zwaudit.app.rejudge import rejudge
from zwaudit.checks import JudgeInput, TwoPhaseCheck, is_two_phase
from zwaudit.config import load_config
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.evidence import sha256_file
from zwaudit.findings import utcnow

CRAWL_CHECKS = ["data_same_source", "guide_completeness", "cancelled_items", "click_depth", "link_health"]


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One audit of the crawl site by the five crawl checks (crawl included), shared by the tests."""
    tmp = tmp_path_factory.mktemp("rejudge")
    site = CrawlSite().start()
    mp = pytest.MonkeyPatch()
    mp.setenv("ZWAUDIT_VAR", str(tmp / "var"))
    mp.setenv("ZWAUDIT_EVIDENCE", str(tmp / "evidence"))
    try:
        url = f"sqlite:///{tmp / 'audit.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        sf = session_factory(engine)
        config_dir = site.write_config(tmp / "config")
        result = run_audit(load_config(config_dir), sf, portal_ids=["site"], probes=CRAWL_CHECKS, db_url=url)
        yield {"sf": sf, "url": url, "config_dir": config_dir, "run": result.run_id, "tmp": tmp}
    finally:
        site.stop()
        mp.undo()


def _findings(sf: sessionmaker[Session], run_id: int) -> set[tuple[Any, ...]]:
    with sf() as session:
        rows = session.scalars(select(models.Finding).where(models.Finding.run_id == run_id))
        return {
            (f.portal_id, f.probe, f.target, f.status, f.code, json.dumps(f.detail, sort_keys=True))
            for f in rows
        }


def _observations(sf: sessionmaker[Session], run_id: int) -> dict[str, models.Observation]:
    with sf() as session:
        rows = list(session.scalars(select(models.Observation).where(models.Observation.run_id == run_id)))
        for row in rows:
            session.expunge(row)
    return {row.probe: row for row in rows}


def test_each_check_stores_its_observation_beside_its_evidence(audited: dict[str, Any]) -> None:
    stored = _observations(audited["sf"], audited["run"])
    assert sorted(stored) == sorted(CRAWL_CHECKS)
    root = audited["tmp"] / "evidence"
    for name, row in stored.items():
        path = root / row.path
        assert path.name == observations.FILE_NAME and path.parent.name == name
        assert sha256_file(path) == row.sha256
        envelope = json.loads(path.read_text(encoding="utf-8"))
        assert envelope["check"] == name and envelope["check_version"] == row.probe_version
    catalogue = json.loads((root / stored["data_same_source"].path).read_text(encoding="utf-8"))
    assert {c: len(v) for c, v in catalogue["observation"]["items"].items()} == {
        "portal": 4,
        "mobile": 3,
        "dept:gongan": 1,
    }


def test_rejudge_with_the_same_rules_gives_the_same_findings(audited: dict[str, Any]) -> None:
    sf, source = audited["sf"], audited["run"]
    result = rejudge(load_config(audited["config_dir"]), sf, str(source), root=audited["tmp"] / "evidence")
    assert result.source_run == source and result.not_rejudged == {}
    assert sorted(result.rejudged) == sorted(("site", c) for c in CRAWL_CHECKS)
    before, after = _findings(sf, source), _findings(sf, result.run_id)
    assert before and before == after
    with sf() as session:
        run = session.get(models.Run, result.run_id)
        assert run is not None and run.trigger == "rejudge" and run.summary["derived_from"] == source
        assert run_note(run.summary) == f"rejudged from run {source}"  # what `zwaudit runs` shows
        assert diff_runs(session, source, result.run_id).changes == []
    # the rejudged run records the same observation files: it can be rejudged in turn
    assert {n: r.sha256 for n, r in _observations(sf, result.run_id).items()} == {
        n: r.sha256 for n, r in _observations(sf, source).items()
    }


def test_a_changed_rule_changes_exactly_the_findings_it_affects(
    audited: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """data_same_source no longer compares 申请材料: the three mobile copies that list one
    material fewer become passes; nothing else moves, and ``zwaudit diff`` says so."""
    sf, source, tmp = audited["sf"], audited["run"], audited["tmp"]
    monkeypatch.setenv("ZWAUDIT_EVIDENCE", str(tmp / "evidence"))
    config_dir = tmp / "config-changed"
    config_dir.mkdir()
    (config_dir / "portals").mkdir()
    profile = yaml.safe_load((audited["config_dir"] / "portals" / "site.yaml").read_text(encoding="utf-8"))
    profile["probes"] = {"data_same_source": {"compared_fields": ["承诺办结时限", "是否收费", "收费标准"]}}
    (config_dir / "portals" / "site.yaml").write_text(yaml.safe_dump(profile, allow_unicode=True), "utf-8")

    runner = CliRunner()
    db = ["--db", audited["url"], "--config", str(config_dir)]
    out = runner.invoke(cli, [*db, "rejudge", "--run", str(source), "--probe", "data_same_source"])
    assert out.exit_code == 0, out.output
    new_run = int(out.output.strip().splitlines()[-1].split()[-1])

    materials = {f"{code}@mobile" for code, _, _ in ITEMS[:3]}
    before = {(t, s, c) for p, probe, t, s, c, _ in _findings(sf, source) if probe == "data_same_source"}
    after = {(t, s, c) for p, probe, t, s, c, _ in _findings(sf, new_run)}
    assert before - after == {(t, "fail", "field_mismatch") for t in materials}
    assert after - before == {(t, "pass", None) for t in materials}
    with sf() as session:
        diff = diff_runs(session, source, new_run)
    assert {(c.kind, c.probe, c.target) for c in diff.changes} == {
        ("fixed", "data_same_source", t) for t in materials
    }
    shown = runner.invoke(cli, [*db, "diff", str(source), str(new_run)])
    assert shown.exit_code == 0 and "3 fixed" in shown.output, shown.output


def test_what_has_no_observation_is_reported_not_rejudged(audited: dict[str, Any]) -> None:
    sf, source = audited["sf"], audited["run"]
    # a copy of the run without click_depth's observation and with link_health's file missing
    with sf.begin() as session:
        copy = models.Run(trigger="audit", status="ok", started_at=utcnow(), host="t")
        session.add(copy)
        session.flush()
        copy_id = copy.id
        for f in session.scalars(select(models.Finding).where(models.Finding.run_id == source)):
            session.add(
                models.Finding(
                    run_id=copy_id,
                    portal_id=f.portal_id,
                    probe=f.probe,
                    target=f.target,
                    status=f.status,
                    code=f.code,
                    detail=f.detail,
                    probe_version=f.probe_version,
                    observed_at=f.observed_at,
                )
            )
        for o in session.scalars(select(models.Observation).where(models.Observation.run_id == source)):
            if o.probe == "click_depth":
                continue
            path = "nowhere/observation.json" if o.probe == "link_health" else o.path
            session.add(
                models.Observation(
                    run_id=copy_id,
                    portal_id=o.portal_id,
                    probe=o.probe,
                    probe_version=o.probe_version,
                    path=path,
                    sha256=o.sha256,
                    media_type=o.media_type,
                    observed_at=o.observed_at,
                )
            )
    result = rejudge(load_config(audited["config_dir"]), sf, copy_id, root=audited["tmp"] / "evidence")
    assert set(result.not_rejudged) == {("site", "click_depth"), ("site", "link_health")}
    assert "no observation stored" in result.not_rejudged[("site", "click_depth")]
    assert "missing" in result.not_rejudged[("site", "link_health")]
    assert len(result.rejudged) == 3
    with sf() as session:
        run = session.get(models.Run, result.run_id)
        assert run is not None
        assert {(n["check"], n["portal"]) for n in run.summary["not_rejudged"]} == {
            ("click_depth", "site"),
            ("link_health", "site"),
        }
        session.execute(delete(models.Run).where(models.Run.id.in_([copy_id, result.run_id])))
        session.commit()


def test_every_converted_judge_is_pure(audited: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each judge runs on its stored observation with the network and every database refused,
    twice with the same result, and gives the findings the audit stored."""
    sf, source = audited["sf"], audited["run"]
    config = load_config(audited["config_dir"])
    portal = config.portal("site")
    root = audited["tmp"] / "evidence"
    stored = _observations(sf, source)
    expected = _findings(sf, source)
    inputs = {}
    for name in CRAWL_CHECKS:
        cls = config.check_class(name)
        assert is_two_phase(cls), name
        check = cls()
        assert isinstance(check, TwoPhaseCheck)
        text = (root / stored[name].path).read_text(encoding="utf-8")
        where = JudgeInput(config=config, portal=portal, options=config.check_options(portal, name))
        inputs[name] = (check, observations.parse(text, cls.observation_type), check.rules(where))

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a judge did I/O")

    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr(socket, "create_connection", refused)
    monkeypatch.setattr(sqlite3, "connect", refused)
    for name, (check, observation, rules) in inputs.items():
        first, again = check.judge(observation, rules), check.judge(observation, rules)
        key = [(f.target, f.status, f.code, json.dumps(f.detail, sort_keys=True)) for f in first]
        assert key == [(f.target, f.status, f.code, json.dumps(f.detail, sort_keys=True)) for f in again]
        assert {("site", name, *k) for k in key} == {e for e in expected if e[1] == name}, name
