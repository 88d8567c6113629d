"""The orchestrator without a browser: storage per (portal, check), crashes, reruns, bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.orchestrator import run_audit
from zwaudit.checks import CheckContext, CheckOptions, Requires
from zwaudit.config.loader import load_config
from zwaudit.db import models
from zwaudit.errors import ConfigError, UsageError
from zwaudit.findings import Finding
from zwaudit.outcomes import Status


class Fine:
    name: ClassVar[str] = "fine"
    version: ClassVar[str] = "1.2.3"
    codes: ClassVar[frozenset[str]] = frozenset({"bad"})
    requires: ClassVar[Requires] = Requires.HTTP
    calls: ClassVar[list[str]] = []

    class Options(CheckOptions):
        verdict: str = "pass"

    async def run(self, ctx: CheckContext) -> list[Finding]:
        assert isinstance(ctx.options, Fine.Options)
        Fine.calls.append(ctx.portal.id)
        await asyncio.sleep(0)
        if ctx.options.verdict == "fail":
            return [
                Finding(
                    "fine",
                    str(ctx.portal.home_url),
                    Status.FAIL,
                    "bad",
                    {"who": ctx.extra["personal"].get("name", "")},
                )
            ]
        return [Finding("fine", str(ctx.portal.home_url), Status.PASS)]


class Crashy:
    name: ClassVar[str] = "crashy"
    version: ClassVar[str] = "0.1.0"
    codes: ClassVar[frozenset[str]] = frozenset()
    requires: ClassVar[Requires] = Requires.HTTP

    class Options(CheckOptions):
        pass

    async def run(self, ctx: CheckContext) -> list[Finding]:
        raise RuntimeError(f"boom near {ctx.extra['personal'].get('name', '')}")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    (root / "portals").mkdir(parents=True)
    (root / "checks.yaml").write_text(
        'checks:\n  fine: "test_audit_orchestrator:Fine"\n  crashy: "test_audit_orchestrator:Crashy"\n',
        encoding="utf-8",
    )
    (root / "settings.yaml").write_text("audit: {portal_concurrency: 2}\n", encoding="utf-8")
    for pid, verdict in (("a", "pass"), ("b", "fail"), ("c", "pass")):
        (root / "portals" / f"{pid}.yaml").write_text(
            f"id: {pid}\nname: 门户{pid}\nhome_url: https://{pid}.example.gov.cn/\n"
            f"account: {{username: {{secret: u}}, name: {{secret: n}}}}\nprobes: {{fine: {{verdict: {verdict}}}}}\n",
            encoding="utf-8",
        )
    secrets = root / "secrets.yaml"
    secrets.write_text("u: someone\nn: 张大友\n", encoding="utf-8")
    secrets.chmod(0o600)
    return root


def rows(sf: sessionmaker[Session], run_id: int) -> list[tuple[str, str, str, str | None]]:
    with sf() as s:
        found = s.scalars(select(models.Finding).where(models.Finding.run_id == run_id))
        return sorted((f.portal_id, f.probe, f.status, f.code) for f in found)


def test_run_stores_every_portal_and_survives_a_crash(
    config_dir: Path, sessions: sessionmaker[Session], db_url: str
) -> None:
    config = load_config(config_dir)
    result = run_audit(config, sessions, portal_ids=None, probes=None, db_url=db_url)
    assert rows(sessions, result.run_id) == [
        ("a", "crashy", "error", "internal"),
        ("a", "fine", "pass", None),
        ("b", "crashy", "error", "internal"),
        ("b", "fine", "fail", "bad"),
        ("c", "crashy", "error", "internal"),
        ("c", "fine", "pass", None),
    ]
    assert result.counts == {"pass": 2, "fail": 1, "error": 3}
    with sessions() as s:
        run = s.get(models.Run, result.run_id)
        assert run is not None and run.status == "ok" and run.finished_at is not None
        crash = s.scalars(select(models.Finding).where(models.Finding.probe == "crashy")).first()
        assert (
            crash is not None
            and "张大友" not in str(crash.detail)
            and "RuntimeError" in crash.detail["error"]
        )


def test_rerun_of_one_check_on_one_portal_replaces_only_its_rows(
    config_dir: Path, sessions: sessionmaker[Session], db_url: str
) -> None:
    config = load_config(config_dir)
    first = run_audit(config, sessions, portal_ids=None, probes=None, db_url=db_url)
    Fine.calls.clear()
    again = run_audit(config, sessions, portal_ids=["b"], probes=["fine"], run_id=first.run_id, db_url=db_url)
    assert again.run_id == first.run_id and Fine.calls == ["b"]
    assert len(rows(sessions, first.run_id)) == 6  # replaced, not duplicated


def test_bad_input_fails_before_a_run_exists(
    config_dir: Path, sessions: sessionmaker[Session], db_url: str
) -> None:
    config = load_config(config_dir)
    with pytest.raises(UsageError, match="unknown probe 'nope'"):
        run_audit(config, sessions, portal_ids=None, probes=["nope"], db_url=db_url)
    with pytest.raises(UsageError, match="unknown portal 'zz'"):
        run_audit(config, sessions, portal_ids=["zz"], probes=None, db_url=db_url)
    (config_dir / "secrets.yaml").write_text("u: someone\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="n: key not found"):
        run_audit(load_config(config_dir), sessions, portal_ids=None, probes=None, db_url=db_url)
    with sessions() as s:
        assert s.scalars(select(models.Run)).first() is None
