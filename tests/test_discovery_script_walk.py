"""The discovery walk as a person makes it (issue 13, class 2): department lists whose items are
script-bound controls (``onclick``, listeners with only a pointer cursor to show them) are clicked
and the page they open is read; a hash-routed app is read once its route has drawn, not at its
加载中 placeholder. Hand-made pages, not the sandbox's templates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from local_http import Reply, serve
from probe_fixtures import BrowserHarness

from probes.common.discovery import _first_address, department_names, discover, names_department
from probes.common.systems import system_of
from probes.duplicate_login import ONLINE_TEXTS

STYLE = "<style>.pick{cursor:pointer}</style>"
PAGES = {
    "/home": "<a href='/dept/a'>公安厅</a> <a href='/dept/b'>民政厅</a> <a href='/dept/c'>医疗保障局</a> "
    "<a href='/dept/d'>卫生健康委员会</a>",
    "/dept/a": "<ul><li><a href='/guide/a1'>居民身份证换领</a></li></ul>",
    "/dept/b": "<ul><li><a href='/guide/b1'>婚姻登记</a></li></ul>",
    # names and 办事指南 buttons with onclick handlers that open the guide in a new tab, no href
    "/dept/c": "<script>function open_(u){window.open(u)}</script><div class='list'>"
    "<div class='row'><div class='t' onclick=\"open_('/guide/c1')\">基本医疗保险参保登记</div>"
    "<span class='b' onclick=\"open_('/guide/c1')\">办事指南</span></div></div>",
    # a listener-bound list (a component framework): only the pointer cursor shows the click
    "/dept/d": "<ul id='l'><li class='pick' data-u='/guide/d1'>医疗机构执业许可</li>"
    "<li><span>共1项</span></li></ul><script>document.querySelectorAll('[data-u]').forEach("
    "(e)=>e.addEventListener('click',()=>{location.href=e.dataset.u}))</script>",
    "/guide/a1": "<h1>居民身份证换领</h1><a href='/gaj/apply'>在线办理</a>",
    "/guide/b1": "<h1>婚姻登记</h1><a href='/mzt/apply'>在线办理</a>",
    "/guide/c1": "<h1>基本医疗保险参保登记</h1><span onclick=\"window.open('/ybj/apply')\">在线办理</span>",
    "/guide/d1": "<h1>医疗机构执业许可</h1><a href='/wjw/apply' target='_blank'>在线办理</a>",
}

# A hash-routed app: every route draws 加载中… first, then its data after a slow XHR.
APP = """<div id="app"></div><style>.pick{cursor:pointer}</style><script>
var app = document.getElementById('app');
function later(html) {
  app.innerHTML = '<div class="box">加载中…</div>';
  setTimeout(function () {
    fetch('/api/slow').then(function (r) { return r.text(); }).then(function () { app.innerHTML = html; });
  }, 1200);
}
function route() {
  var h = location.hash || '#/home';
  if (h.indexOf('#/guide?id=1') === 0) later('<h1>居民身份证换领</h1><a href="/gaj/apply">在线办理</a>');
  else if (h.indexOf('#/guide?id=2') === 0) later('<h1>医疗机构执业许可</h1><a href="/wjw/apply">在线办理</a>');
  else if (h.indexOf('#/dept') === 0) {
    later('<div class="pick" id="m">医疗机构执业许可</div>');
    var wait = setInterval(function () {
      var m = document.getElementById('m');
      if (!m) return;
      clearInterval(wait);
      m.addEventListener('click', function () { window.open('/app/#/guide?id=2', '_blank'); });
    }, 50);
  } else if (h.indexOf('#/plain') === 0) {  // no placeholder: an empty list, filled by an XHR
    app.innerHTML = '<h3>热门服务</h3><ul id="x"></ul>';
    fetch('/api/slow').then(function (r) { return r.text(); }).then(function () {
      document.getElementById('x').innerHTML = '<li><a href="#/guide?id=1">居民身份证换领</a></li>';
    });
  } else app.innerHTML = '<a href="#/guide?id=1">居民身份证换领</a> <a href="#/dept?code=D02">卫生健康委员会</a>';
}
window.addEventListener('hashchange', route); route();
</script>"""


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    def respond(path: str) -> Reply:
        path = urlsplit(path).path
        if path == "/api/slow":
            time.sleep(0.4)
            return Reply(b"ok", content_type="text/plain")
        if path == "/app/":
            return Reply(f"<html><body>{APP}</body></html>".encode())
        body = PAGES.get(path, "<form><input type='password'></form>")
        return Reply(f"<html><head>{STYLE}</head><body>{body}</body></html>".encode())

    with serve(respond) as base:
        yield base


def _ctx(site: str, home: str, depts: list[str]) -> Any:
    departments = [SimpleNamespace(id=d, url=f"{site}/{d}/") for d in depts]
    return SimpleNamespace(
        portal=SimpleNamespace(home_url=site + home, departments=departments),
        extra={},
        evidence=SimpleNamespace(redact=lambda text: text),
    )


def _walk(browser_harness: BrowserHarness, ctx: Any, max_pages: int) -> Any:
    async def go() -> Any:
        context = await browser_harness.browser.new_context()
        try:
            page = await context.new_page()
            return await discover(page, ctx, [], ONLINE_TEXTS, sample_size=12, max_pages=max_pages)
        finally:
            await context.close()

    return browser_harness.run(go())


@pytest.mark.browser
def test_script_bound_department_lists_are_clicked_and_followed(
    browser_harness: BrowserHarness, site: str
) -> None:
    found = _walk(browser_harness, _ctx(site, "/home", ["gaj", "mzt", "ybj", "wjw"]), max_pages=20)
    host = urlsplit(site).netloc
    assert {system_of(u) for u, _ in found.entries} == {f"{host}/{d}" for d in ("gaj", "mzt", "ybj", "wjw")}
    assert found.pages_read <= 20


@pytest.mark.browser
def test_a_hash_routed_app_is_read_after_its_route_has_drawn(
    browser_harness: BrowserHarness, site: str
) -> None:
    found = _walk(browser_harness, _ctx(site, "/app/#/home", ["gaj", "wjw"]), max_pages=10)
    host = urlsplit(site).netloc
    by_system = {system_of(u): f for u, f in found.entries}
    assert set(by_system) == {f"{host}/gaj", f"{host}/wjw"}
    assert by_system[f"{host}/wjw"].endswith("#/guide?id=2")  # the tab the listener opened, hash kept


def test_the_first_address_of_a_click_keeps_the_hash_route_the_browser_shows() -> None:
    start = "https://p.gov.cn/app/#/dept?c=1"
    assert (
        _first_address(["https://p.gov.cn/app/"], ["https://p.gov.cn/app/#/guide?id=2", start], start)
        == "https://p.gov.cn/app/#/guide?id=2"
    )
    # a redirecting entry: the department system's own first address, not where it ends
    assert (
        _first_address(["https://d.gov.cn/apply?x=1", "https://d.gov.cn/login"], [start], start)
        == "https://d.gov.cn/apply?x=1"
    )
    # no request at all: a route change in the same document
    assert (
        _first_address([], ["https://p.gov.cn/app/#/guide?id=3"], start)
        == "https://p.gov.cn/app/#/guide?id=3"
    )
    assert _first_address([], [start], start) is None


@pytest.mark.browser
def test_a_hash_route_is_read_once_its_placeholder_is_gone(
    browser_harness: BrowserHarness, site: str
) -> None:
    from probes.common.navigation import goto

    async def go() -> str:
        context = await browser_harness.browser.new_context()
        try:
            page = await context.new_page()
            await goto(page, site + "/app/#/home", settle_ms=3000)
            await goto(page, site + "/app/#/guide?id=1", settle_ms=3000)  # same document
            return str(await page.evaluate("document.body.innerText"))
        finally:
            await context.close()

    text = browser_harness.run(go())
    assert "在线办理" in text and "加载中" not in text


def test_a_listed_department_is_recognised_by_its_name_on_the_page() -> None:
    ctx: Any = SimpleNamespace(
        portal=SimpleNamespace(
            province="川东省",
            departments=[SimpleNamespace(id="ybj", name="川东省医疗保障局", url="https://y/")],
        )
    )
    forms = department_names(ctx)["ybj"]
    assert "医疗保障局" in forms
    assert names_department("医疗保障局", forms) and names_department(" 川东省医疗保障局 ", forms)
    assert not names_department("公安厅", forms) and not names_department("局", forms)


# Twelve departments listed on the home page, the one the profile names last; a small budget.
MANY = [f"第{i}厅" for i in range(1, 12)] + ["医疗保障局"]
CROWD = {
    "/crowd": " ".join(f"<a href='/crowd/d{i}'>{n}</a>" for i, n in enumerate(MANY)),
    **{f"/crowd/d{i}": f"<a href='/crowd/g{i}'>事项{i}登记</a>" for i in range(len(MANY))},
    **{f"/crowd/g{i}": f"<a href='/sys{i}/apply'>在线办理</a>" for i in range(len(MANY))},
}


@pytest.mark.browser
def test_the_walk_goes_first_where_a_listed_department_is_named(browser_harness: BrowserHarness) -> None:
    def respond(path: str) -> Reply:
        return Reply(f"<html><body>{CROWD.get(urlsplit(path).path, '')}</body></html>".encode())

    with serve(respond) as site:
        ctx = _ctx(site, "/crowd", [])
        ctx.portal.province = "川东省"
        ctx.portal.departments = [SimpleNamespace(id="ybj", name="川东省医疗保障局", url=f"{site}/sys11/")]
        found = _walk(browser_harness, ctx, max_pages=6)
    assert f"{urlsplit(site).netloc}/sys11" in {system_of(u) for u, _ in found.entries}
    assert found.pages_read <= 4  # home, the department's list, its guide


@pytest.mark.browser
def test_a_hash_route_is_read_once_its_requests_are_done(browser_harness: BrowserHarness, site: str) -> None:
    from probes.common.navigation import goto

    async def go() -> str:
        context = await browser_harness.browser.new_context()
        try:
            page = await context.new_page()
            await goto(page, site + "/app/#/home", settle_ms=3000)
            await goto(page, site + "/app/#/plain", settle_ms=3000)  # same document, no placeholder
            return str(await page.evaluate("document.body.innerText"))
        finally:
            await context.close()

    assert "居民身份证换领" in browser_harness.run(go())
