"""Where a rendered page's script-bound controls lead: clicked as a person would, never followed.

Component-framework portals list their items as ``<div>``s whose click is bound with
``addEventListener``: no ``href``, no ``onclick``, only the pointer cursor a person sees on hover.
A link extractor sees no link there, and the catalogue behind such lists is never crawled.

So on a rendered page, after the page is read (its DOM is kept first, so what the crawl stores is
the page as it loaded), each visible element where a pointer cursor starts and that has no
navigable ``href`` is clicked, a few rounds, so that a 下一页 button's new rows are clicked too.
Nothing a click starts is allowed to happen: ``window.open`` is replaced by a recorder, a top-level
navigation to another document is recorded and cancelled inside the click (the Navigation API's
``navigate`` event; where it is missing, the request is answered with a 204 No Content, so the
page stays), a hash route is recorded and undone. The addresses are handed to the spider as links
found on the page; the spider's own rules (channel, egress, traps, robots) decide whether they are
fetched. After each round the page is read again once it is quiet (nothing requested, nothing
drawn), not after a fixed time.

Bounded: at most ``max_clicks`` clicks and ``budget_s`` seconds per page. Controls whose text
says they change something (退出, 注销, 删除, 提交 …) and form fields are never clicked. All three
are a portal's to change (profile ``crawl.clicks``: ``max_clicks`` (0 = off), ``budget_s``,
``never_click``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from zwaudit.clickables import ACTION_WORDS, EXIT_WORDS, POINTER_STARTS_JS, VISIBLE_JS
from zwaudit.inflight import Inflight

if TYPE_CHECKING:
    from playwright.async_api import Page, Request, Route

log = logging.getLogger(__name__)

MAX_CLICKS = 40
ROUNDS = 4
BUDGET_S = 15.0
# After a click, without the Navigation API only: long enough for the route handler to see the
# navigation it started, so the address is named by the control that led there.
SETTLE_S = 0.08
# After a round: its paging requests answer and its new rows are drawn. The page is read once
# it has neither asked for anything nor drawn anything for QUIET_S (a 50 ms API and a 1.5 s one
# alike); one that never goes quiet (a ticker, a poll) is read at ROUND_SETTLE_MAX_S.
QUIET_S = 0.25
ROUND_SETTLE_MAX_S = 2.0
# A request still under way at ROUND_SETTLE_MAX_S is a slow paging API, not a ticker: it is
# waited for (then the page read once quiet), up to this long after the round's last click.
ROUND_REQUEST_MAX_S = 10.0

# Controls whose click changes something rather than showing something: actions, ways out, and
# searches (a search with an empty box is no page a person browses to).
UNSAFE_TEXT = (*ACTION_WORDS, *EXIT_WORDS, "搜索", "查询")

# The recorder: ``window.open`` and, where the Navigation API exists (Chromium), every navigation
# to another document are recorded with the text of the control being clicked and cancelled,
# synchronously, inside the click: no wait, and the address is named by the right control. New
# rows (childList mutations, not a ticker's style changes) stamp ``drawn``. Returns whether
# navigations are caught in the page (else the route handler catches them, after a settle).
_SETUP_JS = """
() => {
  if (window.__zwClicks) return window.__zwClicks.navigation;
  const rec = {opened: [], routes: [], led: {}, text: '', drawn: performance.now(), navigation: false};
  window.__zwClicks = rec;
  window.open = function (u) {
    try { rec.opened.push([new URL(String(u), location.href).href, rec.text]); } catch (e) {}
    return null;
  };
  new MutationObserver(() => { rec.drawn = performance.now(); })
    .observe(document, {childList: true, subtree: true});
  if (window.navigation && typeof window.navigation.addEventListener === 'function') {
    window.navigation.addEventListener('navigate', (e) => {
      if (e.destination.sameDocument || !e.cancelable) return;
      rec.opened.push([e.destination.url, rec.text]);
      e.preventDefault();
    });
    rec.navigation = true;
  }
  return rec.navigation;
}
"""

_DRAWN_AGO_JS = "() => performance.now() - window.__zwClicks.drawn"

# Marks this round's candidates (never clicked before) and returns their keys (tag and text).
_MARK_JS = (
    """
([unsafe, limit]) => {"""
    + POINTER_STARTS_JS
    + VISIBLE_JS
    + """  const navigable = (el) => { const a = el.closest('a[href]'); if (!a) return false;
    const h = (a.getAttribute('href') || '').trim().toLowerCase();
    return h && !h.startsWith('javascript:') && h !== '#'; };
  document.querySelectorAll('[data-zw-i]').forEach((e) => e.removeAttribute('data-zw-i'));
  const out = [];
  const els = document.querySelectorAll('button, [role=button], [role=link], [onclick], span, div, li, td, p, img, i');
  for (const el of els) {
    if (out.length >= limit) break;
    if (el.hasAttribute('data-zw-done') || el.closest('form, [contenteditable]')) continue;
    const scripted = el.matches('button, [role=button], [role=link], [onclick]') || pointerStarts(el);
    if (!scripted || navigable(el) || !visible(el)) continue;
    const text = (el.innerText || el.title || el.getAttribute('aria-label') || '').replace(/\\s+/g, '');
    // a short control named by an action (退出登录, 立即提交, 查询); an item's name may contain
    // those words (个人权益记录查询打印) and is clicked
    const action = (u) => text === u || (text.length <= 6 && (text.startsWith(u) || text.endsWith(u)));
    if (text.length > 60 || unsafe.some(action)) continue;
    // a control already seen to lead somewhere, drawn again by a re-render: its address is known
    if (window.__zwClicks && window.__zwClicks.led[el.tagName + ':' + text]) continue;
    if (el.querySelector('a[href]:not([href^="javascript"]):not([href="#"])')) continue;
    el.setAttribute('data-zw-i', String(out.length));
    out.push(el.tagName + ':' + text);
  }
  return out;
}
"""
)

_CLICK_JS = r"""
([i, key]) => {
  const el = document.querySelector('[data-zw-i="' + i + '"]:not([data-zw-done])');
  if (!el) return null;
  el.setAttribute('data-zw-done', '1');
  const before = location.href;
  const opened = window.__zwClicks.opened.length;
  const text = (el.innerText || el.title || el.getAttribute('aria-label') || '').replace(/\s+/g, ' ').trim();
  window.__zwClicks.text = text;
  try { el.click(); } catch (e) {}
  const after = location.href;
  const led = window.__zwClicks.opened.slice(opened);
  if (after !== before) {
    led.push([after, text]);
    history.replaceState(history.state, '', before);
  }
  if (led.length) window.__zwClicks.led[key] = true;
  return led;
}
"""


async def discover(
    page: Page,
    max_clicks: int = MAX_CLICKS,
    budget_s: float = BUDGET_S,
    never_click: list[str] | None = None,
) -> dict[str, Any]:
    """The page's HTML as loaded and the addresses its script-bound controls lead to.

    Used as a scrapy-playwright ``PageMethod``: the spider reads ``result["html"]`` instead of
    the response body (which is the page after the clicks) and ``result["urls"]`` as links,
    ``(address, text of the control clicked)``. A click whose handler never returns
    (``while(true){}``) ends discovery at the budget: the page's script is terminated so that the
    page can still be read, and what was found before it is kept.
    """
    html = await page.content()
    urls: list[tuple[str, str]] = []
    if max_clicks <= 0:
        return {"html": html, "urls": []}
    hold: Any = None
    cdp: Any = None
    with contextlib.suppress(Exception):  # Chromium only; elsewhere a hang ends at the budget
        # opened while the page answers: a page whose script hangs answers nothing new
        cdp = await page.context.new_cdp_session(page)
    try:
        unsafe = list(UNSAFE_TEXT if never_click is None else never_click)
        hold = _navigation_holder(page, urls)
        await asyncio.wait_for(_click_all(page, urls, max_clicks, unsafe, hold), timeout=budget_s)
    except TimeoutError:
        log.info("click discovery on %s stopped at its %.0f s budget", page.url, budget_s)
        await _terminate_script(cdp)
    except Exception as exc:  # a page that closed or crashed: what was seen is kept
        log.debug("click discovery on %s ended: %s", page.url, exc)
    if hold is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(page.unroute("**/*", hold), timeout=5)
    if cdp is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(cdp.detach(), timeout=5)
    unique: dict[str, str] = {}
    for url, text in urls:
        if url.startswith(("http://", "https://")) and url not in unique and url != page.url:
            unique[url] = text  # the first control that led there names it (an item's name)
    return {"html": html, "urls": list(unique.items())}


_CURRENT_TEXT = "__zw_current_text"


def _navigation_holder(page: Page, urls: list[tuple[str, str]]) -> Any:
    """A route handler: a top-level navigation a click started is recorded, and the page stays."""

    async def hold(route: Route, request: Request) -> None:
        if request.is_navigation_request() and request.frame == page.main_frame:
            urls.append((request.url, getattr(hold, _CURRENT_TEXT, "")))
            # a 204 leaves the current document in place (an abort would commit an error page)
            await route.fulfill(status=204, body="")
        else:
            await route.fallback()

    return hold


async def _click_all(
    page: Page, urls: list[tuple[str, str]], max_clicks: int, unsafe: list[str], hold: Any
) -> None:
    await page.route("**/*", hold)
    caught_in_page = bool(await page.evaluate(_SETUP_JS))
    clicks = 0
    with Inflight(page) as net:
        for _ in range(ROUNDS):
            keys = await page.evaluate(_MARK_JS, [unsafe, max_clicks - clicks])
            if not keys:
                break
            for i, key in enumerate(keys):
                setattr(hold, _CURRENT_TEXT, key.split(":", 1)[-1])
                led = await page.evaluate(_CLICK_JS, [i, key])
                urls.extend((str(u), str(t)) for u, t in led or ())
                clicks += 1
                if not caught_in_page:
                    await asyncio.sleep(SETTLE_S)
            await _round_settled(page, net)
            if clicks >= max_clicks:
                break


async def _round_settled(page: Page, net: Inflight) -> None:
    """Wait until the page has neither requested nor drawn anything for :data:`QUIET_S` since
    the round's last click, or :data:`ROUND_SETTLE_MAX_S`; requests still under way then are
    waited for, and the page read once quiet, up to :data:`ROUND_REQUEST_MAX_S` (a paging API
    slower than the cap drew its rows after the page was read: seen under load at 1.2 s)."""
    loop = asyncio.get_running_loop()
    net.mark()  # a click may start its request a moment later (a debounce): count from here
    last = loop.time() + ROUND_REQUEST_MAX_S
    deadline = loop.time() + ROUND_SETTLE_MAX_S
    while not await _quiet_by(page, net, deadline):
        answering = set(net.open)
        if not answering:
            return  # busy drawing or asking anew (a ticker, a poll): read it as it is
        while answering & net.open and loop.time() < last:
            await asyncio.sleep(0.05)
        if loop.time() >= last:
            return
        deadline = min(loop.time() + ROUND_SETTLE_MAX_S, last)


async def _quiet_by(page: Page, net: Inflight, deadline: float) -> bool:
    """Whether the page went :data:`QUIET_S` without requesting or drawing before ``deadline``."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        await net.quiet(deadline, QUIET_S)
        drawn_ago_s = float(await page.evaluate(_DRAWN_AGO_JS)) / 1000
        if drawn_ago_s >= QUIET_S and net.idle_s() >= QUIET_S:
            return True
        await asyncio.sleep(max(0.02, min(QUIET_S - drawn_ago_s, deadline - loop.time())))
    return False


async def _terminate_script(cdp: Any) -> None:
    """Stop a script that holds the page's main thread (Chromium: CDP Runtime.terminateExecution)."""
    if cdp is None:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(cdp.send("Runtime.terminateExecution"), timeout=5)
