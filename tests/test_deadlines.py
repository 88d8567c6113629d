"""Deadlines and no starvation, on a slow local site with the real crawler.

The site answers every page after a delay and has far more pages than the crawl deadline allows;
one URL never answers in time. The run must finish with what it has: the browser/HTTP checks start
while the crawl is still running (a slow crawl does not starve them), the portal deadline cuts the
check that hangs and skips the ones after it (``error``/``timeout``), the crawl deadline closes the
spider and its crawl checks are ``error``/``timeout`` (never judged on a truncated catalogue), and
the run is ``ok`` with the deadlines it hit recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app import orchestrator as audit_module
from zwaudit.app.history import run_note
from zwaudit.app.orchestrator import run_audit
from zwaudit.checks import CheckContext, CheckOptions, Requires
from zwaudit.config import load_config
from zwaudit.config.schema import Deadlines, PortalProfile, Settings
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.deadlines import Limits, PortalClock
from zwaudit.findings import Finding
from zwaudit.outcomes import Status

STARTED: dict[str, float] = {}


class SlowSite:
    """Every page after ``delay`` s; the home page links to 300 pages; ``/hang`` answers after 60 s."""

    def __init__(self, delay: float = 0.5) -> None:
        self.delay = delay
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if request.path == "/hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), 60)
        await asyncio.sleep(self.delay)
        links = ""
        if request.path == "/":  # distinct names, all one click deep: no trap, no depth limit
            names = [hashlib.sha1(str(i).encode()).hexdigest()[:10] for i in range(300)]
            links = "".join(f'<a href="/g/{n}.html">事项{n}</a> ' for n in names)
        return web.Response(text=f"<html><body><h1>慢</h1>{links}</body></html>", content_type="text/html")

    def __enter__(self) -> SlowSite:
        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.release = asyncio.Event()
            app = web.Application()
            app.router.add_get("/{tail:.*}", self.handle)
            self.runner = web.AppRunner(app, access_log=None)
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.release.set)
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


class _Http:
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1.0.0"
    codes: ClassVar[frozenset[str]] = frozenset()
    requires: ClassVar[Requires] = Requires.HTTP
    path: ClassVar[str] = "/"

    class Options(CheckOptions):
        pass

    async def run(self, ctx: CheckContext) -> list[Finding]:
        STARTED[self.name] = time.monotonic()
        url = str(ctx.portal.home_url).rstrip("/") + self.path
        async with httpx.AsyncClient(timeout=120) as client:
            await client.get(url)
        return [Finding(self.name, url, Status.PASS)]


class Quick(_Http):
    name = "a_quick"


class Hangs(_Http):
    name = "b_hangs"
    path = "/hang"


class Later(_Http):
    name = "c_later"


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    url = f"sqlite:///{tmp_path / 'd.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    yield url, session_factory(engine)
    engine.dispose()


def write_config(root: Path, port: int) -> Path:
    (root / "portals").mkdir(parents=True)
    (root / "checks.yaml").write_text(
        "checks:\n"
        '  a_quick: "test_deadlines:Quick"\n  b_hangs: "test_deadlines:Hangs"\n'
        '  c_later: "test_deadlines:Later"\n  link_health: "probes.catalogue.link_health:LinkHealth"\n',
        encoding="utf-8",
    )
    # link_health first: run one after another, it would hold the browser checks until the crawl ends
    (root / "settings.yaml").write_text(
        "checks: [link_health, a_quick, b_hangs, c_later]\naudit: {portal_deadline_s: 4}\n", encoding="utf-8"
    )
    (root / "portals" / "slow.yaml").write_text(
        f"id: slow\nname: 慢省政务服务网\nhome_url: http://127.0.0.1:{port}/\n"
        "politeness: {concurrency_per_host: 2, delay_seconds: 0, obey_robots: true, autothrottle: false}\n"
        "deadlines: {crawl_s: 4}\n",
        encoding="utf-8",
    )
    return root


def test_slow_crawl_does_not_starve_browser_checks_and_deadlines_end_the_run(
    tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sf = sqlite_db
    crawl_ended: list[float] = []
    real = audit_module.launch_crawl

    def crawl(*args: Any, **kwargs: Any) -> object:
        try:
            return real(*args, **kwargs)
        finally:
            crawl_ended.append(time.monotonic())

    monkeypatch.setattr(audit_module, "launch_crawl", crawl)
    STARTED.clear()
    with SlowSite() as site:
        config = load_config(write_config(tmp_path / "config", site.port))
        began = time.monotonic()
        result = run_audit(config, sf, portal_ids=None, probes=None, db_url=url)
        elapsed = time.monotonic() - began

    assert elapsed < 60, "the deadlines did not end the run"
    # no starvation: the first browser-side check started long before the crawl ended
    assert crawl_ended and STARTED["a_quick"] < crawl_ended[0] - 1
    assert "c_later" not in STARTED  # the portal deadline passed before it could start
    with sf() as session:
        rows = {
            f.probe: (f.status, f.code, f.detail.get("error", ""))
            for f in session.scalars(select(models.Finding).where(models.Finding.run_id == result.run_id))
        }
        run = session.get(models.Run, result.run_id)
        pages = session.scalar(select(func.count()).select_from(models.CrawledPage))
    assert rows["a_quick"][:2] == ("pass", None)
    assert rows["b_hangs"] == ("error", "timeout", "portal deadline of 4s reached")
    assert rows["c_later"] == ("error", "timeout", "portal deadline of 4s reached before this check started")
    status, code, message = rows["link_health"]
    assert (status, code) == ("error", "timeout") and "crawl deadline" in message
    assert pages and pages < 300  # the crawl stored what it had when its deadline closed it
    assert run is not None and run.status == "ok"
    assert run_note(run.summary) == "deadline hit: slow, slow (crawl)"
    assert run.summary["deadlines"] == {
        "slow": "portal deadline of 4s reached",
        "slow (crawl)": "crawl deadline reached: a truncated catalogue is not judged",
    }


def test_limits_come_from_settings_unless_the_profile_sets_its_own() -> None:
    settings = Settings.model_validate({"audit": {"check_timeout_s": 60, "portal_deadline_s": 900}})
    plain = PortalProfile(id="p", name="p", home_url="https://p.example/")  # type: ignore[arg-type]
    assert Limits.for_portal(settings, plain) == Limits(60, 900, 7200)
    own = plain.model_copy(update={"deadlines": Deadlines(portal_s=120, crawl_s=30)})
    assert Limits.for_portal(settings, own) == Limits(60, 120, 30)


def test_portal_clock_shrinks_the_last_checks_budget() -> None:
    clock = PortalClock(Limits(check_s=10, portal_s=0.2, crawl_s=1))
    assert clock.budget() == (0.2, "portal deadline of 0s reached")  # not started: the whole deadline
    clock.start()
    budget, message = clock.budget()
    assert budget <= 0.2 and message == "portal deadline of 0s reached"
    time.sleep(0.25)
    assert clock.remaining() == 0
    long = PortalClock(Limits(check_s=10, portal_s=3600, crawl_s=1))
    long.start()
    assert long.budget() == (10, "check exceeded 10s")
    clock.extend(5.0)  # time spent waiting for a portal slot is given back
    assert 4.5 < clock.remaining() <= 5.0


class _Marks:
    """A check that notes when it ran on which portal and takes a moment, touching no network."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1.0.0"
    codes: ClassVar[frozenset[str]] = frozenset()
    requires: ClassVar[Requires] = Requires.HTTP
    ran: ClassVar[dict[tuple[str, str], tuple[float, float]]] = {}
    read_at: ClassVar[dict[str, float]] = {}  # when a catalogue reader was let read

    class Options(CheckOptions):
        pass

    async def run(self, ctx: CheckContext) -> list[Finding]:
        began = time.monotonic()
        await asyncio.sleep(0.3)  # its own work (a catalogue reader: its searches)
        if ctx.catalogue_ready is not None:
            await ctx.catalogue_ready()
            _Marks.read_at[ctx.portal.id] = time.monotonic()
        _Marks.ran[(ctx.portal.id, self.name)] = (began, time.monotonic())
        return [Finding(self.name, str(ctx.portal.home_url), Status.PASS)]


class Own(_Marks):
    name = "a_own"


class ReadsCatalogue(_Marks):
    name = "b_catalogue"
    reads_catalogue: ClassVar[bool] = True


def _two_portals(root: Path, audit: str) -> Path:
    """Portals p1 and p2 (nothing listens there: the checks touch no network) and the two
    marking checks, with ``audit`` as the settings' audit section."""
    (root / "portals").mkdir(parents=True)
    (root / "checks.yaml").write_text(
        'checks:\n  a_own: "test_deadlines:Own"\n  b_catalogue: "test_deadlines:ReadsCatalogue"\n',
        encoding="utf-8",
    )
    (root / "settings.yaml").write_text(f"checks: [a_own, b_catalogue]\naudit: {audit}\n", encoding="utf-8")
    for pid in ("p1", "p2"):
        (root / "portals" / f"{pid}.yaml").write_text(
            f"id: {pid}\nname: {pid}省政务服务网\nhome_url: http://127.0.0.1:9/{pid}/\n", encoding="utf-8"
        )
    return root


def _crawl_p1_late(monkeypatch: pytest.MonkeyPatch, late_s: float) -> dict[str, float]:
    """A stand-in crawl: p2's catalogue is stored at once, p1's ``late_s`` later; when, by portal."""
    crawled_at: dict[str, float] = {}

    def crawl(run_id: int, portal_ids: list[str], **kwargs: Any) -> None:
        assert sorted(portal_ids) == ["p1", "p2"]
        for pid, after in (("p2", 0.0), ("p1", late_s)):
            time.sleep(after)
            crawled_at[pid] = time.monotonic()
            kwargs["on_portal"](pid, "finished")

    monkeypatch.setattr(audit_module, "launch_crawl", crawl)
    _Marks.ran.clear()
    _Marks.read_at.clear()
    return crawled_at


def test_a_portal_waiting_for_its_catalogue_gives_its_slot_to_the_next_portal(
    tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One portal slot, two portals; the first portal's crawl takes 3 s, the second's is done at
    once. The first portal's catalogue check does its own work at once, then waits for its crawl
    without the slot, so the second portal's checks run meanwhile; it reads once its crawl is
    done, and its own time limit (1 s here) does not count the wait."""
    url, sf = sqlite_db
    root = _two_portals(tmp_path / "config", "{portal_concurrency: 1, check_timeout_s: 1}")
    crawled_at = _crawl_p1_late(monkeypatch, 3.0)
    result = run_audit(
        load_config(root), sf, portal_ids=["p1", "p2"], probes=None, db_url=url, crawl_for_catalogue=True
    )

    ran, read_at = _Marks.ran, _Marks.read_at
    assert set(ran) == {(p, c) for p in ("p1", "p2") for c in ("a_own", "b_catalogue")}
    assert ran[("p1", "b_catalogue")][0] < crawled_at["p1"] - 1  # its own work did not wait
    assert read_at["p1"] >= crawled_at["p1"]  # judged against this run's catalogue
    # p2 did not wait for p1's crawl: both its checks ran while p1 waited without the slot
    assert ran[("p2", "b_catalogue")][1] < crawled_at["p1"]
    # one slot: p2's checks ran while p1's catalogue check was away, never beside p1's own work
    p1_own, p2_checks = ran[("p1", "a_own")], [ran[("p2", c)] for c in ("a_own", "b_catalogue")]
    assert all(p1_own[1] <= start for start, _ in p2_checks)
    assert all(end <= read_at["p1"] for _, end in p2_checks)
    assert result.counts == {"pass": 4} and result.deadlines == {}


def test_the_wait_for_the_catalogue_ends_at_the_portal_deadline(
    tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """p1's crawl comes after its portal deadline (2 s): its catalogue check stops waiting there
    and is error/timeout naming the portal deadline, never judged on a catalogue not yet stored."""
    url, sf = sqlite_db
    root = _two_portals(tmp_path / "config", "{portal_concurrency: 1, portal_deadline_s: 2}")
    crawled_at = _crawl_p1_late(monkeypatch, 6.0)
    result = run_audit(
        load_config(root), sf, portal_ids=["p1", "p2"], probes=None, db_url=url, crawl_for_catalogue=True
    )

    assert "p1" not in _Marks.read_at and ("p1", "b_catalogue") not in _Marks.ran
    with sf() as session:
        rows = {
            (f.portal_id, f.probe): (f.status, f.code, f.detail.get("error", ""))
            for f in session.scalars(select(models.Finding).where(models.Finding.run_id == result.run_id))
        }
    assert rows[("p1", "b_catalogue")] == ("error", "timeout", "portal deadline of 2s reached")
    assert rows[("p1", "a_own")][0] == rows[("p2", "b_catalogue")][0] == "pass"
    assert result.deadlines == {"p1": "portal deadline of 2s reached"}
    assert "p1" in crawled_at  # the crawl itself went on to its end
