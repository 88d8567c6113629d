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

from crawler.routes import (
    ROUTES_IN_PLACE,
    RouteKind,
    RouteMove,
    RouteTrust,
    app_of,
    body_text,
    draw_in_place,
    fragment_move,
    page_handlers,
    route_kind,
)
from crawler.runaway import within_page_timeout

if TYPE_CHECKING:
    from playwright.async_api import Page
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

log = logging.getLogger(__name__)

CLEAN_TIMEOUT_S = 5.0  # a page that cannot be emptied within this is closed, not kept
CLOSE_TIMEOUT_S = 30.0  # closing the crawler's tabs, contexts and its lease of the browser
_POOLED = "_zwaudit_pooled_page"  # meta key: the request renders in a kept tab (see PagePool)
_ROUTE_PENDING = "_zwaudit_route_pending"  # take() handed over a tab holding the route's app
_ROUTE_MOVE = "_zwaudit_route_move"  # the RouteMove of a request drawn in place
_EMPTY_FIRST = "_zwaudit_empty_first"  # take() handed over a tab at this route's document


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

    One exception, for single-page apps (:mod:`crawler.routes`): a tab that ends on a page of the
    portal is kept at that page, not emptied, when the spider allows it (the profile's
    ``crawl.routes_in_place``), and its app has not refused; the next request for a route of the
    same app (a hash route of its document, a history route of its origin) is drawn in it as a
    person's click would be (:func:`crawler.routes.draw_in_place`), loaded afresh as well until the
    app has shown the same text both ways. A tab is never handed to a plain ``goto`` that would
    stay in its document (a fragment change): the previous route's page would be read as this
    one's.

    The spider's page event handlers (``capture_json``) are detached from a tab before it is kept:
    scrapy-playwright attaches them again for each request, and a kept tab would otherwise report
    every JSON body once per request it had served.
    """

    def __init__(self, max_pages_per_context: int) -> None:
        self.enabled = max_pages_per_context >= 2
        self.idle: dict[str, Page] = {}
        self.emptying: set[str] = set()  # contexts whose finished tab is being emptied to be kept
        self.routes: dict[str, RouteTrust] = {}  # app → what its routes drawn in place showed
        self.reused = 0
        self.in_place = 0  # routes read as drawn in place
        self.reloaded = 0  # routes handed a tab at their document but loaded afresh

    def take(self, request: Request) -> None:
        """Mark ``request`` to render in the context's kept tab (or in a new tab that is kept)."""
        meta = request.meta
        if not self.enabled or meta.get("playwright_page") is not None or meta.get("playwright_include_page"):
            return  # a request holding its own tab (the challenge) manages it itself
        name = _context_of(request)
        page = self.idle.get(name)
        if page is not None and not page.is_closed():
            kind = route_kind(page.url, request.url) if meta.get(ROUTES_IN_PLACE) else None
            if kind is not None and not self._trust(request.url, kind).refused:
                meta[_ROUTE_PENDING] = kind
            elif fragment_move(page.url, request.url):
                meta[_EMPTY_FIRST] = True  # a goto would stay in the tab's document: empty it first
        if page is not None:
            del self.idle[name]
            if not page.is_closed():
                request.meta["playwright_page"] = page
                self.reused += 1
        request.meta["playwright_include_page"] = True
        request.meta[_POOLED] = True

    def _trust(self, url: str, kind: RouteKind) -> RouteTrust:
        return self.routes.setdefault(app_of(url, kind), RouteTrust())

    def _useful(self, page: Page) -> bool:
        """Whether a tab at its page could still take a route in place (one of its apps has not
        refused)."""
        return page.url.startswith(("http:", "https:")) and not (
            self._trust(page.url, "hash").refused and self._trust(page.url, "history").refused
        )

    async def arrange(self, request: Request) -> RouteMove | None:
        """Before a route handed a tab holding its app: note what the tab shows. The move, for
        :func:`crawler.routes.draw_in_place`; None: download as usual."""
        meta = request.meta
        held: Page | None = meta.get("playwright_page")
        if meta.pop(_EMPTY_FIRST, False) and held is not None and not await self._emptied(held):
            del meta["playwright_page"]  # scrapy-playwright opens a new tab
            with contextlib.suppress(Exception):
                await held.close()
        kind: RouteKind | None = meta.pop(_ROUTE_PENDING, None)
        if kind is None:
            return None
        page: Page = meta["playwright_page"]
        try:
            before = await asyncio.wait_for(body_text(page), CLEAN_TIMEOUT_S)
        except Exception as exc:  # a tab that cannot answer is not used
            log.debug("a kept tab did not answer (%s); the route gets a new one", exc)
            del meta["playwright_page"]
            with contextlib.suppress(Exception):
                await page.close()
            return None
        move = RouteMove(request.url, kind, before, self._trust(request.url, kind))
        meta[_ROUTE_MOVE] = move
        return move

    async def give_back(self, request: Request, ok: bool, spider: Any = None) -> None:
        """After the download: keep the tab (at its page for a route of its app, or emptied) or
        close it; the spider never sees it."""
        move: RouteMove | None = request.meta.pop(_ROUTE_MOVE, None)
        if move is not None:
            self.in_place += move.outcome.count("in_place")
            self.reloaded += move.outcome.count("reloaded")
        if not request.meta.pop(_POOLED, False):
            return
        request.meta.pop("playwright_include_page", None)
        page: Page | None = request.meta.pop("playwright_page", None)
        if page is None or page.is_closed():
            return
        _detach_handlers(page, request, spider)
        name = _context_of(request)
        held = self.idle.get(name)
        if held is not None and not held.is_closed() and held.url != "about:blank" and not self._useful(held):
            del self.idle[name]  # kept at a page whose app refused: no use now
            with contextlib.suppress(Exception):
                await held.close()
        if ok and name not in self.idle and name not in self.emptying and self._keeps_document(request, page):
            self.idle[name] = page  # its routes' requests stay guarded by abort_request
            return
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

    def _keeps_document(self, request: Request, page: Page) -> bool:
        """Whether a finished tab stays at its page: the next route of its app may be drawn in it."""
        return bool(request.meta.get(ROUTES_IN_PLACE)) and self._useful(page)

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


def _detach_handlers(page: Page, request: Request, spider: Any) -> None:
    """Remove the event handlers scrapy-playwright (or draw_in_place) attached for ``request``."""
    for event, function in page_handlers(request, spider):
        with contextlib.suppress(Exception):
            page.remove_listener(event, function)


def _context_of(request: Request) -> str:
    """The browser context a rendered request uses (scrapy-playwright's name for its default)."""
    return str(request.meta.get("playwright_context", "default"))


class _CrawlerRendering:
    """What one crawler's http and https handlers share: one scrapy-playwright handler and its
    pool of tabs (the browser under it is the whole process's: crawler.browsers)."""

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
        if not hasattr(crawler, "_zwaudit_rendering"):
            limit = crawler.settings.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT")
            crawler._zwaudit_rendering = _CrawlerRendering(limit)  # type: ignore[attr-defined]
        self.shared: _CrawlerRendering = crawler._zwaudit_rendering  # type: ignore[attr-defined]
        self.page_timeout_s = crawler.settings.getfloat("ZWAUDIT_PAGE_TIMEOUT")

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
                response = await within_page_timeout(
                    self._render(handler, request), request, self.page_timeout_s
                )
                ok = True
            finally:
                await pages.give_back(request, ok, self.crawler.spider)  # a tab abandoned is closed
                self._count(pages)
            return response  # its navigation and XHRs are paced by abort_request
        from crawler.network import answered, pace_shared

        await pace_shared(request.url)  # the Crawl-delay shared with the browser checks
        try:
            return await self.http.download_request(request)
        finally:
            answered(request.url)

    async def _render(self, handler: Any, request: Request) -> Response:
        move = await self.shared.pages.arrange(request)
        if move is not None:
            return await draw_in_place(request.meta["playwright_page"], request, move, self.crawler.spider)
        response: Response = await handler.download_request(request)
        return response

    def _count(self, pool: PagePool) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("playwright/page_reused", pool.reused)
            self.crawler.stats.set_value("playwright/route_in_place", pool.in_place)
            self.crawler.stats.set_value("playwright/route_reloaded", pool.reloaded)

    async def close(self) -> None:
        await self.http.close()
        if self.shared.handler is not None and not self.shared.closed:
            self.shared.closed = True
            try:
                # Playwright closes a context or browser without a timeout, waiting for its close
                # event: one that never comes (a context of a browser that died) would keep the
                # finished crawl from exiting; the driver and browser die with the process
                await asyncio.wait_for(self._close_browser(), CLOSE_TIMEOUT_S)
            except TimeoutError:
                log.warning(
                    "the crawl's browser did not close within %.0f s; it ends with the process",
                    CLOSE_TIMEOUT_S,
                )

    async def _close_browser(self) -> None:
        await self.shared.pages.close()
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
