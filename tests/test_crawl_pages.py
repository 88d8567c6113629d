"""The crawler keeps one emptied tab per browser context between rendered requests
(:class:`crawler.rendering.PagePool`): what is kept, what is closed, and that no request can wait
for a slot an idle tab holds; a tab on a hash-routed app stays at its document for the app's next
route, and never reaches one of its routes unguarded (the browser side: test_crawl_routes.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Request

from crawler.rendering import PagePool
from crawler.routes import ROUTES_IN_PLACE, RouteTrust


class FakePage:
    def __init__(self, *, hangs: bool = False, url: str = "about:blank") -> None:
        self.closed = False
        self.hangs = hangs
        self.visited: list[str] = []
        self.unrouted = 0
        self.url = url
        self.listeners: list[tuple[str, Any]] = []

    def on(self, event: str, handler: Any) -> None:
        self.listeners.append((event, handler))

    def remove_listener(self, event: str, handler: Any) -> None:
        self.listeners.remove((event, handler))  # one registration, as Playwright's

    async def evaluate(self, script: str) -> str:
        return "the route shown"

    def is_closed(self) -> bool:
        return self.closed

    async def close(self) -> None:
        self.closed = True

    async def unroute_all(self, behavior: str = "") -> None:
        self.unrouted += 1

    async def goto(self, url: str, timeout: float = 0) -> None:
        await asyncio.sleep(0.01)  # a navigation takes a while: others run meanwhile
        if self.hangs:
            raise TimeoutError("the page's script never yields")
        self.visited.append(url)
        self.url = url


def rendered(context: str = "default", **meta: Any) -> Request:
    return Request("http://portal.example/", meta={"playwright": True, "playwright_context": context, **meta})


def download(pool: PagePool, request: Request, page: FakePage | None, ok: bool = True) -> FakePage:
    """What scrapy-playwright does with the request's meta: use the given tab or open one."""
    pool.take(request)
    used = request.meta.get("playwright_page") or page or FakePage()
    if request.meta.get("playwright_include_page"):
        request.meta["playwright_page"] = used
    asyncio.run(pool.give_back(request, ok))
    return used  # type: ignore[return-value]


def test_a_finished_tab_is_emptied_kept_and_used_by_the_next_request() -> None:
    pool = PagePool(max_pages_per_context=2)
    first = download(pool, rendered(), None)
    assert not first.closed and first.visited == ["about:blank"] and first.unrouted == 1
    request = rendered()
    second = download(pool, request, None)
    assert second is first and pool.reused == 1
    # the spider's callbacks never see the kept tab (its errback would close it)
    assert "playwright_page" not in request.meta and "playwright_include_page" not in request.meta


def test_at_most_one_idle_tab_per_context_the_other_is_closed() -> None:
    pool = PagePool(max_pages_per_context=2)
    a, b = rendered(), rendered()
    pool.take(a)
    pool.take(b)  # two requests at once: both get new tabs
    pa, pb = FakePage(), FakePage()
    a.meta["playwright_page"], b.meta["playwright_page"] = pa, pb
    asyncio.run(pool.give_back(a, True))
    asyncio.run(pool.give_back(b, True))
    assert not pa.closed and pb.closed  # a second idle tab would hold the last free slot
    other = download(pool, rendered("portal-b"), None)
    assert not other.closed and pool.idle == {"default": pa, "portal-b": other}


def test_two_tabs_ending_together_keep_one_and_close_the_other() -> None:
    """Both end while the first is still being emptied: the second must not become the kept tab
    too (it overwrote the first, whose slot was then held for ever: the crawl hung)."""
    pool = PagePool(max_pages_per_context=2)
    a, b = rendered(), rendered()
    pool.take(a)
    pool.take(b)
    pa, pb = FakePage(), FakePage()
    a.meta["playwright_page"], b.meta["playwright_page"] = pa, pb

    async def both() -> None:
        await asyncio.gather(pool.give_back(a, True), pool.give_back(b, True))

    asyncio.run(both())
    kept = [p for p in (pa, pb) if not p.closed]
    assert len(kept) == 1 and pool.idle == {"default": kept[0]} and not pool.emptying


def test_a_failed_or_hung_tab_is_closed_never_kept() -> None:
    pool = PagePool(max_pages_per_context=2)
    failed = download(pool, rendered(), None, ok=False)
    assert failed.closed and not pool.idle
    hung = download(pool, rendered(), FakePage(hangs=True))
    assert hung.closed and not pool.idle


def test_requests_that_hold_their_own_tab_and_a_limit_of_one_are_left_alone() -> None:
    pool = PagePool(max_pages_per_context=2)
    own = FakePage()
    challenge = rendered(playwright_include_page=True, playwright_page=own)
    pool.take(challenge)
    asyncio.run(pool.give_back(challenge, True))
    assert challenge.meta["playwright_page"] is own and not own.closed and not pool.idle
    single = PagePool(max_pages_per_context=1)  # a kept tab would block the only slot
    request = rendered()
    single.take(request)
    assert "playwright_include_page" not in request.meta


def test_closing_the_pool_closes_the_kept_tabs() -> None:
    pool = PagePool(max_pages_per_context=2)
    kept = download(pool, rendered(), None)
    asyncio.run(pool.close())
    assert kept.closed and not pool.idle


class Spider:
    def capture_json(self, response: Any) -> None:
        return None


def test_the_spiders_event_handlers_are_detached_before_a_tab_is_kept() -> None:
    """scrapy-playwright attaches them for every request: a kept tab kept them all, and every
    JSON body reached the spider once per request the tab had served."""
    pool, spider = PagePool(max_pages_per_context=2), Spider()
    page = FakePage()
    for _ in range(3):
        request = rendered(playwright_page_event_handlers={"response": "capture_json"})
        pool.take(request)
        request.meta.setdefault("playwright_page", page)
        page.on("response", spider.capture_json)  # what scrapy-playwright does
        asyncio.run(pool.give_back(request, True, spider))
    assert page.listeners == [] and pool.idle == {"default": page}


APP = "https://portal.example/zsfw/"


def route(path: str, allowed: bool = True, **meta: Any) -> Request:
    return Request(APP + path, meta={"playwright": True, ROUTES_IN_PLACE: allowed, **meta})


def test_a_tab_on_a_hash_route_stays_at_its_document_for_the_next_route() -> None:
    pool = PagePool(max_pages_per_context=2)
    first = route("#/guide/1")
    pool.take(first)
    first.meta["playwright_page"] = tab = FakePage(url=APP + "#/guide/1")
    asyncio.run(pool.give_back(first, True))
    assert tab.visited == [] and tab.unrouted == 0 and pool.idle == {"default": tab}  # not emptied

    nxt = route("#/guide/2")
    pool.take(nxt)
    assert nxt.meta["playwright_page"] is tab and nxt.meta["_zwaudit_route_pending"] == "hash"
    move = asyncio.run(pool.arrange(nxt))
    assert move is not None and move.kind == "hash" and move.before == "the route shown"
    # nothing is left listening on the tab: draw_in_place counts the app's requests only within
    # its own move (zwaudit.inflight.Inflight, a context manager)
    assert tab.listeners == []
    asyncio.run(pool.give_back(nxt, True))
    assert tab.listeners == []


def test_a_page_of_the_same_origin_is_a_history_route_of_the_tabs_app() -> None:
    pool = PagePool(max_pages_per_context=2)
    tab = FakePage(url="https://portal.example/service/guide/1")
    pool.idle["default"] = tab
    request = Request(
        "https://portal.example/service/guide/2", meta={"playwright": True, ROUTES_IN_PLACE: True}
    )
    pool.take(request)
    assert request.meta["playwright_page"] is tab and request.meta["_zwaudit_route_pending"] == "history"
    pool.routes["history https://portal.example"] = RouteTrust(refused=True)  # its app refused
    pool.idle["default"] = tab
    again = Request(
        "https://portal.example/service/guide/3", meta={"playwright": True, ROUTES_IN_PLACE: True}
    )
    pool.take(again)  # a full navigation to another page: safe, as from about:blank
    assert again.meta["playwright_page"] is tab and "_zwaudit_route_pending" not in again.meta


def test_a_tab_at_a_routes_document_is_never_handed_to_it_unguarded() -> None:
    """A plain same-document goto would let the previous route's page be read as this one's: the
    tab is emptied first, and the route loads in it afresh."""
    for request in (
        route("#/guide/2", allowed=False),  # the profile says routes_in_place: false
        route("#/guide/1"),  # the very route it shows: goto would not even redraw
    ):
        pool = PagePool(max_pages_per_context=2)
        tab = FakePage(url=APP + "#/guide/1")
        pool.idle["default"] = tab
        pool.take(request)
        assert request.meta["playwright_page"] is tab and request.meta["_zwaudit_empty_first"]
        assert asyncio.run(pool.arrange(request)) is None
        assert tab.visited == ["about:blank"] and request.meta["playwright_page"] is tab
    pool = PagePool(max_pages_per_context=2)
    tab = FakePage(url=APP + "#/guide/1", hangs=True)  # cannot be emptied: a new tab instead
    pool.idle["default"] = tab
    request = route("#/guide/1")
    pool.take(request)
    assert asyncio.run(pool.arrange(request)) is None
    assert tab.closed and "playwright_page" not in request.meta
    pool.idle["default"] = tab = FakePage(url=APP + "#/guide/1")
    elsewhere = Request("https://other.example/", meta={"playwright": True})
    pool.take(elsewhere)  # another document: a full navigation, as from about:blank
    assert elsewhere.meta["playwright_page"] is tab and "_zwaudit_route_pending" not in elsewhere.meta


def test_a_document_whose_routes_disagreed_is_loaded_afresh_and_its_kept_tab_let_go() -> None:
    pool = PagePool(max_pages_per_context=2)
    tab = FakePage(url=APP + "#/guide/1")
    pool.idle["default"] = tab
    # its routes drawn in place showed another text than loaded afresh, both kinds
    pool.routes[f"hash {APP}"] = pool.routes["history https://portal.example"] = RouteTrust(refused=True)
    refused = route("#/guide/2")
    pool.take(refused)
    assert refused.meta["playwright_page"] is tab and refused.meta["_zwaudit_empty_first"]
    asyncio.run(pool.arrange(refused))  # emptied: the route loads afresh in it
    tab.url = APP + "#/guide/2"
    asyncio.run(pool.give_back(refused, True))
    assert pool.idle == {"default": tab} and tab.visited == ["about:blank", "about:blank"]
