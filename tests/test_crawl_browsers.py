"""Every portal a crawl process renders shares one Chromium (:mod:`crawler.browsers`).

Two providers, as two portals' scrapy-playwright handlers hold them (built from the crawl's own
settings), used as the handler uses them, in real Chromium: one browser serves both, each portal
keeps its own context (a cookie set for one is not sent for the other), one closing leaves the
browser to the other, the last one closes it, and a browser that dies is relaunched once for both
(a real crawl whose Chromium is killed midway: tests/test_crawl_run.py).
"""

from __future__ import annotations

import asyncio

import pytest
from scrapy.settings import Settings as ScrapySettings
from scrapy_playwright.handler import Config

from crawler import browsers
from crawler.browsers import BrowserLease, SharedBrowserProvider
from crawler.config import launch_options
from crawler.settings import PLAYWRIGHT_BROWSER_PROVIDER
from zwaudit.config.schema import Settings

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
