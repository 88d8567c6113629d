"""Finding the unified-login password form from the home page, as a person does.

Click the visible 登录 entry (a link, a button or anything showing a pointer cursor, with a short
login text, top of the page first),
follow a new tab or redirects across hosts, switch to the 账号密码登录 tab when the page opens on a
QR code or SMS form, and look for a visible password input in the page or any of its frames.
One more hop is allowed for portals that put a chooser (个人登录 / 法人登录) in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from probes.auth.dom import LOGIN_WORDS, LOGIN_WORDS_LOOSE, NOT_LOGIN_WORDS, PASSWORD_TAB_WORDS
from zwaudit.clickables import POINTER_STARTS_JS

if TYPE_CHECKING:
    from playwright.async_api import Frame, Locator, Page

PASSWORD = "input[type=password]:visible"

SCORE_ENTRIES = (
    r"""
(els, args) => {"""
    + POINTER_STARTS_JS
    + r"""
  const strict = new RegExp(args.strict, 'i');
  const loose = new RegExp(args.loose, 'i');
  const not = new RegExp(args.not, 'i');
  return els.map((el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return {score: -1};
    // a span or div is an entry only where a pointer cursor starts on it (a script-bound click)
    if (!el.matches(args.standard) && !pointerStarts(el)) return {score: -1};
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || el.title || '').replace(/\s+/g, '').trim();
    if (!text || text.length > 16 || not.test(text) && !strict.test(text)) return {score: -1};
    let score = strict.test(text) ? 4 : (loose.test(text) ? 2 : -1);
    if (score < 0) return {score};
    if (r.top + window.scrollY < 250) score += 1;
    return {score, text, top: r.top + window.scrollY};
  });
}
"""
)


@dataclass
class LoginForm:
    """Where the password input was found."""

    page: Page
    frame: Frame
    password: Locator
    steps: list[str]


async def password_in(page: Page, wait_s: float) -> tuple[Frame, Locator] | None:
    """The first visible password input in the page or its frames, waiting up to ``wait_s``."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        for frame in page.frames:
            with contextlib.suppress(Exception):
                loc = frame.locator(PASSWORD)
                if await loc.count():
                    return frame, loc.first
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(0.25)


async def _ranked(page: Page, selector: str, strict: str, loose: str) -> list[tuple[Locator, str]]:
    clickables = page.locator(selector)
    args = {"strict": strict, "loose": loose, "not": NOT_LOGIN_WORDS, "standard": CLICKABLE}
    scored: list[dict[str, Any]] = await clickables.evaluate_all(SCORE_ENTRIES, args)
    order = sorted(
        (i for i, s in enumerate(scored) if s["score"] > 0),
        key=lambda i: (-scored[i]["score"], scored[i]["top"]),
    )
    return [(clickables.nth(i), str(scored[i]["text"])) for i in order[:3]]


async def _click(page: Page, target: Locator) -> Page:
    """Click like a person and return the page that now shows the result (a new tab if one opened).

    A click may open a pop-up *and* navigate in place (a survey window beside the login page):
    the page showing a password field wins, else the page that navigated in place, else the
    newest pop-up; the pop-ups not chosen are closed, as a person closes an unwanted window.
    """
    popups: list[Page] = []

    def on_popup(popup: Page) -> None:
        popups.append(popup)

    before = page.url
    page.on("popup", on_popup)
    try:
        await target.click(timeout=5000)
        await asyncio.sleep(0.3)
        with contextlib.suppress(Exception):
            await page.wait_for_load_state("load", timeout=10000)
    finally:
        page.remove_listener("popup", on_popup)
    if not popups:
        return page
    for popup in popups:
        with contextlib.suppress(Exception):
            await popup.wait_for_load_state("load", timeout=10000)
    chosen: Page = page if page.url != before else popups[-1]
    for candidate in [page, *reversed(popups)]:
        if await _has_password(candidate):
            chosen = candidate
            break
    for popup in popups:
        if popup is not chosen:
            with contextlib.suppress(Exception):
                await popup.close()
    return chosen


async def _has_password(page: Page) -> bool:
    """Whether any frame of ``page`` shows a password field now (no waiting)."""
    for frame in page.frames:
        with contextlib.suppress(Exception):
            if await frame.locator("input[type=password]").count():
                return True
    return False


CLICKABLE = (
    "a, button, [role=button], [role=link], [role=tab], input[type=button], input[type=submit], [onclick]"
)
# Login entries: the standard clickables, and spans/divs that show a pointer cursor (component
# frameworks bind the click in script, leaving no href or onclick a selector could see).
ENTRY_CANDIDATES = f"{CLICKABLE}, li, span, div"


async def reveal_password(page: Page) -> tuple[Frame, Locator] | None:
    """The password input, switching to a 账号密码登录 tab if the page opened on another method."""
    found = await password_in(page, 2.0)
    if found:
        return found
    for frame in page.frames:
        with contextlib.suppress(Exception):
            tab = frame.get_by_text(re.compile(PASSWORD_TAB_WORDS)).first
            if await tab.count() and await tab.is_visible():
                await tab.click(timeout=5000)
                found = await password_in(page, 2.0)
                if found:
                    return found
    return None


_NAV_STATUS_JS = "(performance.getEntriesByType('navigation')[0] || {}).responseStatus || 0"


async def _is_error_page(page: Page) -> bool:
    """Whether the page shows a failed load: Chromium's error page, or a document answered with an
    error status (our egress proxy's 502 for a destination it could not connect to included)."""
    if page.url.startswith("chrome-error://"):
        return True
    try:
        status = int(await page.evaluate(_NAV_STATUS_JS))
    except Exception:
        return False
    return status >= 400


async def find_login_form(
    page: Page,
    home_url: str,
    goto: Callable[[Page, str], Awaitable[None]],
    *,
    entry_selector: str | None = None,
    depth: int = 2,
) -> LoginForm | None:
    """From ``home_url``, the page and frame holding the unified-login password form, or None."""
    await goto(page, home_url)
    steps: list[str] = []
    found = await reveal_password(page)
    if found:
        return LoginForm(page, found[0], found[1], ["home page"])
    current = page
    for level in range(depth):
        if entry_selector and level == 0:
            candidates = [(current.locator(entry_selector).first, f"entry_selector {entry_selector}")]
        else:
            candidates = await _ranked(current, ENTRY_CANDIDATES, LOGIN_WORDS, LOGIN_WORDS_LOOSE)
        origin = current.url
        for i, (candidate, text) in enumerate(candidates):
            if i:  # the previous click may have navigated: start again where a person would
                await goto(current, origin)
            with contextlib.suppress(Exception):
                landed = await _click(current, candidate)
                found = await reveal_password(landed)
                if found:
                    return LoginForm(landed, found[0], found[1], [*steps, f"clicked {text!r}"])
                if await _is_error_page(landed):
                    # an entry that leads nowhere (a refused port, a dead link): a person goes
                    # back and tries the next 登录 entry
                    steps.append(f"clicked {text!r}: an error page at {landed.url[:200]}")
                    continue
                if landed.url != origin or landed is not current:
                    next_page, next_text = landed, text
                    break
        else:
            return None
        steps.append(f"clicked {next_text!r}")
        current = next_page
    return None
