"""Finding 在线办理 entries in real Chromium, including controls whose click is bound in script."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from local_http import Reply, serve
from probe_fixtures import BrowserHarness

from probes.common.discovery import discover_entries
from probes.duplicate_login import ONLINE_TEXTS

pytestmark = pytest.mark.browser

STYLE = "<style>.go{cursor:pointer;display:inline-block}</style>"
PAGES = {
    # a 在线办理 menu in the header is chrome (a portal section), never an entry
    "/home": "<header><nav><span class='go' onclick=\"location.href='/section'\">在线办理</span></nav></header>"
    "<main><a href='/dept'>公安厅</a> <a href='/dept2'>民政厅</a></main>",
    "/dept": "<ul><li><a href='/guide/1'>居民身份证换领</a></li><li><a href='/guide/2'>出入境证件办理</a></li></ul>",
    "/dept2": "<ul><li><a href='/guide/3'>户口迁移登记</a></li></ul>",
    # javascript: href + window.open (a new tab)
    "/guide/1": "<h1>居民身份证换领</h1><a href='javascript:void(0)' onclick=\"window.open('/apply/one')\">在线办理</a>",
    # a button whose onclick navigates in place
    "/guide/2": "<h1>出入境证件办理</h1><button onclick=\"location.href='/apply/two'\">网上申报</button>",
    # a div with a listener (component frameworks): only the pointer cursor shows it is clickable
    "/guide/3": "<h1>户口迁移登记</h1><div class='go' id='go'>立即办理</div>"
    "<script>document.getElementById('go').addEventListener('click',()=>{location.href='/apply/three'})</script>",
}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    def respond(path: str) -> Reply:
        path = urlsplit(path).path
        if path.startswith("/apply/"):  # the department system sends strangers to its login
            return Reply(status=302, headers={"Location": "/login?next=" + path})
        return Reply(
            f"<html><head>{STYLE}</head><body>{PAGES.get(path, '<p>登录页</p>')}</body></html>".encode()
        )

    with serve(respond) as base:
        yield base


def test_script_bound_controls_are_clicked_and_their_first_address_kept(
    browser_harness: BrowserHarness, site: str
) -> None:
    ctx: Any = SimpleNamespace(
        portal=SimpleNamespace(home_url=site + "/home", departments=[]),
        extra={},
        evidence=SimpleNamespace(redact=lambda text: text),
    )

    async def go() -> list[tuple[str, str]]:
        context = await browser_harness.browser.new_context()
        try:
            page = await context.new_page()
            return await discover_entries(page, ctx, [], ONLINE_TEXTS, sample_size=5, max_pages=10)
        finally:
            await context.close()

    entries = browser_harness.run(go())
    # the entry is the department system's own address, not the login it redirects to
    assert sorted((urlsplit(u).path, urlsplit(f).path) for u, f in entries) == [
        ("/apply/one", "/guide/1"),
        ("/apply/three", "/guide/3"),
        ("/apply/two", "/guide/2"),
    ]
