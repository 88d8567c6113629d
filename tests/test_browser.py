"""The audit browser: launch, contexts, resource blocking and the harness probes tests share."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from local_http import Reply, serve
from probe_fixtures import BrowserHarness

from zwaudit.app.memory import chromium_kind, chromium_processes
from zwaudit.browser import DISABLED_FEATURES, PLAYWRIGHT_DISABLED_FEATURES, AuditBrowser
from zwaudit.config.schema import BrowserSettings
from zwaudit.errors import RunError

PAGE = (
    "<html><body><p id='t'>政务服务</p>"
    "<img src='/pic.png'><script>window.ua = navigator.userAgent</script></body></html>"
).encode()


@pytest.fixture
def tiny_site() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server on an ephemeral port that records the paths it served."""
    served: list[str] = []

    def respond(path: str) -> Reply:
        served.append(path)
        return Reply(b"\x89PNG", "image/png") if path.endswith(".png") else Reply(PAGE)

    with serve(respond) as base:
        yield base, served


@pytest.mark.browser
def test_context_blocks_images_until_allowed(
    browser_harness: BrowserHarness, tiny_site: tuple[str, list[str]]
) -> None:
    """Images are aborted by default; a check that needs them gets them; UA is ours."""
    base, served = tiny_site

    async def go() -> tuple[list[str], str]:
        browser = browser_harness.browser
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{base}/a")
        blocked = list(served)
        browser.allow_resources(context, ["image"])
        await page.goto(f"{base}/b")
        await page.wait_for_load_state("load")
        ua = await page.evaluate("window.ua")
        await context.close()
        return blocked, ua

    blocked, ua = browser_harness.run(go())
    assert blocked == ["/a"]
    assert served == ["/a", "/b", "/pic.png"]
    assert ua == browser_harness.settings.user_agent


@pytest.mark.browser
def test_chromium_gets_playwrights_disabled_features_and_ours_and_no_gpu_process(
    browser_harness: BrowserHarness,
) -> None:
    """Chromium keeps only the last ``--disable-features``: ours must still hold every feature
    Playwright disables (a Playwright upgrade that adds one fails here), and the ones we add."""
    assert browser_harness.browser.browser.is_connected()
    processes = chromium_processes(os.getpid())
    browsers = [argv for argv in processes.values() if chromium_kind(argv) == "browser"]
    assert browsers, "the harness's Chromium is running"
    for argv in browsers:
        lists = [a.split("=", 1)[1].split(",") for a in argv if a.startswith("--disable-features=")]
        assert len(lists) == 2, "Playwright's own switch, then ours"
        playwrights, effective = lists
        assert set(playwrights) <= set(effective), set(playwrights) - set(effective)
        assert set(PLAYWRIGHT_DISABLED_FEATURES) == set(playwrights)
        assert set(DISABLED_FEATURES) == set(effective) and "HttpsUpgrades" in effective
    assert not [argv for argv in processes.values() if chromium_kind(argv) == "gpu-process"]


@pytest.mark.browser
def test_a_context_starts_no_browser_ui_page(browser_harness: BrowserHarness) -> None:
    """Headless Chromium builds a window per context and loaded the address bar's popups into a
    renderer of their own for each (chrome://omnibox-popup.top-chrome/, never shown): half of a
    context's CPU. Our switches keep every such page out; a Chromium that adds one fails here."""

    async def go() -> list[str]:
        browser = browser_harness.browser
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto("data:text/html,<p>政务服务</p>")
        await asyncio.sleep(0.3)  # the popups were loaded just after the window opened
        session = await browser.browser.new_browser_cdp_session()
        targets = (await session.send("Target.getTargets", {}))["targetInfos"]
        await session.detach()
        await context.close()
        return [t["url"] for t in targets if t["type"] not in ("page", "iframe", "worker", "service_worker")]

    assert browser_harness.run(go()) == []


def test_missing_browser_binary_is_a_run_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = BrowserSettings(executable_path=tmp_path / "no-such-chromium")
    with pytest.raises(RunError, match="executable_path"):
        asyncio.run(AuditBrowser(settings, "ua").start())
