"""A single-page app's routes drawn in the tab holding the app (:mod:`crawler.routes`), in Chromium.

Each request goes as :class:`crawler.rendering.RenderingHandler` sends it: through the pool, then
drawn in place (:func:`crawler.routes.draw_in_place`) or as scrapy-playwright would (the tab or a
new one, ``goto``, the page methods, the page's HTML). Whatever the app, every route must read as
that route: drawn in place only once the app has shown, twice, the same text in place as loaded
afresh; an app that ignores the route change or draws differently in place is loaded afresh for
every route, as before.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from local_http import Reply, serve
from probe_fixtures import BrowserHarness
from scrapy import Request
from scrapy_playwright.page import PageMethod

from crawler.rendering import PagePool
from crawler.routes import ROUTES_IN_PLACE, draw_in_place

pytestmark = pytest.mark.browser

ROUTER = {
    # redraws on every hashchange, from the app's API: what a person sees when clicking
    "honest": "window.addEventListener('hashchange', draw); draw();",
    # reads its route once, when loaded (no hashchange listener): a route change draws nothing
    "load_only": "draw();",
    # redraws, but in place shows how many routes were visited: not what a fresh load shows
    "stateful": "var visits = 0; window.addEventListener('hashchange', function () { visits++; draw(); }); draw();",
    # redraws its first three route changes, then stops reacting (a script that died)
    "tiring": "var changes = 0; window.addEventListener('hashchange', function () { if (++changes <= 3) draw(); }); draw();",
}

HISTORY_ROUTER = {
    # history mode (pushState): redraws on popstate, what Back, Forward and its own links do
    "history": "window.addEventListener('popstate', draw); draw();",
    # a server-rendered site: every page is its own document, nothing listens
    "server": "draw();",
}

APP = """<html><body><div id="view">加载中</div><p id="visits"></p><script>
function draw() {
  var id = (location.href.match(/guide\\/(\\d+)/) || [])[1];
  if (!id) { document.getElementById('view').textContent = '首页'; return; }
  fetch('/api/guide/' + id).then(function (r) { return r.json(); }).then(function (g) {
    document.getElementById('view').innerHTML = '<h1>' + g.name + '</h1><p>承诺时限：' + g.days + '个工作日</p>';
    if (typeof visits !== 'undefined') document.getElementById('visits').textContent = '本次浏览第' + visits + '页';
  });
}
%s
</script></body></html>"""


def respond(router: str) -> Any:
    script = {**ROUTER, **HISTORY_ROUTER}[router]

    def answer(path: str) -> Reply:
        found = re.fullmatch(r"/api/guide/(\d+)", path)
        if found:
            guide = {"name": f"事项{found.group(1)}", "days": int(found.group(1)) + 3}
            return Reply(json.dumps(guide, ensure_ascii=False).encode(), content_type="application/json")
        return Reply((APP % script).encode())

    return answer


async def render(pool: PagePool, context: Any, url: str) -> str:
    """One rendered request, the way scrapy-playwright's handler runs it."""
    request = Request(
        url,
        meta={
            "playwright": True,
            ROUTES_IN_PLACE: True,
            "playwright_page_methods": [PageMethod("wait_for_load_state", "networkidle")],
        },
    )
    pool.take(request)
    ok = False
    try:
        move = await pool.arrange(request)
        if move is not None:
            response = await draw_in_place(request.meta["playwright_page"], request, move, None)
            ok = True
            return response.text
        page = request.meta.get("playwright_page") or await context.new_page()
        request.meta["playwright_page"] = page
        await page.goto(url)
        for method in request.meta["playwright_page_methods"]:
            if callable(method.method):
                await method.method(page, *method.args, **method.kwargs)
            else:
                await getattr(page, method.method)(*method.args, **method.kwargs)
        html = str(await page.content())
        ok = True
        return html
    finally:
        await pool.give_back(request, ok)


def crawl_routes(harness: BrowserHarness, router: str, count: int) -> tuple[list[str], PagePool]:
    route = "/service/guide/{}" if router in HISTORY_ROUTER else "/app/#/guide/{}"
    with serve(respond(router)) as base:

        async def go() -> list[str]:
            context = await harness.browser.new_context()
            pool = PagePool(max_pages_per_context=2)
            holder.append(pool)
            try:
                return [await render(pool, context, base + route.format(n)) for n in range(1, count + 1)]
            finally:
                await pool.close()
                await context.close()

        holder: list[PagePool] = []
        pages = harness.run(go())
    return pages, holder[0]


def shows(html: str) -> set[str]:
    return set(re.findall(r"<h1>(事项\d+)</h1>", html))


@pytest.mark.parametrize("router", ["honest", "history"])
def test_an_app_that_redraws_its_routes_is_read_in_place_once_proven(
    browser_harness: BrowserHarness, router: str
) -> None:
    pages, pool = crawl_routes(browser_harness, router, 6)
    assert [shows(p) for p in pages] == [{f"事项{n}"} for n in range(1, 7)]
    assert "承诺时限：9个工作日" in pages[5]
    # route 1 opens the tab; routes 2 and 3 are drawn both ways and agree; 4 to 6 in place alone
    assert (pool.reloaded, pool.in_place) == (2, 3)


@pytest.mark.parametrize("router", ["load_only", "stateful", "server"])
def test_an_app_that_does_not_redraw_the_same_is_loaded_afresh_for_every_route(
    browser_harness: BrowserHarness, router: str
) -> None:
    pages, pool = crawl_routes(browser_harness, router, 4)
    assert [shows(p) for p in pages] == [{f"事项{n}"} for n in range(1, 5)]
    assert pool.in_place == 0 and pool.reloaded == 1  # one try, then a new document each time
    assert all("本次浏览第1页" not in p for p in pages)  # no in-place state was read


def test_a_proven_app_that_stops_redrawing_is_loaded_afresh_not_read_stale(
    browser_harness: BrowserHarness,
) -> None:
    pages, pool = crawl_routes(browser_harness, "tiring", 7)
    # routes 2 and 3 reload the app, so routes 4 to 6 are its first three changes; 7 draws nothing
    assert [shows(p) for p in pages] == [{f"事项{n}"} for n in range(1, 8)]
    assert (pool.reloaded, pool.in_place) == (3, 3)
