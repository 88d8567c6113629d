"""Every portal a crawl process renders shares one Chromium (:mod:`crawler.browsers`).

Two providers, as two portals' scrapy-playwright handlers hold them (built from the crawl's own
settings), used as the handler uses them, in real Chromium: one browser serves both, each portal
keeps its own context (a cookie set for one is not sent for the other), one closing leaves the
browser to the other, the last one closes it, and a browser that dies is relaunched once for both.
And a real crawl whose Chromium is killed midway relaunches it and finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings as ScrapySettings
from scrapy_playwright.handler import Config
from sqlalchemy import func, select

from crawler import browsers
from crawler.browsers import BrowserLease, SharedBrowserProvider
from crawler.config import launch_options
from crawler.settings import PLAYWRIGHT_BROWSER_PROVIDER
from zwaudit.app.crawl import crawl_command
from zwaudit.config.schema import Settings
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.db.store import start_run

pytestmark = pytest.mark.browser


def provider() -> SharedBrowserProvider:
    """A portal's provider, from the crawl's Playwright settings."""
    exe = Settings().browser.executable_path
    if exe is not None and not exe.exists():
        pytest.skip(f"browser not installed: {exe}")
    assert PLAYWRIGHT_BROWSER_PROVIDER == "crawler.browsers.SharedBrowserProvider"
    settings = ScrapySettings({"PLAYWRIGHT_LAUNCH_OPTIONS": launch_options(str(exe) if exe else None)})
    return SharedBrowserProvider(Config.from_settings(settings))


class Handler:
    """What scrapy-playwright's handler does with its provider's browser."""

    def __init__(self) -> None:
        self.provider = provider()
        self.browser: BrowserLease | None = None

    async def start(self) -> None:
        await self.provider.start()

    async def context(self):  # type: ignore[no-untyped-def]
        if self.browser is None:
            self.browser = await self.provider.launch_browser()
            self.browser.on("disconnected", self.disconnected)
        return await self.browser.new_context()

    def disconnected(self, *_: object) -> None:
        self.browser = None  # restart_disconnected_browser: the next request asks again

    async def close(self) -> None:
        if self.browser is not None:
            await self.browser.close()
        await self.provider.close()


def test_two_portals_render_in_one_browser_each_in_its_own_context() -> None:
    async def go() -> None:
        first, second = Handler(), Handler()
        await first.start()
        await second.start()
        one, two = await first.context(), await second.context()
        assert one.browser is two.browser  # one Chromium
        await one.add_cookies([{"name": "sid", "value": "a1", "url": "http://127.0.0.1/"}])
        assert await two.cookies("http://127.0.0.1/") == []  # the portals' sessions stay apart

        await one.close()
        await first.close()  # one portal's crawl ends: the other keeps rendering
        shared = two.browser
        assert shared is not None and shared.is_connected()
        page = await two.new_page()
        await page.set_content("<p>仍在渲染</p>")
        assert await page.inner_text("p") == "仍在渲染"
        await second.close()  # the last one closes the browser and the driver
        assert not shared.is_connected()
        assert browsers._PROCESS == {}

    asyncio.run(go())


def test_a_browser_that_dies_is_relaunched_once_for_every_portal() -> None:
    async def go() -> None:
        first, second = Handler(), Handler()
        await first.start()
        await second.start()
        dead = (await first.context()).browser
        await second.context()
        (shared,) = browsers._PROCESS.values()
        assert shared.launches == 1 and dead is not None
        await dead.close()  # as a crash would: both portals see the disconnection
        for _ in range(100):
            if first.browser is None and second.browser is None:
                break
            await asyncio.sleep(0.02)
        one, two = await first.context(), await second.context()
        assert one.browser is two.browser and one.browser is not dead
        assert one.browser is not None and one.browser.is_connected()
        assert shared.launches == 2  # relaunched once, not once per portal
        await first.close()
        await second.close()
        assert browsers._PROCESS == {}

    asyncio.run(go())


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
                children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _browser_of(root: int) -> int | None:
    """The crawl's Chromium browser process (not a renderer or other helper), if one runs."""
    for pid in _descendants(root):
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if cmd[0].rsplit(b"/", 1)[-1] in (b"chromium", b"chrome") and not any(
                a.startswith(b"--type=") for a in cmd
            ):
                return pid
    return None


@pytest.mark.long(20)
def test_a_browser_killed_mid_crawl_is_relaunched_and_the_crawl_finishes(
    sandbox: Any, tmp_path: Path
) -> None:
    """sbx-zhe's portal is a single-page app: every page renders. Its Chromium is SIGKILLed once
    the crawl has stored some items; the crawl relaunches it, fetches again the pages the kill cut
    short (a browser that died is our failure, not the portal's) and stores every item."""
    url = f"sqlite:///{tmp_path / 'crawl.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    sf = session_factory(engine)
    run_id = start_run(sf, "crawl")
    cmd = crawl_command(run_id, ["sbx-zhe"], config_dir=sandbox.config_dir, db_url=url, channels=["portal"])
    log, out = tmp_path / "crawl.log", tmp_path / "crawl.out"
    with log.open("w") as err, out.open("w") as summary:
        proc = subprocess.Popen(cmd, stdout=summary, stderr=err, env=dict(os.environ))
    killed = None
    try:
        deadline = time.monotonic() + 120
        while killed is None and proc.poll() is None:
            assert time.monotonic() < deadline, "the crawl stored nothing within two minutes"
            browser = _browser_of(proc.pid)
            if browser is not None and stored(sf, run_id) >= 5:
                at_kill = stored(sf, run_id)
                os.kill(browser, signal.SIGKILL)
                killed = browser
            time.sleep(0.1)
        assert proc.wait(timeout=180) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "the crawl ended before its browser could be killed"
    text = log.read_text()
    assert "shared browser launched (2 so far in this process)" in text, text[-3000:]
    assert "'retry/reason_count/playwright._impl._errors.TargetClosedError'" in text
    # no ERROR logged: not by the kill, and not by the finished crawl's cleanup (it once removed
    # the resume directory under Scrapy's SpiderState, which still wrote into it)
    errors = [line for line in text.splitlines() if "] ERROR:" in line]
    assert errors == [], text[-3000:]
    (portal,) = json.loads(out.read_text().strip().splitlines()[-1])["portals"].values()
    assert portal["finish_reason"] == "finished"
    # the relaunched browser rendered the rest, and the pages the kill cut short again
    assert at_kill < stored(sf, run_id) == sandbox.ground_truth("sbx-zhe")["item_counts"]["portal"]
    engine.dispose()


def stored(sf: Any, run_id: int) -> int:
    with sf() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(models.ServiceItem)
                .where(models.ServiceItem.run_id == run_id)
            )
            or 0
        )
