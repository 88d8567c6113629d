"""The shared network rules of :mod:`zwaudit.net` (pure: no server, no browser)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from zwaudit.config.schema import PortalProfile
from zwaudit.net import challenge
from zwaudit.net.egress import EgressPolicy, address_problem, policy_for, registrable_domain
from zwaudit.net.retry_after import Patience, parse_retry_after
from zwaudit.net.robots import Robots, crawl_delay_for
from zwaudit.net.traps import canonical_url, chain_length, url_pattern

SANDBOX_LIKE = PortalProfile.model_validate(
    {
        "id": "sbx",
        "name": "沙盒",
        "home_url": "https://127.0.0.1:28000/",
        "departments": [{"id": "ga", "name": "公安", "url": "http://127.0.0.1:28005/"}],
        "egress": {"allow": ["https://127.0.0.1:28002"]},  # the unified-login host
    }
)
REAL_LIKE = PortalProfile.model_validate(
    {
        "id": "sc",
        "name": "四川政务服务网",
        "home_url": "https://www.sczwfw.gov.cn/",
        "mobile": {"url": "https://m.sczwfw.gov.cn/h5/"},
        "egress": {"allow": ["gat.sc.gov.cn"]},
    }
)


def test_loopback_is_reachable_only_at_the_profiles_own_origins() -> None:
    policy = policy_for(SANDBOX_LIKE)
    assert policy.check("https://127.0.0.1:28000/search?q=1") is None
    assert policy.check("http://127.0.0.1:28005/guide/1") is None
    assert policy.check("https://127.0.0.1:28002/sso/login") is None  # egress.allow origin
    refused = policy.check("http://127.0.0.1:5432/")
    assert refused is not None and "loopback" in refused
    assert policy.check("http://localhost:28000/") is not None  # another name is another origin
    assert policy.check("http://169.254.169.254/latest/meta-data/") is not None
    assert policy.check("http://[::1]:28000/") is not None
    assert policy.check("file:///etc/passwd") is not None
    assert policy.check("data:text/html,hi") is None  # not a network fetch


def test_scope_is_the_portals_sites_and_what_the_profile_allows() -> None:
    policy = policy_for(REAL_LIKE)
    assert policy.in_scope("www.sczwfw.gov.cn")
    assert policy.in_scope("tysfrz.sczwfw.gov.cn")  # same registrable domain as the home
    assert policy.in_scope("gat.sc.gov.cn")
    assert not policy.in_scope("www.sc.gov.cn")
    assert not policy.in_scope("evil.example")
    assert registrable_domain("www.sczwfw.gov.cn") == "sczwfw.gov.cn"
    assert registrable_domain("a.b.example.com") == "example.com"
    # a redirect from an in-scope page brings the login host in; one from elsewhere does not
    policy.learn_redirect("https://www.sczwfw.gov.cn/login", "https://login.sc-auth.cn/sso")
    assert policy.in_scope("login.sc-auth.cn")
    policy.learn_redirect("https://evil.example/", "https://other.example/")
    assert not policy.in_scope("other.example")


def test_every_resolved_address_is_checked() -> None:
    """A name of the portal's own domain that resolves to the auditor's network is refused."""
    policy = EgressPolicy.build(["https://www.example.gov.cn/"], ["localhost"])
    refused = asyncio.run(policy.check_async("http://localhost:5432/"))
    assert refused is not None and "resolves to" in refused and "loopback" in refused
    assert policy.check("http://localhost:8080/") is not None
    # a public address passes the address rule (scope is separate)
    assert address_problem("8.8.8.8") is None
    assert address_problem("10.1.2.3") == "private"
    assert address_problem("100.64.0.1") == "reserved"  # shared address space
    assert address_problem("::ffff:127.0.0.1") == "loopback"
    assert address_problem("169.254.169.254") == "link-local"
    # scope=False (a page's scripts and XHRs): any public host, never the auditor's network
    assert policy.check("https://8.8.8.8/jquery.js", scope=False) is None
    assert policy.check("https://8.8.8.8/jquery.js") is not None  # not a host of the portal
    assert policy.check("http://169.254.169.254/", scope=False) is not None


def test_retry_after_seconds_dates_and_the_cap() -> None:
    now = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    assert parse_retry_after(b"7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after("") is None
    patience = Patience(max_wait_s=60, attempts=2, backoff_s=1)
    assert patience.wait_for("30", 0) == 30.0
    assert patience.wait_for("3600", 0) is None  # past the cap: rate_limited, not waited
    assert patience.wait_for("30", 2) is None  # out of attempts
    assert patience.wait_for(None, 1) == 2.0  # backoff
    assert patience.wait_for(None, 0, backoff=False) is None


CHALLENGE_521 = (
    "<html><head><script>var x=1;document.cookie='__jsl_x=1.2; path=/';location.reload();</script>"
    "</head><body>正在进行安全验证，请稍候……</body></html>"
)
# an ordinary login page drawn by script: it sets a cookie and moves on, answers 200, and says 安全验证
JS_LOGIN_200 = (
    "<html><head><title>统一身份认证</title></head><body><div id='app'></div><script>"
    "document.cookie='lang=zh; path=/';if(!window.ok){window.location.href='/login#/pwd';}"
    "document.getElementById('app').innerHTML='<h2>用户登录</h2><p>请完成安全验证</p>';</script></body></html>"
)


@pytest.mark.parametrize(
    ("status", "body", "cookies", "expected"),
    [
        (521, CHALLENGE_521, [], True),
        (412, "<script>location.replace('/x')</script>", ["acw_tc=1; path=/"], True),  # Set-Cookie
        (200, "<script>var arg1='ab';</script><!-- acw_sc__v2 -->", [], True),  # a vendor's marker
        (200, JS_LOGIN_200, [], False),
        (404, "<html><body>页面不存在</body></html>", [], False),
        (503, "<script>document.cookie='a=1'</script>", [], False),  # no reload
        (521, CHALLENGE_521 + "<p>内容</p>" * 20000, [], False),  # a full page is content
    ],
    ids=[
        "521-reload",
        "412-set-cookie",
        "200-vendor-marker",
        "200-script-login",
        "404",
        "503-no-reload",
        "521-full-page",
    ],
)
def test_the_one_challenge_recogniser(status: int, body: str, cookies: list[str], expected: bool) -> None:
    assert (challenge.recognise(status, body, cookies) is not None) is expected


def test_a_js_drawn_login_page_is_not_a_block_page() -> None:
    assert not challenge.looks_blocked("用户登录 请完成安全验证 短信验证码")
    assert challenge.looks_blocked("您的访问请求可能对网站造成安全威胁，已被网站防火墙拦截")


def test_session_ids_are_canonicalised_away() -> None:
    assert canonical_url("http://h/a;jsessionid=ABC123?x=1") == "http://h/a?x=1"
    assert canonical_url("http://h/a?sid=9f&page=2&PHPSESSID=zz") == "http://h/a?page=2"
    assert canonical_url("http://h/a?ASPSESSIONIDQQ=1") == "http://h/a"
    assert canonical_url("http://h/a?page=2#top") == "http://h/a?page=2#top"


def test_look_alike_chains() -> None:
    assert url_pattern("http://h/cal/2026/13?m=1&y=2") == url_pattern("http://h/cal/2027/1?y=5&m=9")
    assert url_pattern("http://h/cal?m=1") != url_pattern("http://h/list?m=1")
    # a barren page of the same pattern extends the chain; a fruitful one (a catalogue page) does not
    assert chain_length("http://h/cal?m=3", 2, "http://h/cal?m=4", parent_barren=True) == 3
    assert chain_length("http://h/list?p=3", 2, "http://h/list?p=4", parent_barren=False) == 0
    assert chain_length("http://h/cal?m=3", 2, "http://h/guide/1", parent_barren=True) == 0


def test_robots_crawl_delay_and_disallow() -> None:
    robots = Robots("User-agent: *\nCrawl-delay: 2\nDisallow: /private/\n", "zwaudit/0.1")
    assert robots.crawl_delay() == 2.0
    assert not robots.allowed("http://h/private/x")
    assert robots.allowed("http://h/public")
    assert crawl_delay_for(2.0, 1.0) == 2.0
    assert crawl_delay_for(None, 1.0) == 1.0
    assert crawl_delay_for(0.5, 1.0) == 1.0
    assert crawl_delay_for(3600, 1.0) == 60.0


def test_the_browser_pacer_keeps_crawl_delay_and_retry_after_holds() -> None:
    from zwaudit.browser import HostPacer

    fetched: list[str] = []

    async def robots(url: str) -> str | None:
        fetched.append(url)
        return "User-agent: *\nCrawl-delay: 0.3\n" if "slow.example" in url else None

    async def go() -> tuple[float, float, float]:
        pacer = HostPacer(0.0, robots=robots, user_agent="zwaudit/0.1")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await pacer.wait("https://slow.example/a")
        await pacer.wait("https://slow.example/b")  # Crawl-delay 0.3 after the first
        t1 = loop.time()
        await pacer.wait("https://fast.example/a")
        await pacer.wait("https://fast.example/b")  # no Crawl-delay, our delay is 0
        t2 = loop.time()
        pacer.hold("https://fast.example/c", 0.4)  # a Retry-After another check was given
        await pacer.wait("https://fast.example/c")
        return t1 - t0, t2 - t1, loop.time() - t2

    slow, fast, held = asyncio.run(go())
    assert slow >= 0.28
    assert fast < 0.2
    assert held >= 0.38
    assert fetched == ["https://slow.example/robots.txt", "https://fast.example/robots.txt"]


def test_the_browser_and_the_crawler_share_a_crawl_delay_hosts_clock(tmp_path: Path) -> None:
    """A page's clicks, pop-ups and XHRs (the egress guard's route) reserve on the same clock as the
    crawler's requests (crawler.network.pace_shared) for a host asking Crawl-delay; other hosts
    are not slowed."""
    from zwaudit.browser import HostPacer
    from zwaudit.net.pacing import SharedPacer

    async def robots(url: str) -> str | None:
        return "User-agent: *\nCrawl-delay: 0.3\n" if "slow.example" in url else None

    async def go() -> tuple[float, float, float]:
        pacer = HostPacer(0.0, robots=robots, user_agent="zwaudit/0.1")
        pacer.shared = SharedPacer(tmp_path)
        crawler = SharedPacer(tmp_path)  # the crawl subprocess, on the same directory
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert crawler.claim("https://slow.example/list", 0.3) == 0.0  # the crawler sends one
        crawler.answered("https://slow.example/list")
        await pacer.pace_request("https://slow.example/api/hot")  # an XHR of a probe's page waits
        t1 = loop.time()
        await pacer.pace_request("https://fast.example/api/hot")
        await pacer.pace_request("https://fast.example/api/more")
        t2 = loop.time()
        waited = crawler.claim("https://slow.example/next", 0.3)  # the XHR is in flight: wait
        pacer.answered("https://slow.example/api/hot")
        return t1 - t0, t2 - t1, waited

    probe, fast, crawler_waits = asyncio.run(go())
    assert probe >= 0.28
    assert fast < 0.2
    assert crawler_waits > 0.0


def test_fractional_crawl_delay_and_agent_groups() -> None:
    text = "User-agent: Baiduspider\nCrawl-delay: 5\n\nUser-agent: *\nCrawl-delay: 0.5\nDisallow: /x/\n"
    assert Robots(text, "zwaudit/0.1 (+https://example.invalid)").crawl_delay() == 0.5
    assert Robots(text.replace("Baiduspider", "zwaudit"), "zwaudit/0.1").crawl_delay() == 5.0
    assert Robots("User-agent: *\nDisallow: /x/\n", "zwaudit/0.1").crawl_delay() is None


def test_the_filtering_proxy_forwards_own_origins_and_refuses_the_rest() -> None:
    from local_http import Reply, serve

    from zwaudit.net.proxy import REFUSED_HEADER, EgressProxy

    bait_hits: list[str] = []

    def bait(path: str) -> Reply:
        bait_hits.append(path)
        return Reply(b"secret")

    async def ask(proxy_url: str, head: bytes) -> bytes:
        host, port = proxy_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)  # to EOF: a reply may come in several segments
        writer.close()
        return data

    async def go(base: str, bait_base: str) -> tuple[bytes, bytes, bytes]:
        async with EgressProxy(EgressPolicy.build([base])) as proxy:
            auth = (
                "Proxy-Authorization: Basic "
                + base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
            )
            stranger = await ask(proxy.url, f"GET {base}/page HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert stranger.startswith(b"HTTP/1.1 407")  # another local process may not use it
            own = await ask(proxy.url, f"GET {base}/page HTTP/1.1\r\nHost: x\r\n{auth}\r\n\r\n".encode())
            other = await ask(
                proxy.url, f"GET {bait_base}/admin HTTP/1.1\r\nHost: x\r\n{auth}\r\n\r\n".encode()
            )
            bait_host = bait_base.removeprefix("http://")
            tunnel = await ask(proxy.url, f"CONNECT {bait_host} HTTP/1.1\r\n{auth}\r\n\r\n".encode())
            assert len(proxy.refused) == 2 and "loopback" in proxy.refused[0][1]
            return own, other, tunnel

    with serve(lambda path: Reply(b"<p>page</p>")) as base, serve(bait) as bait_base:
        own, other, tunnel = asyncio.run(go(base, bait_base))
    assert own.startswith(b"HTTP/1.0 200") or own.startswith(b"HTTP/1.1 200")
    assert b"<p>page</p>" in own
    assert other.startswith(b"HTTP/1.1 403") and REFUSED_HEADER.encode() in other
    assert tunnel.startswith(b"HTTP/1.1 403")
    assert bait_hits == []
