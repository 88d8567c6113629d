"""Downloader middlewares: honour ``Retry-After``, and pass a JS cookie challenge once.

Both are what a patient person does: wait as long as the server asks before asking again, and let
the browser run the site's own script once, then keep the cookie it set. ``Retry-After`` comes
first (it sees the response before the challenge middleware does), so a 503 challenge that asks
for a wait is waited out; the parser, the cap and the challenge recogniser are
:mod:`zwaudit.net`'s, shared with the probes.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Response
from scrapy.utils.asyncio import call_later
from scrapy.utils.httpobj import urlparse_cached

from zwaudit.net import challenge
from zwaudit.net.retry_after import RATE_LIMIT_STATUSES, Patience

log = logging.getLogger(__name__)
BROWSER_CONTEXT = {"ignore_https_errors": True}
RATE_LIMIT_CODES = tuple(sorted(RATE_LIMIT_STATUSES))


class RetryAfterMiddleware:
    """On 429/503, pause the host's download slot for ``Retry-After`` (or a backoff), then retry.

    A wait longer than ``RETRY_AFTER_MAX_SECONDS`` or more than ``RETRY_AFTER_TIMES`` attempts gives
    the response back marked ``rate_limited``: the crawl records an error, never a broken link.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.patience = Patience(
            max_wait_s=crawler.settings.getfloat("RETRY_AFTER_MAX_SECONDS", 120.0),
            attempts=crawler.settings.getint("RETRY_AFTER_TIMES", 4),
            backoff_s=crawler.settings.getfloat("RETRY_BACKOFF_BASE_SECONDS", 1.0),
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Any:
        if response.status not in RATE_LIMIT_CODES:
            return response
        times = int(request.meta.get("retry_after_times", 0))
        header = response.headers.get(b"Retry-After")
        if header is None and response.status == 503 and looks_like_challenge(response):
            return response  # a challenge that asks for no wait: the challenge middleware's
        wait = self.patience.wait_for(header, times)
        stats = self.crawler.stats
        if wait is None:
            request.meta["rate_limited"] = True
            if stats is not None:
                stats.inc_value("retry_after/gave_up")
            return response
        self._pause_slot(request, wait)
        if stats is not None:
            stats.inc_value("retry_after/count")
            stats.inc_value("retry_after/seconds", round(wait))
        log.info("%s answered %s; waiting %.1fs before retrying", request.url, response.status, wait)
        retry = request.replace(dont_filter=True)
        retry.meta["retry_after_times"] = times + 1
        retry.meta["retry_after_waited"] = float(request.meta.get("retry_after_waited", 0.0)) + wait
        return retry

    def _pause_slot(self, request: Request, wait: float) -> None:
        """Hold every request to this host until ``wait`` seconds have passed."""
        engine = self.crawler.engine
        if engine is None or wait <= 0:
            return
        downloader = engine.downloader
        key = request.meta.get("download_slot") or urlparse_cached(request).hostname or ""
        slot = downloader.slots.get(key)
        if slot is None:
            return
        if slot.latercall is not None:
            slot.latercall.cancel()
        slot.latercall = call_later(wait, downloader._latercall, slot)


def looks_like_challenge(response: Response) -> bool:
    """The shared recogniser (:func:`zwaudit.net.challenge.recognise`) applied to a response."""
    if not isinstance(response, HtmlResponse):
        return False
    cookies = [c.decode("latin-1") for c in response.headers.getlist(b"Set-Cookie")]
    head = response.body[: challenge.MAX_CHALLENGE_BYTES].decode(response.encoding or "utf-8", "replace")
    return challenge.recognise(response.status, head, cookies, body_size=len(response.body)) is not None


class ChallengeMiddleware:
    """Pass a JS cookie challenge once in the browser, then send its cookies with plain requests."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.cookies: dict[str, dict[str, str]] = {}  # host → cookies set by the challenge

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChallengeMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        host = urlparse_cached(request).hostname or ""
        if host in self.cookies and not request.meta.get("playwright"):
            for name, value in self.cookies[host].items():
                request.cookies.setdefault(name, value)  # type: ignore[union-attr]
        return None

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Any:
        page = request.meta.get("playwright_page")
        if request.meta.get("challenge") and page is not None:
            try:
                cookies = await page.context.cookies()
            finally:
                await page.close()
            host = urlparse_cached(request).hostname or ""
            self.cookies.setdefault(host, {}).update({c["name"]: c["value"] for c in cookies})
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("challenge/passed")
            # ask again over plain HTTP, now carrying the cookie the site's own script set
            retry = request.replace(dont_filter=True)
            for key in (
                "playwright",
                "playwright_include_page",
                "playwright_page",
                "playwright_page_methods",
            ):
                retry.meta.pop(key, None)
            retry.meta.pop("challenge", None)
            retry.meta["challenge_passed"] = True
            return retry
        if (
            request.meta.get("playwright")
            or request.meta.get("rate_limited")
            or not looks_like_challenge(response)
        ):
            return response
        if request.meta.get("challenge_passed"):
            request.meta["challenge_failed"] = True  # the cookie did not help: blocked, not broken
            return response
        log.info("%s served a cookie challenge; passing it in the browser", request.url)
        retry = request.replace(dont_filter=True)
        retry.meta.update(
            {
                "playwright": True,
                "playwright_include_page": True,
                "challenge": True,
                "playwright_page_methods": _wait_for_content(),
                "playwright_context_kwargs": getattr(self.crawler.spider, "browser_context", BROWSER_CONTEXT),
            }
        )
        return retry


def _wait_for_content() -> list[Any]:
    from scrapy_playwright.page import PageMethod

    return [PageMethod("wait_for_load_state", "networkidle")]
