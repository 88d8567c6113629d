"""What the logged-in checks may click: links, buttons, and divs a script made clickable."""

from __future__ import annotations

import pytest
from probe_fixtures import BrowserHarness

from probes.common.page import find_clickables

pytestmark = pytest.mark.browser

# A component-framework header: the user centre entry is a div with a pointer cursor and a
# script-bound click; a plain div and a panel that merely contains the text are not controls.
PAGE = (
    "<html><head><style>.go{cursor:pointer}</style></head><body>"
    "<div class='panel' id='panel'>欢迎访问，请登录后进入个人中心查看办件</div>"
    "<div class='go' id='uc'><span>个人中心</span></div>"
    "<div id='plain'>我的办件</div>"
    "<a href='/apply'>在线办理</a>"
    "</body></html>"
)


def test_pointer_divs_are_clickables_plain_divs_are_not(browser_harness: BrowserHarness) -> None:
    async def go() -> tuple[list[tuple[str, bool]], list[str], list[str]]:
        context = await browser_harness.browser.new_context()
        try:
            page = await context.new_page()
            await page.set_content(PAGE)
            centre = await find_clickables(page, ["个人中心"])
            ids = [await c.locator().evaluate("(e) => e.id || e.tagName") for c in centre]
            plain = await find_clickables(page, ["我的办件"])
            online = await find_clickables(page, ["在线办理"])
            return [(c.text, c.clickable) for c in centre], ids, [c.text for c in plain + online]
        finally:
            await context.close()

    centre, ids, others = browser_harness.run(go())
    # best first: the pointer div itself (a control); its inner span only as a later candidate
    assert centre[0] == ("个人中心", True) and ids[0] == "uc"
    assert "panel" not in ids  # the long panel text is not a control
    assert others == ["在线办理"]  # the plain div is not offered, the link is
