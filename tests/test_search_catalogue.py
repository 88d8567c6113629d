"""search_accuracy reads the portal's own catalogue: this run's crawl (waited for) or an earlier one."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import zwaudit.app.orchestrator as audit_module
from probes.search_accuracy import load_catalogue
from zwaudit.app.orchestrator import run_audit
from zwaudit.checks import CheckContext, CheckOptions, Requires
from zwaudit.config.loader import load_config
from zwaudit.db import models, store
from zwaudit.findings import Finding, utcnow
from zwaudit.outcomes import Status


def _item(run_id: int, name: str, portal: str = "a", channel: str = "portal") -> dict[str, Any]:
    return {
        "run_id": run_id,
        "portal_id": portal,
        "channel": channel,
        "item_key": name,
        "code": None,
        "name": name,
        "department": None,
        "fields": {},
        "source_url": "https://a.example.gov.cn/g",
        "fetched_at": utcnow(),
    }


class CatalogueReader:
    """Reports which catalogue the search check would judge against."""

    name: ClassVar[str] = "reader"
    version: ClassVar[str] = "1"
    codes: ClassVar[frozenset[str]] = frozenset()
    requires: ClassVar[Requires] = Requires.HTTP
    reads_catalogue: ClassVar[bool] = True

    class Options(CheckOptions):
        pass

    notes: ClassVar[list[str]] = []  # each catalogue's note, in the order read

    async def run(self, ctx: CheckContext) -> list[Finding]:
        catalogue, why = await load_catalogue(ctx, 30)
        CatalogueReader.notes.append(catalogue.note if catalogue is not None else why)
        detail = {"why": why} if catalogue is None else {"run": catalogue.run_id, "n": len(catalogue.items)}
        return [Finding("reader", "catalogue", Status.PASS, None, detail)]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    (root / "portals").mkdir(parents=True)
    (root / "checks.yaml").write_text('checks:\n  reader: "test_search_catalogue:CatalogueReader"\n')
    (root / "portals" / "a.yaml").write_text("id: a\nname: 门户a\nhome_url: https://a.example.gov.cn/\n")
    return root


def _detail(sf: sessionmaker[Session], run_id: int) -> dict[str, Any]:
    with sf() as s:
        row = s.scalars(select(models.Finding).where(models.Finding.run_id == run_id)).one()
        return dict(row.detail)


def test_latest_catalogue_is_the_newest_crawl_up_to_the_run(sessions: sessionmaker[Session]) -> None:
    profile = load_config_profile()
    runs = [store.start_run(sessions, "audit", portals=[profile]) for _ in range(3)]
    with sessions.begin() as s:
        store.upsert_service_items(s, [_item(runs[0], "旧事项")])
        store.upsert_service_items(s, [_item(runs[1], "结婚登记"), _item(runs[1], "最低生活保障金给付")])
        store.upsert_service_items(s, [_item(runs[1], "移动端事项", channel="mobile")])
    with sessions() as s:
        found = store.latest_catalogue(s, "a", runs[2])
        assert found is not None and found[0] == runs[1]
        assert sorted(n for n, _ in found[2]) == ["最低生活保障金给付", "结婚登记"]
        assert store.latest_catalogue(s, "a", runs[0] - 1) is None
        assert store.latest_catalogue(s, "zz", runs[2]) is None


def load_config_profile() -> Any:
    from zwaudit.config.schema import PortalProfile

    return PortalProfile.model_validate({"id": "a", "name": "门户a", "home_url": "https://a.example.gov.cn/"})


def test_a_catalogue_check_waits_for_this_runs_crawl(
    config_dir: Path, sessions: sessionmaker[Session], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Any] = []

    def slow_crawl(run_id: int, portal_ids: list[str], **kwargs: Any) -> None:
        asked.append(kwargs.get("channels"))
        time.sleep(0.3)  # the check must not read before the crawl stored its items
        with sessions.begin() as s:
            store.upsert_service_items(s, [_item(run_id, "结婚登记"), _item(run_id, "补领结婚证")])

    monkeypatch.setattr(audit_module, "launch_crawl", slow_crawl)
    config = load_config(config_dir)
    result = run_audit(
        config, sessions, portal_ids=None, probes=None, db_url=db_url, crawl_for_catalogue=True
    )
    assert _detail(sessions, result.run_id) == {"run": result.run_id, "n": 2}
    # a crawl made for the catalogue alone crawls the portal channel alone
    assert asked == [("portal",)]

    # no crawl in this run: the earlier run's catalogue is read, and named
    later = run_audit(config, sessions, portal_ids=None, probes=None, db_url=db_url)
    assert _detail(sessions, later.run_id) == {"run": result.run_id, "n": 2}


def test_no_catalogue_says_why(config_dir: Path, sessions: sessionmaker[Session], db_url: str) -> None:
    result = run_audit(load_config(config_dir), sessions, portal_ids=None, probes=None, db_url=db_url)
    assert "no crawl stored this portal's catalogue" in _detail(sessions, result.run_id)["why"]


def test_an_old_catalogue_is_not_used(config_dir: Path, sessions: sessionmaker[Session], db_url: str) -> None:
    """A catalogue crawled long ago may no longer be what the portal offers."""
    old = store.start_run(sessions, "crawl", portals=[load_config_profile()])
    with sessions.begin() as s:
        store.upsert_service_items(
            s, [{**_item(old, "结婚登记"), "fetched_at": utcnow() - timedelta(days=40)}]
        )
    result = run_audit(load_config(config_dir), sessions, portal_ids=None, probes=None, db_url=db_url)
    assert _detail(sessions, result.run_id) == {
        "why": f"the newest catalogue (run {old}) is older than 30 days"
    }


def test_a_portal_crawled_early_is_judged_before_the_slowest_portal_is_crawled(
    config_dir: Path, sessions: sessionmaker[Session], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly over many portals: a portal whose spider finished is judged at once, while the
    crawl goes on; one whose spider stopped otherwise waits for the whole crawl's outcome."""
    (config_dir / "portals" / "b.yaml").write_text(
        "id: b\nname: 门户b\nhome_url: https://b.example.gov.cn/\n"
    )
    judged_during_crawl: list[str] = []

    def findings_of(run_id: int) -> set[str]:
        with sessions() as s:
            return set(s.scalars(select(models.Finding.portal_id).where(models.Finding.run_id == run_id)))

    def crawl(run_id: int, portal_ids: list[str], *, on_portal: Any, **_: Any) -> None:
        with sessions.begin() as s:
            store.upsert_service_items(s, [_item(run_id, "结婚登记")])
        on_portal("a", "finished")
        on_portal("b", "closespider_timeout")  # not a whole catalogue: b waits for the end
        deadline = time.monotonic() + 60
        while "a" not in findings_of(run_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        judged_during_crawl.extend(sorted(findings_of(run_id)))
        with sessions.begin() as s:
            store.upsert_service_items(s, [_item(run_id, "户口迁移", portal="b")])

    monkeypatch.setattr(audit_module, "launch_crawl", crawl)
    result = run_audit(
        load_config(config_dir),
        sessions,
        portal_ids=None,
        probes=None,
        db_url=db_url,
        crawl_for_catalogue=True,
    )
    assert judged_during_crawl == ["a"]
    with sessions() as s:
        rows = {
            r.portal_id: r.detail
            for r in s.scalars(select(models.Finding).where(models.Finding.run_id == result.run_id))
        }
    assert rows == {"a": {"run": result.run_id, "n": 1}, "b": {"run": result.run_id, "n": 1}}


@pytest.mark.parametrize("ending", ["closespider_timeout", "crawl failed"])
def test_a_crawl_that_did_not_finish_the_portal_is_not_read(
    ending: str,
    config_dir: Path,
    sessions: sessionmaker[Session],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """This run's spider was cut at its crawl deadline, or the crawl failed, after storing one
    item of three: that part of the catalogue is not judged against (it would hide what the
    search misses); the earlier run's whole catalogue is, and the note says why."""
    from zwaudit.app.crawl import CrawlSummary, PortalCrawlResult
    from zwaudit.errors import RunError

    def whole(run_id: int, portal_ids: list[str], **_: Any) -> None:
        with sessions.begin() as s:
            store.upsert_service_items(s, [_item(run_id, n) for n in ("结婚登记", "补领结婚证", "离婚登记")])

    def cut(run_id: int, portal_ids: list[str], **_: Any) -> CrawlSummary:
        with sessions.begin() as s:
            store.upsert_service_items(s, [_item(run_id, "结婚登记")])
        if ending == "crawl failed":
            raise RunError("the crawler exited with code 1")
        return CrawlSummary(run_id, {"a": PortalCrawlResult("a", ending, {"portal": 1}, 3, "new")})

    config = load_config(config_dir)
    monkeypatch.setattr(audit_module, "launch_crawl", whole)
    first = run_audit(config, sessions, portal_ids=None, probes=None, db_url=db_url, crawl_for_catalogue=True)
    assert _detail(sessions, first.run_id) == {"run": first.run_id, "n": 3}

    monkeypatch.setattr(audit_module, "launch_crawl", cut)
    second = run_audit(
        config, sessions, portal_ids=None, probes=None, db_url=db_url, crawl_for_catalogue=True
    )
    assert _detail(sessions, second.run_id) == {"run": first.run_id, "n": 3}
    why = "crawl deadline reached" if ending == "closespider_timeout" else "the crawler exited with code 1"
    assert (
        CatalogueReader.notes[-1].startswith("this run's crawl is not read (")
        and why in CatalogueReader.notes[-1]
    )
    assert CatalogueReader.notes[-1].endswith(f"the crawl of run {first.run_id}")
