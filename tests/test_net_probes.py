"""The probes against hostile transport, in Debian's Chromium (issue 16; issue 13 class 3).

A loopback site serves each behaviour; a second one (the "bait") stands for the auditor's own
network and counts every request that reaches it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from local_http import Reply, serve
from probe_fixtures import BrowserHarness
from search_auth_site import RESULTS, _home_form, _results_page

from probes.auth.entry import find_login_form
from probes.common import caps
from probes.common.errors import ProbeError
from probes.common.navigation import Manners, goto
from probes.search.observe import SearchSettings, observe_keyword
from zwaudit.browser import EgressGuard
from zwaudit.net.egress import EgressPolicy
from zwaudit.net.retry_after import Patience
from zwaudit.outcomes import ErrorKind

pytestmark = pytest.mark.browser

JS_LOGIN = (
    "<html><head><title>统一身份认证平台</title></head><body><div id='app'></div><script>"
    "document.cookie='lang=zh-CN; path=/';"
    "if(location.hash!=='#/pwd'){location.href='#/pwd';}"
    "document.getElementById('app').innerHTML='<h2>用户登录</h2><p>请完成安全验证后登录</p>"
    "<input type=text placeholder=账号><input type=password placeholder=密码><button>登录</button>';"
    "</script></body></html>"
)


class Sites:
    def __init__(self) -> None:
        self.hits: dict[str, list[float]] = defaultdict(list)
        self.bait_hits: list[str] = []
        self.base = ""
        self.bait = ""

    def respond(self, path: str) -> Reply:
        key = path.split("?", 1)[0]
        self.hits[key].append(time.monotonic())
        first = len(self.hits[key]) == 1
        if key == "/js-login":
            return Reply(JS_LOGIN.encode())
        if key == "/busy":
            if first:
                return Reply(b"slow down", status=429, headers={"Retry-After": "1"})
            return Reply(b"<html><body><h1>\xe5\x8a\x9e\xe4\xba\x8b</h1></body></html>")
        if key == "/busy-date":
            if first:
                when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
                return Reply(b"busy", status=503, headers={"Retry-After": when})
            return Reply(b"<html><body>ok</body></html>")
        if key == "/toolong":
            return Reply(b"tomorrow", status=429, headers={"Retry-After": "86400"})
        if key == "/ssrf":
            page = (
                f"<html><body><h1>首页</h1><iframe src='{self.bait}/frame'></iframe>"
                f"<script>fetch('{self.bait}/xhr').catch(()=>{{}});"
                f"var i=new Image();i.src='{self.bait}/img';</script></body></html>"
            )
            return Reply(page.encode())
        if key == "/redirect-bait":  # a portal page that redirects to the auditor's network
            return Reply(status=302, headers={"Location": self.bait + "/internal"})
        if key == "/alert":
            page = (
                "<html><body><h1>公告</h1><script>alert('欢迎');"
                "window.onbeforeunload=function(e){e.preventDefault();e.returnValue='确定离开?';return '确定离开?';};"
                "</script></body></html>"
            )
            return Reply(page.encode())
        if key == "/reset":  # the document starts, then the connection is reset mid-body
            return Reply(b"<html><body><h1>\xe5\x8a\x9e</h1>" + b"x" * 200_000, reset_after=4096)
        if key == "/spin":
            return Reply(b"<html><body><script>while(true){}</script></body></html>")
        if key == "/survey-home":
            page = (
                "<html><body><h1>政务服务网</h1>"
                "<a href='/js-login' onclick=\"window.open('/survey','_blank')\">登录</a></body></html>"
            )
            return Reply(page.encode())
        if key == "/two-logins":  # the first 登录 entry leads to a refused port
            page = (
                "<html><body><h1>政务服务网</h1><a href='http://127.0.0.1:1/login'>登录</a>"
                "<p>正文</p><a href='/js-login'>登录</a></body></html>"
            )
            return Reply(page.encode())
        if key == "/survey":
            return Reply("<html><body><h1>满意度调查</h1><p>请为我们的服务打分</p></body></html>".encode())
        if key == "/search-home":
            return Reply(_home_form("").encode())
        if key == "/search":
            if first:
                return Reply(b"too many", status=429, headers={"Retry-After": "1"})
            q = path.split("q=", 1)[1] if "q=" in path else ""
            from urllib.parse import unquote_plus

            return Reply(_results_page(unquote_plus(q)).encode())
        return Reply(b"not found", status=404)

    def respond_bait(self, path: str) -> Reply:
        self.bait_hits.append(path)
        return Reply(b"secret")


@pytest.fixture
def sites() -> Iterator[Sites]:
    s = Sites()
    with serve(s.respond) as base, serve(s.respond_bait) as bait:
        s.base, s.bait = base, bait
        yield s


def _visit(harness: BrowserHarness, sites: Sites, path: str, **kwargs: Any) -> tuple[str | None, str, Any]:
    """goto ``path`` in a fresh guarded context: (error kind or None, message, page url)."""

    async def go() -> tuple[str | None, str, Any]:
        guard = EgressGuard(EgressPolicy.build([sites.base]))
        context = await harness.browser.new_context(egress=guard)
        page = await context.new_page()
        page.set_default_navigation_timeout(kwargs.pop("timeout_ms", 10000))
        manners = Manners(patience=Patience(max_wait_s=5, attempts=2), challenge_wait_s=3, egress=guard)
        try:
            await goto(page, sites.base + path, manners=manners, **kwargs)
            return None, "", page.url
        except ProbeError as exc:
            return exc.kind.value, exc.message, page.url
        finally:
            await context.close()
            await guard.close()

    return harness.run(go())


def test_a_script_drawn_login_page_answering_200_is_not_blocked(
    browser_harness: BrowserHarness, sites: Sites
) -> None:
    kind, message, url = _visit(browser_harness, sites, "/js-login")
    assert kind is None, message
    assert url.endswith("/js-login#/pwd")


def test_retry_after_is_waited_out_in_seconds_and_as_a_date(
    browser_harness: BrowserHarness, sites: Sites
) -> None:
    assert _visit(browser_harness, sites, "/busy")[0] is None
    busy = sites.hits["/busy"]
    assert len(busy) == 2 and busy[1] - busy[0] >= 0.95
    assert _visit(browser_harness, sites, "/busy-date")[0] is None
    dated = sites.hits["/busy-date"]
    assert len(dated) == 2 and dated[1] - dated[0] >= 0.9
    kind, message, _ = _visit(browser_harness, sites, "/toolong")
    assert kind == ErrorKind.RATE_LIMITED.value, message
    assert len(sites.hits["/toolong"]) == 1  # a day is past the cap: not waited, not blocked


def test_the_auditors_network_is_never_reached_from_a_page(
    browser_harness: BrowserHarness, sites: Sites
) -> None:
    kind, message, _ = _visit(browser_harness, sites, "/ssrf")
    assert kind is None, message  # the portal's page itself is fine
    time.sleep(0.5)
    assert sites.bait_hits == []  # neither its frame, nor its XHR, nor its image
    kind, message, _ = _visit_url(browser_harness, sites, sites.bait + "/admin")
    assert kind == ErrorKind.EGRESS_REFUSED.value, message
    assert "loopback" in message
    # a redirect hop (Playwright does not route it): refused at the portal's filtering proxy
    kind, message, _ = _visit(browser_harness, sites, "/redirect-bait")
    assert kind == ErrorKind.EGRESS_REFUSED.value, message
    assert "/internal" in message and "loopback" in message
    assert sites.bait_hits == []


def _visit_url(harness: BrowserHarness, sites: Sites, url: str) -> tuple[str | None, str, Any]:
    async def go() -> tuple[str | None, str, Any]:
        guard = EgressGuard(EgressPolicy.build([sites.base]))
        context = await harness.browser.new_context(egress=guard)
        page = await context.new_page()
        try:
            await goto(page, url, manners=Manners(egress=guard))
            return None, "", page.url
        except ProbeError as exc:
            return exc.kind.value, exc.message, page.url
        finally:
            await context.close()
            await guard.close()

    return harness.run(go())


def test_dialogs_do_not_hold_a_probe(browser_harness: BrowserHarness, sites: Sites) -> None:
    async def go() -> str:
        context = await browser_harness.browser.new_context()
        page = await context.new_page()
        try:
            await goto(page, sites.base + "/alert", manners=Manners())
            await page.mouse.click(10, 10)  # a user gesture: Chromium now shows beforeunload
            await goto(page, sites.base + "/js-login", manners=Manners())
            return page.url
        finally:
            await context.close()

    assert browser_harness.run(go(), timeout=60).split("#")[0].endswith("/js-login")


def test_a_runaway_page_is_abandoned_as_a_timeout(browser_harness: BrowserHarness, sites: Sites) -> None:
    started = time.monotonic()
    kind, _, _ = _visit(browser_harness, sites, "/spin", timeout_ms=2000)
    assert kind == ErrorKind.TIMEOUT.value
    assert time.monotonic() - started < 20
    # the response watch's detach, left unawaited while the page spun, ended with its page
    deadline = time.monotonic() + 10
    while caps._DETACHING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not caps._DETACHING
    assert _visit(browser_harness, sites, "/js-login")[0] is None  # the browser goes on


def test_a_survey_popup_is_not_taken_for_the_login_page(
    browser_harness: BrowserHarness, sites: Sites
) -> None:
    async def go() -> tuple[str, int]:
        context = await browser_harness.browser.new_context()
        page = await context.new_page()

        async def nav(p: Any, url: str) -> None:
            await goto(p, url, manners=Manners())

        try:
            form = await find_login_form(page, sites.base + "/survey-home", nav)
            assert form is not None, "the login form was not found"
            await page.wait_for_timeout(300)
            return form.page.url, len(context.pages)
        finally:
            await context.close()

    url, pages = browser_harness.run(go(), timeout=60)
    assert "/js-login" in url
    assert pages == 1  # the survey window was closed


def test_a_429_on_the_search_is_waited_out(browser_harness: BrowserHarness, sites: Sites) -> None:
    async def go() -> Any:
        context = await browser_harness.browser.new_context()
        try:
            settings = SearchSettings(home_url=sites.base + "/search-home")
            return await observe_keyword(
                context, "低保", settings, manners=Manners(patience=Patience(max_wait_s=5, attempts=2))
            )
        finally:
            await context.close()

    obs = browser_harness.run(go(), timeout=90)
    assert obs.error is None, obs.error_message
    assert [r.title for r in obs.results] == RESULTS["低保"]
    assert len(sites.hits["/search"]) == 2


def test_a_mid_body_reset_is_a_network_error(browser_harness: BrowserHarness, sites: Sites) -> None:
    started = time.monotonic()
    kind, message, _ = _visit(browser_harness, sites, "/reset", timeout_ms=8000)
    assert kind == ErrorKind.NETWORK.value, message
    assert time.monotonic() - started < 8  # recognised as a reset, not waited out as a timeout


def test_a_login_entry_that_leads_nowhere_is_passed_over(
    browser_harness: BrowserHarness, sites: Sites
) -> None:
    async def go() -> str:
        context = await browser_harness.browser.new_context()
        page = await context.new_page()

        async def nav(p: Any, url: str) -> None:
            await goto(p, url, manners=Manners())

        try:
            form = await find_login_form(page, sites.base + "/two-logins", nav)
            assert form is not None, "the second 登录 entry was not tried"
            return form.page.url
        finally:
            await context.close()

    assert "/js-login" in browser_harness.run(go(), timeout=90)


def test_the_login_follow_passes_over_a_refused_entry(browser_harness: BrowserHarness, sites: Sites) -> None:
    from probes.common.login import follow

    async def go() -> tuple[str | None, str]:
        context = await browser_harness.browser.new_context()
        page = await context.new_page()
        try:
            await goto(page, sites.base + "/two-logins", manners=Manners())
            followed = await follow(page, ["登录"], None, 0)  # type: ignore[arg-type]
            return followed, page.url
        finally:
            await context.close()

    followed, url = browser_harness.run(go(), timeout=90)
    assert followed == "登录" and "/js-login" in url, url
