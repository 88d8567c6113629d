"""The browser seam of the crawl: Playwright is imported and started only when a request needs it.

scrapy-playwright's handler imports Playwright and starts its driver (a Node process) when the
engine starts, even for a crawl that never renders a page. A server-rendered portal should cost
no browser at all, so :class:`RenderingHandler` serves plain requests with Scrapy's own HTTP/1.1
handler and builds the Playwright handler on the first request marked ``meta["playwright"]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

if TYPE_CHECKING:
    from playwright.async_api import Page
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

log = logging.getLogger(__name__)

CLEAN_TIMEOUT_S = 5.0  # a page that cannot be emptied within this is closed, not kept
_POOLED = "_zwaudit_pooled_page"  # meta key: the request renders in a kept tab (see PagePool)


class PagePool:
    """One idle tab per browser context, kept between rendered requests.

    scrapy-playwright opens a new tab for every rendered request and closes it after; a new tab
    costs Chromium a renderer (a crawl of sbx-zhe, all channels, took 51 CPU-s with a tab per
    request and 35 with the kept tab, the same items stored). A finished request's tab is emptied
    (``about:blank``, its routes removed) and kept when no other tab of its context is idle;
    otherwise it is closed, which releases its slot in scrapy-playwright's per-context page limit.
    At most one kept tab per context, with that limit at 2 or more, means a request waiting for a
    slot always finds one freed by a busy tab ending, never one held by an idle tab. A tab that
    failed, crashed, or could not be emptied is closed, never kept: each page still starts from a
    fresh navigation, and nothing of one page's state can reach another's.
    """

    def __init__(self, max_pages_per_context: int) -> None:
        self.enabled = max_pages_per_context >= 2
        self.idle: dict[str, Page] = {}
        self.emptying: set[str] = set()  # contexts whose finished tab is being emptied to be kept
        self.reused = 0

    def take(self, request: Request) -> None:
        """Mark ``request`` to render in the context's kept tab (or in a new tab that is kept)."""
        meta = request.meta
        if not self.enabled or meta.get("playwright_page") is not None or meta.get("playwright_include_page"):
            return  # a request holding its own tab (the challenge) manages it itself
        page = self.idle.pop(_context_of(request), None)
        if page is not None and not page.is_closed():
            request.meta["playwright_page"] = page
            self.reused += 1
        request.meta["playwright_include_page"] = True
        request.meta[_POOLED] = True

    async def give_back(self, request: Request, ok: bool) -> None:
        """After the download: keep the tab (emptied) or close it; the spider never sees it."""
        if not request.meta.pop(_POOLED, False):
            return
        request.meta.pop("playwright_include_page", None)
        page: Page | None = request.meta.pop("playwright_page", None)
        if page is None or page.is_closed():
            return
        name = _context_of(request)
        if ok and name not in self.idle and name not in self.emptying:
            # claimed before the await: two tabs ending together must not both become the kept
            # one (the second would overwrite the first, which then held its slot forever and
            # the next request waited for a page slot without end)
            self.emptying.add(name)
            try:
                clean = await self._emptied(page)
            finally:
                self.emptying.discard(name)
            if clean:
                self.idle[name] = page
                return
        with contextlib.suppress(Exception):
            await page.close()

    @staticmethod
    async def _emptied(page: Page) -> bool:
        try:
            await asyncio.wait_for(page.unroute_all(behavior="ignoreErrors"), CLEAN_TIMEOUT_S)
            await page.goto("about:blank", timeout=CLEAN_TIMEOUT_S * 1000)
        except Exception as exc:  # a hung or crashed page is not kept
            log.debug("a rendered tab could not be emptied (%s); closing it", exc)
            return False
        return True

    async def close(self) -> None:
        pages, self.idle = list(self.idle.values()), {}
        for page in pages:
            with contextlib.suppress(Exception):
                await page.close()


def _context_of(request: Request) -> str:
    """The browser context a rendered request uses (scrapy-playwright's name for its default)."""
    return str(request.meta.get("playwright_context", "default"))


class _SharedBrowser:
    """One Playwright handler per crawler, shared by the http and https handlers."""

    def __init__(self, max_pages_per_context: int) -> None:
        self.handler: Any = None
        self.lock = asyncio.Lock()
        self.closed = False
        self.pages = PagePool(max_pages_per_context)


class RenderingHandler(BaseDownloadHandler):
    """Plain HTTP by default; the browser (scrapy-playwright) for requests that ask for it."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.http = HTTP11DownloadHandler.from_crawler(crawler)
        if not hasattr(crawler, "_zwaudit_browser"):
            limit = crawler.settings.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT")
            crawler._zwaudit_browser = _SharedBrowser(limit)  # type: ignore[attr-defined]
        self.shared: _SharedBrowser = crawler._zwaudit_browser  # type: ignore[attr-defined]

    async def _browser_handler(self) -> Any:
        async with self.shared.lock:
            if self.shared.handler is None:
                from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

                handler = ScrapyPlaywrightDownloadHandler.from_crawler(self.crawler)
                await handler._launch()  # what its engine_started hook would have done
                self.shared.handler = handler
            return self.shared.handler

    async def download_request(self, request: Request) -> Response:
        if request.meta.get("playwright"):
            handler = await self._browser_handler()
            pages = self.shared.pages
            pages.take(request)
            ok = False
            try:
                response: Response = await handler.download_request(request)
                ok = True
            finally:
                await pages.give_back(request, ok)
            return response  # its navigation and XHRs are paced by abort_request
        from crawler.network import answered, pace_shared

        await pace_shared(request.url)  # the Crawl-delay shared with the browser checks
        try:
            return await self.http.download_request(request)
        finally:
            answered(request.url)

    async def close(self) -> None:
        await self.http.close()
        if self.shared.handler is not None and not self.shared.closed:
            self.shared.closed = True
            await self.shared.pages.close()
            if self.crawler.stats is not None:
                self.crawler.stats.set_value("playwright/page_reused", self.shared.pages.reused)
            await self.shared.handler.close()


async def abort_request(request: Any) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: rendering needs the page's script and data, not its pictures; and
    nothing a rendered page asks for may reach a private, loopback or link-local address that is
    not one of the portal's own origins (:func:`crawler.network.browser_allows`). A request that
    loads a page (navigation, frame, XHR) of a host asking for a ``Crawl-delay`` waits here for
    its turn on the clock the audit's processes share (:func:`crawler.network.pace_shared`)."""
    if request.resource_type in ("image", "media", "font"):
        return True
    from crawler.network import browser_allows, pace_shared
    from zwaudit.net.pacing import PAGE_RESOURCE_TYPES

    if not await browser_allows(str(request.url)):
        return True
    if request.resource_type in PAGE_RESOURCE_TYPES:
        await pace_shared(str(request.url))  # a navigation or XHR of a Crawl-delay host waits its turn
    return False
