"""The crawl subprocess end to end: politeness (robots.txt, Retry-After), GBK, storage, resume."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from crawl_site import ITEMS, CrawlSite
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import zwaudit.app.crawl as launcher
from crawler.run import CLEAN_MARKER, jobdir_for
from sandbox.server import Sandbox
from zwaudit.app.crawl import crawl, crawl_command
from zwaudit.app.memory import chromium_kind, chromium_processes
from zwaudit.checks import CheckContext
from zwaudit.config import load_config
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.db.store import database_identity, item_counts, start_run
from zwaudit.errors import RunError
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import Finding, utcnow
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.paths import run_dir_name


@pytest.fixture
def site() -> Iterator[CrawlSite]:
    running = CrawlSite().start()
    yield running
    running.stop()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> tuple[str, sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'crawl.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    return url, session_factory(engine)


def test_crawl_is_polite_and_stores_every_channel(
    site: CrawlSite, tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]]
) -> None:
    url, sf = sqlite_db
    config_dir = site.write_config(tmp_path / "config")
    run_id = start_run(sf, "crawl")
    summary = crawl(run_id, ["site"], config_dir=config_dir, db_url=url)

    assert summary.item_counts["site"] == {"portal": 4, "mobile": 3, "dept:gongan": 1}
    # robots.txt: the disallowed page was never requested
    assert site.hits["/robots.txt"]
    assert "/private/secret.html" not in site.hits
    # Retry-After: asked again, and not before the server said (a lower bound, not a timing)
    busy = site.hits["/busy.html"]
    assert len(busy) == 2
    assert busy[1] - busy[0] >= site.retry_after * 0.95
    with sf() as session:
        names = set(
            session.scalars(select(models.ServiceItem.name).where(models.ServiceItem.channel == "portal"))
        )
        pages = {p.url.removeprefix(site.base): p for p in session.scalars(select(models.CrawledPage))}
    # GBK pages decoded (full-width brackets are folded to half-width by NFKC)
    assert "石油天然气(含煤层气)对外合作项目总体开发方案审批" in names
    assert {n for _, n, _ in ITEMS[:3]} <= names
    assert pages["/missing.html"].status_code == 404
    assert pages["/missing.html"].referrer == site.base + "/"
    assert pages["/private/secret.html"].error is not None
    assert pages["/private/secret.html"].error.startswith("robots_disallowed")
    assert pages["/busy.html"].status_code == 200
    assert pages[f"/guide/{ITEMS[0][0]}.html"].depth == 2  # home → 办事指南 → guide

    # the crawl checks judge what was stored
    verdicts = {name: _run_check(name, config_dir, sf, run_id, tmp_path) for name in CRAWL_CHECKS}
    codes = {
        name: {(f.target, f.code) for f in fs if f.status is Status.FAIL} for name, fs in verdicts.items()
    }
    c1, c2, c3, c4 = (code for code, _, _ in ITEMS)
    # every channel's guides are judged (issue 13): the mobile copy of c3 lacks 办理地点 too
    assert codes["guide_completeness"] == {
        (f"{c3}@portal", "element_missing"),
        (f"{c3}@mobile", "element_missing"),
    }
    assert codes["cancelled_items"] == {(f"{c4}@portal", "still_listed")}
    assert codes["link_health"] == {(f"{site.base}/missing.html", "broken_link")}
    assert codes["click_depth"] == set()
    assert codes["data_same_source"] == {
        (f"{c1}@mobile", "field_mismatch"),  # the mobile copy lists one material fewer
        (f"{c2}@mobile", "field_mismatch"),
        (f"{c3}@mobile", "field_mismatch"),
        (f"{c4}@mobile", "item_missing"),
    }
    dept = [f for f in verdicts["data_same_source"] if f.target.endswith("@dept:gongan")]
    assert [(f.target, f.status) for f in dept] == [(f"{c2}@dept:gongan", Status.PASS)]
    assert all(f.status is not Status.ERROR for fs in verdicts.values() for f in fs)


def test_a_crawl_of_the_portal_channel_alone_fetches_no_other_channel(
    site: CrawlSite, tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]]
) -> None:
    """What ``search_accuracy`` alone needs: the portal's catalogue, not the department sites and
    the mobile channel (the orchestrator's catalogue-only crawl)."""
    url, sf = sqlite_db
    config_dir = site.write_config(tmp_path / "config")
    run_id = start_run(sf, "crawl")
    done: list[tuple[str, str]] = []
    summary = crawl(
        run_id,
        ["site"],
        config_dir=config_dir,
        db_url=url,
        channels=["portal"],
        on_portal=lambda portal_id, reason: done.append((portal_id, reason)),
    )
    assert summary.item_counts["site"] == {"portal": 4}
    assert done == [("site", "finished")]  # said as the spider closed, before the summary
    assert not [path for path in site.hits if path.startswith(("/m/", "/dept/"))], sorted(site.hits)


CRAWL_CHECKS = ("data_same_source", "guide_completeness", "cancelled_items", "click_depth", "link_health")


def _run_check(
    name: str, config_dir: Path, sf: sessionmaker[Session], run_id: int, tmp_path: Path
) -> list[Finding]:
    config = load_config(config_dir)
    portal = config.portal("site")
    ctx = CheckContext(
        run_id=run_id,
        portal=portal,
        options=config.check_options(portal, name),
        settings=config.settings,
        evidence=EvidenceWriter(run_id, portal.id, name, root=tmp_path / "evidence"),
        session_factory=sf,
        extra={"config": config},
    )
    return asyncio.run(config.check_class(name)().run(ctx))


def test_a_crawl_that_stored_nothing_is_an_error_never_a_verdict(
    site: CrawlSite, tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]]
) -> None:
    """An empty catalogue is a crawl that read nothing, not a clean (or a failing) portal."""
    _, sf = sqlite_db
    config_dir = site.write_config(tmp_path / "config")
    run_id = start_run(sf, "audit")
    for name in CRAWL_CHECKS:
        findings = _run_check(name, config_dir, sf, run_id, tmp_path)
        assert findings, name
        assert {f.status for f in findings} == {Status.ERROR}, (name, findings)
        assert all(f.code == ErrorKind.NOT_FOUND.value for f in findings), (name, findings)


def test_items_not_found_on_a_department_site_left_partly_unread_are_errors(
    site: CrawlSite, tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]]
) -> None:
    """The stored run as the crawl leaves it: the department site's second list page timed out
    (its rendering, after a 200). An item not found there is an error naming that page, never
    item_missing; the same run without that page's failure accuses."""
    from zwaudit.db.store import upsert_crawled_pages, upsert_service_items

    _, sf = sqlite_db
    config_dir = site.write_config(tmp_path / "config")
    portal = load_config(config_dir).portal("site")
    now = utcnow()

    def item(channel: str, code: str, name: str) -> dict[str, object]:
        row = {"run_id": 0, "portal_id": "site", "channel": channel, "item_key": code, "code": code}
        return {
            **row,
            "name": name,
            "department": "公安厅",
            "fields": {},
            "source_url": f"http://x/{channel}/{code}",
            "fetched_at": now,
        }

    def page(run_id: int, url: str, status: int, error: str | None) -> dict[str, object]:
        row = {"run_id": run_id, "portal_id": "site", "channel": "dept:gongan", "url": url}
        return {
            **row,
            "status_code": status,
            "error": error,
            "depth": 1,
            "referrer": None,
            "content_type": None,
            "fetched_at": now,
        }

    verdicts = {}
    for case, list_two in (
        ("timed out", "timeout: rendering http://x/gongan/list?p=2 took longer than 120 s"),
        ("read", None),
    ):
        run_id = start_run(sf, "audit", portals=[portal])
        items = [
            item("portal", "C1", "居住证办理"),
            item("portal", "C2", "户口迁移"),
            item("dept:gongan", "C1", "居住证办理"),
        ]
        with sf.begin() as session:
            upsert_service_items(session, [{**row, "run_id": run_id} for row in items])
            upsert_crawled_pages(session, [page(run_id, "http://x/gongan/list?p=1", 200, None)])
            upsert_crawled_pages(session, [page(run_id, "http://x/gongan/list?p=2", 200, None)])
            if list_two is not None:  # the rendering's failure, stored after the fetch's row
                upsert_crawled_pages(session, [page(run_id, "http://x/gongan/list?p=2", 200, list_two)])
        findings = _run_check("data_same_source", config_dir, sf, run_id, tmp_path / case)
        verdicts[case] = {
            f.target: (f.status, f.code, f.detail.get("error", "")) for f in findings if "@dept:" in f.target
        }
    assert verdicts["timed out"]["C1@dept:gongan"][:2] == (Status.PASS, None)
    status, code, message = verdicts["timed out"]["C2@dept:gongan"]
    assert (status, code) == (Status.ERROR, ErrorKind.TIMEOUT.value)
    assert "http://x/gongan/list?p=2" in message
    assert verdicts["read"]["C2@dept:gongan"][:2] == (Status.FAIL, "item_missing")


def test_a_missing_run_is_one_clear_error(
    site: CrawlSite, tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]]
) -> None:
    url, _ = sqlite_db
    config_dir = site.write_config(tmp_path / "config")
    with pytest.raises(RunError, match="run 999 does not exist"):
        crawl(999, ["site"], config_dir=config_dir, db_url=url)
    with pytest.raises(RunError, match="unknown portal 'nope'"):
        crawl(999, ["nope"], config_dir=config_dir, db_url=url)


def _count(
    sf: sessionmaker[Session], model: type[models.ServiceItem] | type[models.CrawledPage], run_id: int
) -> int:
    with sf() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(model.run_id == run_id)) or 0)


def _config_with(sandbox: Sandbox, into: Path, portal_id: str, section: str, **values: object) -> Path:
    """A copy of the sandbox's config with ``values`` set in one section of one portal's profile."""
    shutil.copytree(sandbox.config_dir, into)
    profile_path = into / "portals" / f"{portal_id}.yaml"
    profile = yaml.safe_load(profile_path.read_text(encoding="utf-8"))
    profile[section] = {**profile.get(section, {}), **values}
    profile_path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    return into


@pytest.mark.long(8)
def test_a_killed_crawl_restarts_without_duplicates(
    sandbox: Sandbox, tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]]
) -> None:
    """Every channel of sbx-shu, read without the browser (``crawl.render: false``: what is killed
    and restarted is the crawl process; its one page that would render adds no item of its own,
    and a browser killed mid-crawl is the next test's)."""
    url, sf = sqlite_db
    portal_id = "sbx-shu"
    truth = sandbox.ground_truth(portal_id)["item_counts"]
    config_dir = _config_with(sandbox, tmp_path / "config", portal_id, "crawl", render=False)
    run_id = start_run(sf, "crawl")
    cmd = crawl_command(run_id, [portal_id], config_dir=config_dir, db_url=url)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 120
        while _count(sf, models.ServiceItem, run_id) < 10 and proc.poll() is None:
            assert time.monotonic() < deadline, "the crawl stored nothing within two minutes"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = _count(sf, models.ServiceItem, run_id)
    assert 0 < partial < sum(truth.values()), "killed too late to test a restart"

    summary = crawl(run_id, [portal_id], config_dir=config_dir, db_url=url)
    assert summary.portals[portal_id].resumed == "restart"
    with sf() as session:
        assert item_counts(session, run_id, portal_id) == truth
        keys = session.execute(
            select(models.ServiceItem.channel, models.ServiceItem.item_key, func.count())
            .where(models.ServiceItem.run_id == run_id)
            .group_by(models.ServiceItem.channel, models.ServiceItem.item_key)
            .having(func.count() > 1)
        ).all()
        assert keys == []
    assert _count(sf, models.ServiceItem, run_id) == sum(truth.values())


def _browser_of(root: int) -> int | None:
    """The crawl's Chromium browser process (not a renderer or other helper), if one runs."""
    processes = chromium_processes(root).items()
    return next((pid for pid, argv in processes if chromium_kind(argv) == "browser"), None)


@pytest.mark.long(20)
def test_a_browser_killed_mid_crawl_is_relaunched_and_the_crawl_finishes(
    sandbox: Sandbox, tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]]
) -> None:
    """sbx-zhe's portal is a single-page app: every page renders, in the crawl process's one
    shared Chromium (crawler.browsers). It is SIGKILLed once the crawl has stored some items; the
    crawl relaunches it, fetches again the pages the kill cut short (a browser that died is our
    failure, not the portal's; a kill between two pages cuts none short) and stores every item."""
    url, sf = sqlite_db
    run_id = start_run(sf, "crawl")
    # a rendering stuck after the kill (stop 30's CI: the crawl had not ended 180 s after it, no
    # log kept) is cut at 30 s and retried, and its log line says where it waited
    config_dir = tmp_path / "config"
    shutil.copytree(sandbox.config_dir, config_dir)
    (config_dir / "settings.yaml").write_text("network:\n  page_timeout_s: 30\n", encoding="utf-8")
    cmd = crawl_command(run_id, ["sbx-zhe"], config_dir=config_dir, db_url=url, channels=["portal"])
    log, out = tmp_path / "crawl.log", tmp_path / "crawl.out"
    with log.open("w") as err, out.open("w") as summary:
        proc = subprocess.Popen(cmd, stdout=summary, stderr=err, env=dict(os.environ))
    killed = None
    try:
        deadline = time.monotonic() + 120
        while killed is None and proc.poll() is None:
            assert time.monotonic() < deadline, "the crawl stored nothing within two minutes"
            browser = _browser_of(proc.pid)
            if browser is not None and _count(sf, models.ServiceItem, run_id) >= 5:
                at_kill = _count(sf, models.ServiceItem, run_id)
                os.kill(browser, signal.SIGKILL)
                killed = browser
            time.sleep(0.1)
        try:
            code = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:  # once in CI, with no log kept: keep it now
            pytest.fail(f"the crawl had not ended 180 s after the kill: {log.read_text()[-6000:]}")
        assert code == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "the crawl ended before its browser could be killed"
    text = log.read_text()
    assert "shared browser launched (2 so far in this process)" in text, text[-3000:]
    # every download the kill cut short was retried. A kill that lands between two pages cuts none
    # short: the next request relaunches the browser and nothing is retried, so the count is
    # compared, not required to be one or more (under four test workers on two cores, runs
    # relaunched the browser and retried nothing; their logs were not kept, so that a kill between
    # pages was the cause is inferred, not seen)
    closed = "playwright._impl._errors.TargetClosedError"
    cut_short = _stat(text, f"downloader/exception_type_count/{closed}")
    retried = _stat(text, f"retry/reason_count/{closed}")
    assert retried == cut_short, f"{cut_short} cut short, {retried} retried: {text[-3000:]}"
    # no ERROR logged: not by the kill, and not by the finished crawl's cleanup (it once removed
    # the resume directory under Scrapy's SpiderState, which still wrote into it)
    errors = [line for line in text.splitlines() if "] ERROR:" in line]
    assert errors == [], text[-3000:]
    (portal,) = json.loads(out.read_text().strip().splitlines()[-1])["portals"].values()
    assert portal["finish_reason"] == "finished"
    # the relaunched browser rendered the rest, and the pages the kill cut short again
    total = sandbox.ground_truth("sbx-zhe")["item_counts"]["portal"]
    assert at_kill < _count(sf, models.ServiceItem, run_id) == total


def _stat(log: str, name: str) -> int:
    """A counter of the Scrapy stats a crawl logs at its end (0 when it was never counted)."""
    found = re.findall(rf"'{re.escape(name)}': (\d+)", log)
    return int(found[-1]) if found else 0


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (an exited orphan may linger as a zombie: not live)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


LAUNCHER = """
import os, subprocess, sys, time
env = dict(os.environ, ZWAUDIT_CRAWL_PARENT=str(os.getpid()))
child = subprocess.Popen(sys.argv[1:], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(child.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="Linux only (prctl)")
@pytest.mark.long(15)
def test_a_crawl_stops_when_its_launcher_is_killed(
    sandbox: Sandbox, tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]]
) -> None:
    """A killed nightly must not leave an orphan crawl writing into a run that is over."""
    url, sf = sqlite_db
    # the sandbox profile without its zero delay: a crawl long enough to be killed midway
    config_dir = _config_with(sandbox, tmp_path / "config", "sbx-shu", "politeness", delay_seconds=0.2)
    run_id = start_run(sf, "crawl")
    cmd = crawl_command(run_id, ["sbx-shu"], config_dir=config_dir, db_url=url)
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *cmd], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    assert launcher.stdout is not None
    crawl_pid = int(launcher.stdout.readline())
    try:
        deadline = time.monotonic() + 120
        while _count(sf, models.ServiceItem, run_id) < 1:
            assert _running(crawl_pid) and time.monotonic() < deadline, "the crawl stored nothing"
            time.sleep(0.2)
        launcher.kill()  # SIGKILL: the launcher gets no chance to clean up
        launcher.wait()
        deadline = time.monotonic() + 60
        while _running(crawl_pid):
            assert time.monotonic() < deadline, "the crawl outlived its launcher by a minute"
            time.sleep(0.2)
        # it stopped midway (SIGTERM, a clean Scrapy stop), not after crawling to the end
        stored = _count(sf, models.ServiceItem, run_id)
        assert stored < sum(sandbox.ground_truth("sbx-shu")["item_counts"].values())
    finally:
        if _running(crawl_pid):
            os.kill(crawl_pid, signal.SIGKILL)


def test_a_new_database_never_resumes_another_databases_crawl(site: CrawlSite, tmp_path: Path) -> None:
    """Run ids restart at 1 in every database: run 1 of a second database must not pick up the
    frontier a clean stop left for run 1 of the first (its URLs may point at a sandbox that is gone)."""
    config_dir = site.write_config(tmp_path / "config")
    runs = {}
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.sqlite"
        engine = make_engine(url)
        upgrade(engine)
        sf = session_factory(engine)
        run_id = start_run(sf, "crawl")
        with sf() as session:
            started = session.get(models.Run, run_id).started_at  # type: ignore[union-attr]
            identity = database_identity(session)
        runs[name] = (url, run_id, started, identity)
    assert runs["a"][1] == runs["b"][1] == 1
    # database a's run 1 was stopped cleanly midway: its JOBDIR holds a resumable frontier
    url_a, run_a, started_a, identity_a = runs["a"]
    stale = jobdir_for(run_dir_name(identity_a, run_a, started_a), "site")
    stale.mkdir(parents=True)
    (stale / CLEAN_MARKER).write_text("shutdown")

    url_b, run_b, _, _ = runs["b"]
    assert crawl(run_b, ["site"], config_dir=config_dir, db_url=url_b).portals["site"].resumed == "new"
    assert crawl(run_a, ["site"], config_dir=config_dir, db_url=url_a).portals["site"].resumed == "resume"


@pytest.mark.browser
def test_a_list_bound_in_script_is_crawled_by_clicking_it(
    site: CrawlSite, tmp_path: Path, sqlite_db: tuple[str, sessionmaker[Session]]
) -> None:
    """Rows with no href and no onclick (addEventListener, a new tab): the crawler clicks them,
    fetches where they lead, and names each guide by the row clicked (the page has no label)."""
    url, sf = sqlite_db
    config_dir = site.write_spa_config(tmp_path / "config")
    run_id = start_run(sf, "crawl")
    summary = crawl(run_id, ["spa"], config_dir=config_dir, db_url=url)
    assert summary.item_counts["spa"] == {"portal": len(ITEMS)}
    with sf() as session:
        names = set(session.scalars(select(models.ServiceItem.name)))
    assert names == {n.replace("（", "(").replace("）", ")") for _, n, _ in ITEMS}
    assert all(len(site.hits[f"/spa/view/{c}"]) == 1 for c, _, _ in ITEMS)  # each fetched once, by the crawl


GRANDCHILD = """
import subprocess, sys, json, pathlib
# a grandchild that inherits stdout and stderr and outlives the crawler (as a browser driver may)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
pathlib.Path(sys.argv[1]).write_text(str(child.pid))
print(json.dumps({"portal_done": "site", "finish_reason": "finished"}), flush=True)
print(json.dumps({"run_id": 1, "portals": {"site": {"finish_reason": "finished"}}}), flush=True)
"""


@pytest.mark.timeout(120)
def test_a_grandchild_holding_the_pipes_does_not_hold_the_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crawler has exited; its output is read for DRAIN_S, not until every process that
    inherited its pipes is gone."""
    pid_file = tmp_path / "grandchild.pid"
    command = [sys.executable, "-c", GRANDCHILD, str(pid_file)]
    monkeypatch.setattr(launcher, "crawl_command", lambda *a, **k: command)
    monkeypatch.setattr(launcher, "DRAIN_S", 0.5)
    done: list[tuple[str, str]] = []
    try:
        summary = launcher.crawl(
            1, ["site"], config_dir=".", db_url="sqlite://", on_portal=lambda *a: done.append(a)
        )
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert summary.portals["site"].finish_reason == "finished"
    assert done == [("site", "finished")]
