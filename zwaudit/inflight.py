"""What a page has under way: the requests it started and has not finished.

A page drawn by its own script is ready when it stops asking and stops drawing, not after a fixed
time: a hash route's XHRs start no new document (the load states do not start again), and a
round of clicks' paging requests answer in 50 ms on one portal and 1.5 s on another. Shared by
the probes' navigation (:mod:`probes.common.navigation`) and the crawler's click discovery
(:mod:`crawler.clicks`), which wait for the page to be quiet, bounded, instead of sleeping.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Page, Request


class Inflight:
    """The requests a page has under way, and when the last one started or ended.

    Used as a context manager around the work whose requests count (listeners are removed on
    exit). WebSockets and event streams stay open by design and are not counted.
    """

    LONG_LIVED = frozenset({"websocket", "eventsource"})

    def __init__(self, page: Page) -> None:
        self.page = page
        self.open: set[Request] = set()
        self.last = 0.0  # loop time of the last request start or end (or of :meth:`mark`)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _start(self, request: Request) -> None:
        if request.resource_type not in self.LONG_LIVED:
            self.open.add(request)
            self.last = self._now()

    def _end(self, request: Request) -> None:
        self.open.discard(request)
        self.last = self._now()

    def mark(self) -> None:
        """Count quiet from now (the caller just did something that may start requests late)."""
        self.last = self._now()

    def idle_s(self) -> float:
        """Seconds since the last request started or ended; 0 while one is under way."""
        return 0.0 if self.open else max(0.0, self._now() - self.last)

    def __enter__(self) -> Inflight:
        self.last = self._now()
        self.page.on("request", self._start)
        self.page.on("requestfinished", self._end)
        self.page.on("requestfailed", self._end)
        return self

    def __exit__(self, *exc: object) -> None:
        self.page.remove_listener("request", self._start)
        self.page.remove_listener("requestfinished", self._end)
        self.page.remove_listener("requestfailed", self._end)

    async def quiet(self, deadline: float, quiet_s: float = 0.5) -> None:
        """Wait until no request has been under way for ``quiet_s``, or the deadline."""
        while self._now() < deadline:
            if self.idle_s() >= quiet_s:
                return
            await asyncio.sleep(0.05)
