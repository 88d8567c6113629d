"""A single-page app's routes drawn in the tab that already holds the app, as a person clicks them.

A portal built as a single-page app shows every guide in one document: a person clicks from route
to route and the app's router redraws, the page does not load again. Two kinds of router:

* **hash** (``/zsfw/#/guide/…``): the route is the URL's fragment; moving there is a
  same-document navigation, the app redraws on ``hashchange``;
* **history** (``/service/guide/…``, ``history.pushState``): the route is the path; moving there
  is what the browser does on Back and Forward, ``pushState`` and a ``popstate`` event, on which
  the app redraws.

The crawler used to load the whole app afresh for every route: about 0.27 CPU-s of Chromium a
route on sbx-zhe (hash) against 0.05 for a route change in the loaded app, 0.37 against 0.09 on
sbx-min (history); ``bench/routes_bench.py`` measures a whole crawl both ways.

The risk of drawing in place is reading the previous route's page as this route's, or a page no
fresh load would show. So an app earns it: its first routes are drawn in place *and* loaded
afresh, and only when both show the same text, twice, are its later routes drawn in place alone
(:class:`RouteTrust`, per document for hash routes, per origin for history routes). One
disagreement, and every later route of that app is loaded afresh, as before. A route whose text
did not change after the move is always loaded afresh, even in a proven app: it may be right (a
default route), or stale (an app that ignores the event, a server-rendered site, a script that
died), and only the fresh load tells which. A profile turns it off with
``crawl.routes_in_place: false``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urldefrag, urlsplit

from scrapy.http import HtmlResponse

from zwaudit.inflight import Inflight

if TYPE_CHECKING:
    from playwright.async_api import Page
    from scrapy import Request

RouteKind = Literal["hash", "history"]

ROUTES_IN_PLACE = "zwaudit_routes_in_place"  # request meta: the profile allows drawing in place
QUIET_S = 0.5  # as Playwright's networkidle: no request in flight for this long
ROUTE_TIMEOUT_S = 10.0  # a route whose requests never end is loaded afresh after this
AGREEMENTS_NEEDED = 2  # routes drawn both ways with the same text before in place alone is trusted
_BODY_TEXT = "() => document.body ? document.body.innerText : ''"
_HISTORY_MOVE = (
    "u => { history.pushState(null, '', u); dispatchEvent(new PopStateEvent('popstate', {state: null})); }"
)


def document_of(url: str) -> str:
    """The document a URL names: the URL without its fragment."""
    return urldefrag(url)[0]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme in ("http", "https") else ""


def fragment_move(page_url: str, url: str) -> bool:
    """Whether a plain ``goto`` from ``page_url`` to ``url`` stays in the document (changes at
    most the fragment): the app is not loaded again, so nothing waits for it to redraw."""
    return "#" in url and document_of(page_url) == document_of(url)


def route_kind(page_url: str, url: str) -> RouteKind | None:
    """How a tab at ``page_url`` could move to ``url`` in place: a hash route of its document, a
    history route of its origin, or not at all (another origin, the same URL)."""
    if page_url == url or not _origin(page_url) or _origin(page_url) != _origin(url):
        return None
    if fragment_move(page_url, url):
        return "hash"
    return None if "#" in url else "history"


def app_of(url: str, kind: RouteKind) -> str:
    """What earns trust for a kind of route: a hash-routed app is its document, a history-routed
    app its origin."""
    return f"hash {document_of(url)}" if kind == "hash" else f"history {_origin(url)}"


@dataclass
class RouteTrust:
    """What one app's routes showed when drawn in place beside loaded afresh."""

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


@dataclass
class RouteMove:
    """One route drawn in the tab holding its app: what the tab showed before the move."""

    url: str
    kind: RouteKind
    before: str
    trust: RouteTrust
    outcome: list[str] = field(default_factory=list)  # "in_place" or "reloaded", for the stats


async def body_text(page: Page) -> str:
    return str(await page.evaluate(_BODY_TEXT))


def page_handlers(request: Request, spider: Any) -> Iterator[tuple[Any, Any]]:
    """The spider's page event handlers a rendered request names (``playwright_page_event_handlers``,
    a method name or a callable), resolved as scrapy-playwright resolves them."""
    for event, handler in (request.meta.get("playwright_page_event_handlers") or {}).items():
        function = getattr(spider, handler, None) if isinstance(handler, str) else handler
        if callable(function):
            yield event, function


async def draw_in_place(page: Page, request: Request, move: RouteMove, spider: Any) -> HtmlResponse:
    """Render ``request`` by moving the tab holding its app to the route, instead of
    scrapy-playwright's ``goto`` (which would load a history route's page again): the spider's
    page event handlers and page methods (click discovery) run as scrapy-playwright runs them,
    the wait for ``networkidle`` excepted, which :func:`settle_route` replaces. The response is
    the page's HTML, as scrapy-playwright's."""
    started = time.monotonic()
    for event, function in page_handlers(request, spider):
        page.on(event, function)  # detached again when the pool takes the tab back
    # Playwright's networkidle does not wait again after a same-document navigation: the app's
    # requests are counted from before the move
    with Inflight(page) as net:
        if move.kind == "hash":
            await page.goto(move.url)  # a same-document navigation: the app's hashchange
        else:
            await page.evaluate(_HISTORY_MOVE, move.url)
        await settle_route(page, move, net)
    for method in request.meta.get("playwright_page_methods") or ():
        if method.method == "wait_for_load_state":
            continue
        if callable(method.method):
            method.result = await method.method(page, *method.args, **method.kwargs)
        else:
            method.result = await getattr(page, method.method)(*method.args, **method.kwargs)
    html = await page.content()
    request.meta["download_latency"] = time.monotonic() - started
    return HtmlResponse(
        url=page.url,
        status=200,  # the app's document was; a route has no HTTP status of its own
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=html.encode("utf-8"),
        encoding="utf-8",
        request=request,
        flags=["playwright"],
    )


async def settle_route(page: Page, move: RouteMove, net: Inflight) -> None:
    """Wait for the app's requests to end; keep the page when its app is proven, else load the
    route afresh (and, while the app is on probation, record whether the two agreed)."""
    await net.quiet(asyncio.get_running_loop().time() + ROUTE_TIMEOUT_S, QUIET_S)
    settled = net.idle_s() >= QUIET_S
    drawn = await body_text(page)
    changed = settled and drawn != move.before
    if changed and move.trust.proven:
        move.outcome.append("in_place")
        return
    await page.goto("about:blank")
    await page.goto(move.url)
    await page.wait_for_load_state("networkidle")
    move.outcome.append("reloaded")
    if not move.trust.refused:  # a route showing what it showed before may be right (a default
        # route) or stale (an app that ignores the move): the fresh load tells which
        move.trust.record(settled and drawn == await body_text(page))
