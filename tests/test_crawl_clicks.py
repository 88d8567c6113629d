"""The crawler clicks what a person sees as clickable on a rendered page, and follows nothing.

Component-framework portals bind item lists with ``addEventListener`` (no href, no onclick): the
link extractor sees nothing there. :func:`crawler.clicks.discover` clicks each control with a
pointer cursor and records where it leads (a new tab, a hash route, a navigation), rows a 下一页
button draws included, and never lets a click happen for real or clicks a control that changes
something (退出).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from local_http import Reply, serve
from probe_fixtures import BrowserHarness

from crawler.clicks import discover

pytestmark = pytest.mark.browser

LIST_PAGE = """<html><head><style>.item,.next,.route,.go,.quit{cursor:pointer}</style></head><body>
<a href="/about">关于我们</a>
<div id="rows"></div><button class="next" id="next">下一页</button>
<div class="route" id="route">部门服务</div><div class="go" id="go">政策解读</div>
<div class="quit" id="quit">退出</div>
<script>
function rows(names) {
  var box = document.getElementById('rows');
  box.innerHTML = names.map(function (n) { return '<div class="item" data-id="' + n + '">事项' + n + '</div>'; }).join('');
  box.querySelectorAll('.item').forEach(function (el) {
    el.addEventListener('click', function () { window.open('/guide/' + el.getAttribute('data-id'), '_blank'); });
  });
}
rows(['1', '2']);
document.getElementById('next').addEventListener('click', function () {
  setTimeout(function () { rows(['3', '4']); }, 100);  // the next page, drawn after a request
});
document.getElementById('route').addEventListener('click', function () { location.hash = '#/dept?code=D01'; });
document.getElementById('go').addEventListener('click', function () { location.href = '/policy'; });
document.getElementById('quit').addEventListener('click', function () { location.href = '/logout'; });
</script></body></html>"""


def test_script_bound_controls_are_clicked_recorded_and_never_followed(
    browser_harness: BrowserHarness,
) -> None:
    fetched: list[str] = []
    lock = threading.Lock()

    def respond(path: str) -> Reply:
        with lock:
            fetched.append(path)
        return Reply(LIST_PAGE.encode() if path == "/list" else b"<html><body>page</body></html>")

    with serve(respond) as base:

        async def go() -> tuple[dict[str, object], str]:
            context = await browser_harness.browser.new_context()
            try:
                page = await context.new_page()
                await page.goto(f"{base}/list")
                result = await discover(page)
                return result, page.url
            finally:
                await context.close()

        result, final_url = browser_harness.run(go())

    found = dict(result["urls"])  # type: ignore[arg-type]
    for n in ("1", "2", "3", "4"):  # rows of both pages, each named by the control clicked
        assert found[f"{base}/guide/{n}"] == f"事项{n}"
    assert found[f"{base}/list#/dept?code=D01"] == "部门服务"  # a hash route, recorded
    assert found[f"{base}/policy"] == "政策解读"  # a navigation, recorded
    assert f"{base}/logout" not in found and f"{base}/about" not in found
    # nothing a click started happened: no navigation reached the server, the page stayed
    assert "/policy" not in fetched and "/logout" not in fetched
    assert not any(p.startswith("/guide") for p in fetched)
    assert final_url == f"{base}/list"
    # the HTML kept is the page as it loaded (page 1's rows), not after the clicks
    html = str(result["html"])
    assert "事项1" in html and "事项3" not in html


SLOW_PAGING = """<html><head><style>.item,.next{cursor:pointer}</style></head><body>
<div id="rows"></div><button class="next" id="next">下一页</button>
<script>
function rows(names) {
  var box = document.getElementById('rows');
  box.innerHTML = names.map(function (n) { return '<div class="item" data-id="' + n + '">事项' + n + '</div>'; }).join('');
  box.querySelectorAll('.item').forEach(function (el) {
    el.addEventListener('click', function () { location.href = '/guide/' + el.getAttribute('data-id'); });
  });
}
rows(['1']);
document.getElementById('next').addEventListener('click', function () {
  fetch('/api/page2').then(function (r) { return r.json(); }).then(rows);
});
</script></body></html>"""


def test_rows_a_slow_paging_api_draws_are_waited_for_and_clicked(browser_harness: BrowserHarness) -> None:
    """A round is read when the page is quiet, not after a fixed time: the next page's rows come
    from an API answering in 2.5 s (a fixed 800 ms wait read the page before they were drawn, and
    so did the 2 s cap for pages that never go quiet, once load delayed a 1.2 s API past it)."""

    def respond(path: str) -> Reply:
        if path == "/api/page2":
            time.sleep(2.5)
            return Reply(b'["2", "3"]', content_type="application/json")
        return Reply(SLOW_PAGING.encode())

    with serve(respond) as base:

        async def go() -> dict[str, object]:
            context = await browser_harness.browser.new_context()
            try:
                page = await context.new_page()
                await page.goto(f"{base}/list")
                return await discover(page)
            finally:
                await context.close()

        result = browser_harness.run(go())
    found = dict(result["urls"])  # type: ignore[arg-type]
    assert found == {f"{base}/guide/{n}": f"事项{n}" for n in ("1", "2", "3")}


def test_clicking_is_the_portals_to_bound_or_turn_off(browser_harness: BrowserHarness) -> None:
    """Profile ``crawl.clicks``: ``max_clicks: 0`` clicks nothing; ``never_click`` replaces the
    default list of action texts (here the items' own prefix, so only the other controls lead on)."""
    with serve(lambda path: Reply(LIST_PAGE.encode())) as base:

        async def go(**options: object) -> list[str]:
            context = await browser_harness.browser.new_context()
            try:
                page = await context.new_page()
                await page.goto(f"{base}/list")
                result = await discover(page, **options)  # type: ignore[arg-type]
                return [url for url, _ in result["urls"]]
            finally:
                await context.close()

        off = browser_harness.run(go(max_clicks=0))
        own_list = browser_harness.run(go(never_click=["事项", "退出"]))
    assert off == []
    assert not any("/guide/" in u for u in own_list)
    assert f"{base}/policy" in own_list and f"{base}/list#/dept?code=D01" in own_list


def test_a_click_that_hangs_the_page_ends_at_the_budget_and_the_page_stays_readable(
    browser_harness: BrowserHarness,
) -> None:
    """A control whose handler never returns (``while(true){}``): discovery stops at its budget,
    the script is terminated, and the page can still be read (the crawl never freezes on it)."""
    page_html = (
        "<html><head><style>.x{cursor:pointer}</style></head><body><div class='x' id='a'>事项甲</div>"
        "<div class='x' id='b'>事项乙</div><script>"
        "document.getElementById('a').addEventListener('click', function () { window.open('/a'); });"
        "document.getElementById('b').addEventListener('click', function () { while (true) {} });"
        "</script></body></html>"
    )
    with serve(lambda path: Reply(page_html.encode())) as base:

        async def go() -> tuple[list[str], str]:
            context = await browser_harness.browser.new_context()
            try:
                page = await context.new_page()
                await page.goto(f"{base}/list")
                result = await discover(page, budget_s=3)
                content = await asyncio.wait_for(page.content(), 10)
                return [url for url, _ in result["urls"]], content
            finally:
                await context.close()

        urls, content = browser_harness.run(go(), timeout=60)
    assert "事项乙" in content
    assert urls == [f"{base}/a"]  # what was seen before the hang is kept
