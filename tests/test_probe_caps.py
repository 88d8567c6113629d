"""The probes' size caps (issue 16): a response past ``browser.max_response_mib`` (decoded: a gzip
bomb counts inflated; a streamed page as it streams) and a DOM past ``browser.max_dom_nodes`` stop
the page as ``too_large``; ordinary pages pass. Hand-made pages on loopback, in Debian's Chromium.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hostile_net_site import HostileSite
from local_http import Reply, serve
from probe_fixtures import BrowserHarness

from probes.common.caps import MIB, Caps
from probes.common.errors import ProbeError
from probes.common.navigation import Manners, goto
from zwaudit.config.schema import BrowserSettings
from zwaudit.outcomes import ErrorKind

pytestmark = pytest.mark.browser

CAPS = Caps(max_response_bytes=1 * MIB, max_dom_nodes=5000)


def _respond(path: str) -> Reply:
    if path == "/ok":
        return Reply("<html><body><h1>办事指南</h1><p>正常页面</p></body></html>".encode())
    if path == "/long":  # a Content-Length already past the cap
        return Reply(b"<html><body>" + b"z" * (3 * MIB) + b"</body></html>")
    if path == "/links":  # a page of 6,000 links: past CAPS' 5,000 elements
        links = "".join(f"<a href='/p{i}'>事项{i}</a>" for i in range(6000))
        return Reply(f"<html><body>{links}</body></html>".encode())
    if path == "/grows":  # a DOM that grows for ever after load
        script = (
            "<script>setInterval(function(){for(var i=0;i<2000;i++)"
            "{document.body.appendChild(document.createElement('div'));}},20);</script>"
        )
        return Reply(f"<html><body><h1>互动交流</h1>{script}</body></html>".encode())
    return Reply(b"not found", status=404)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(_respond) as url:
        yield url


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileSite]:
    site = HostileSite().start()
    yield site
    site.stop()


def _visit(harness: BrowserHarness, url: str, caps: Caps = CAPS, settle_ms: int = 0) -> str | None:
    async def go() -> str | None:
        context = await harness.browser.new_context()
        page = await context.new_page()
        page.set_default_navigation_timeout(20000)
        try:
            await goto(page, url, manners=Manners(caps=caps), settle_ms=settle_ms)
            return None
        except ProbeError as exc:
            return f"{exc.kind.value}: {exc.message}"
        finally:
            await context.close()

    return harness.run(go(), timeout=90)


def _kind(result: str | None) -> str | None:
    return result.split(":", 1)[0] if result else None


def test_an_ordinary_page_passes(browser_harness: BrowserHarness, base: str) -> None:
    assert _visit(browser_harness, base + "/ok") is None


def test_a_content_length_past_the_cap_is_too_large(browser_harness: BrowserHarness, base: str) -> None:
    result = _visit(browser_harness, base + "/long")
    assert _kind(result) == ErrorKind.TOO_LARGE.value, result
    assert _visit(browser_harness, base + "/long", Caps(4 * MIB, 5000)) is None  # under a larger cap


def test_a_streamed_page_and_a_gzip_bomb_are_too_large(
    browser_harness: BrowserHarness, hostile: HostileSite
) -> None:
    started = time.monotonic()
    for path in ("/big.html", "/bomb.html"):
        result = _visit(browser_harness, hostile.base + path)
        assert _kind(result) == ErrorKind.TOO_LARGE.value, (path, result)
    assert time.monotonic() - started < 30


def test_a_dom_past_the_node_cap_is_too_large(browser_harness: BrowserHarness, base: str) -> None:
    result = _visit(browser_harness, base + "/links")
    assert _kind(result) == ErrorKind.TOO_LARGE.value, result
    assert "elements" in (result or "")
    grows = _visit(browser_harness, base + "/grows", settle_ms=1500)
    assert _kind(grows) == ErrorKind.TOO_LARGE.value, grows
    assert _visit(browser_harness, base + "/links", Caps(1 * MIB, None)) is None  # no node cap


def test_the_caps_are_settings() -> None:
    settings = BrowserSettings(max_response_mib=2, max_dom_nodes=100)
    caps = Caps.of(settings.max_response_mib, settings.max_dom_nodes)
    assert caps == Caps(2 * MIB, 100)
    assert Caps.of(0, 0) == Caps(None, None)
    assert BrowserSettings().max_response_mib == 20
