"""The browser seam of the crawl: Playwright is imported and started only when a request needs it.

scrapy-playwright's handler imports Playwright and starts its driver (a Node process) when the
engine starts, even for a crawl that never renders a page. A server-rendered portal should cost
no browser at all, so :class:`RenderingHandler` serves plain requests with Scrapy's own HTTP/1.1
handler and builds the Playwright handler on the first request marked ``meta["playwright"]``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class _SharedBrowser:
    """One Playwright handler per crawler, shared by the http and https handlers."""

    def __init__(self) -> None:
        self.handler: Any = None
        self.lock = asyncio.Lock()
        self.closed = False


class RenderingHandler(BaseDownloadHandler):
    """Plain HTTP by default; the browser (scrapy-playwright) for requests that ask for it."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.http = HTTP11DownloadHandler.from_crawler(crawler)
        if not hasattr(crawler, "_zwaudit_browser"):
            crawler._zwaudit_browser = _SharedBrowser()  # type: ignore[attr-defined]
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
            response: Response = await handler.download_request(request)
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
