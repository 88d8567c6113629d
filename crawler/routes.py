"""A hash-routed app's routes drawn in the tab that already holds the app, as a person clicks them.

A portal built as a hash-routed single-page app (``/zsfw/#/guide/…``) shows every guide in one
document: a person clicks from route to route and the app redraws, it does not load again. The
crawler used to load the whole app afresh for every route (about 0.27 CPU-s of Chromium a route on
sbx-zhe, against 0.05 for a route change in the loaded app: ``bench/routes_bench.py``).

The risk of drawing in place is reading the previous route's page as this route's. So a
document earns it: its first routes are drawn in place *and* loaded afresh, and only when both
show the same text, twice, are its later routes drawn in place alone (:class:`RouteTrust`). One
disagreement, and every later route of that document is loaded afresh, as before. A route whose
text did not change at all after the move is loaded afresh and counts as a disagreement (an app
that ignores ``hashchange``, a script that died). A profile turns it off with ``crawl.routes_in_place: false``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag

if TYPE_CHECKING:
    from playwright.async_api import Page

ROUTES_IN_PLACE = "zwaudit_routes_in_place"  # request meta: the profile allows drawing in place
QUIET_S = 0.5  # as Playwright's networkidle: no request in flight for this long
ROUTE_TIMEOUT_S = 10.0  # a route whose requests never end is loaded afresh after this
AGREEMENTS_NEEDED = 2  # routes drawn both ways with the same text before in place alone is trusted
_BODY_TEXT = "() => document.body ? document.body.innerText : ''"


def document_of(url: str) -> str:
    """The document a URL names: the URL without its fragment."""
    return urldefrag(url)[0]


def same_document_route(page_url: str, url: str) -> bool:
    """Whether going from ``page_url`` to ``url`` only changes the fragment (a route change)."""
    return "#" in url and page_url != url and document_of(page_url) == document_of(url)


@dataclass
class RouteTrust:
    """What one document's routes showed when drawn in place beside loaded afresh."""

    agreed: int = 0
    refused: bool = False

    @property
    def proven(self) -> bool:
        return not self.refused and self.agreed >= AGREEMENTS_NEEDED

    def record(self, same_text: bool) -> None:
        if same_text:
            self.agreed += 1
        else:
            self.refused = True


class NetworkWatch:
    """Requests of one tab in flight since a route change began (Playwright's ``networkidle``
    does not wait again after a same-document navigation)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.in_flight = 0
        self.last_change = time.monotonic()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, _request: Any) -> None:
        self.in_flight += 1
        self.last_change = time.monotonic()

    def _ended(self, _request: Any) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.last_change = time.monotonic()

    async def quiet(self, quiet_s: float = QUIET_S, timeout_s: float = ROUTE_TIMEOUT_S) -> bool:
        """Wait until no request has been in flight for ``quiet_s``; False at ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.in_flight == 0 and time.monotonic() - self.last_change >= quiet_s:
                return True
            await asyncio.sleep(0.05)
        return False

    def detach(self) -> None:
        for event, handler in (
            ("request", self._started),
            ("requestfinished", self._ended),
            ("requestfailed", self._ended),
        ):
            with contextlib.suppress(Exception):
                self.page.remove_listener(event, handler)


@dataclass
class RouteMove:
    """One route drawn in the tab holding its document: what the tab showed before the move."""

    url: str
    before: str
    trust: RouteTrust
    watch: NetworkWatch
    outcome: list[str] = field(default_factory=list)  # "in_place" or "reloaded", for the stats


async def body_text(page: Page) -> str:
    return str(await page.evaluate(_BODY_TEXT))


async def settle_route(page: Page, move: RouteMove) -> None:
    """Used as the first scrapy-playwright ``PageMethod`` of a route drawn in place (instead of
    ``wait_for_load_state('networkidle')``): wait for the app's requests to end; keep the page
    when its document is proven, else load the route afresh (and, while the document is on
    probation, record whether the two agreed)."""
    try:
        settled = await move.watch.quiet()
        drawn = await body_text(page)
    finally:
        move.watch.detach()
    changed = settled and drawn != move.before
    if changed and move.trust.proven:
        move.outcome.append("in_place")
        return
    await page.goto("about:blank")
    await page.goto(move.url)
    await page.wait_for_load_state("networkidle")
    move.outcome.append("reloaded")
    if not move.trust.refused:  # a route that did not change counts against the document too
        move.trust.record(changed and drawn == await body_text(page))
