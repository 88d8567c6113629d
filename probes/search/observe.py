"""Searching one keyword in the browser the way a person does, and reading what comes back.

Home page → the visible search box → type the keyword → Enter (or the 搜索 button when Enter does
nothing) → follow a new tab if the portal opens one → wait for the network to settle and for a
result list (or a "no results" text) to appear and stop changing → read the titles.
Every step can be overridden per portal (:class:`SearchSettings`) for portals that defeat it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from probes.common.errors import ProbeError, classify_exception, looks_like_challenge
from probes.common.navigation import Documents, Manners, goto, wait_out_rate_limit
from probes.search.dom import (
    EMPTY_WORDS,
    EXTRACT,
    LOGIN_WORDS,
    PROMPT_WORDS,
    SCORE_INPUTS,
    SEARCH_WORDS,
    SNAPSHOT,
)
from probes.search.judge import SearchObservation, SearchResult
from zwaudit.evidence import EvidenceWriter, safe_name
from zwaudit.outcomes import ErrorKind

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Locator, Page, Request

MIN_INPUT_SCORE = 3
POLL_S = 0.5


@dataclass(frozen=True)
class SearchSettings:
    """How to search one portal: zero-config by default, every step overridable."""

    home_url: str
    top_n: int = 10
    search_url: str | None = None  # a template with {q}: skips the box and the submit
    input_selector: str | None = None
    submit_selector: str | None = None
    result_selector: str | None = None
    settle_timeout_s: float = 10.0


class SearchTab:
    """The one browser tab a portal's keywords are searched in, one after another, as a person
    searches: each keyword still starts from the home page, so every search gets a fresh document.

    A new tab per keyword cost Chromium a renderer each time: about 0.8 CPU-s more per keyword
    than reusing the tab (measured side by side, ``bench/search_tab_bench.py``). A keyword that
    ended in an error retires the tab (a hung or crashed page must not spill into the next
    keyword); the next keyword opens a new one.
    """

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self._page: Page | None = None

    async def page(self) -> Page:
        if self._page is None or self._page.is_closed():
            self._page = await self.context.new_page()
        return self._page

    def holds(self, page: Page) -> bool:
        return page is self._page

    async def retire(self) -> None:
        """Close the tab; the next :meth:`page` opens a new one."""
        page, self._page = self._page, None
        if page is not None:
            with contextlib.suppress(Exception):
                await page.close()


async def _quiet(page: Page, timeout_s: float) -> None:
    """Wait for the network to go quiet, but never fail on a portal that polls forever."""
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)


async def _goto(page: Page, url: str, manners: Manners | None = None) -> None:
    await goto(page, url, manners=manners)
    await _quiet(page, 5)


async def snapshot(page: Page) -> dict[str, Any]:
    """Link blocks and text of the page and its frames (legacy portals show results in an iframe)."""
    items: set[str] = set()
    lists: set[str] = set()
    texts: list[str] = []
    for frame in page.frames:
        with contextlib.suppress(Exception):
            seen = await frame.evaluate(SNAPSHOT)
            items.update(seen["items"])
            lists.update(seen["lists"])
            texts.append(seen["text"])
    return {
        "items": sorted(items),
        "lists": sorted(lists),
        "text": "\n".join(texts),
        "frames": [f.url for f in page.frames],
    }


async def extract(page: Page, args: dict[str, Any]) -> dict[str, Any]:
    """The best result list over the page and its frames, and any "no results" text."""
    best: dict[str, Any] = {"group": None, "empty": None, "url": page.url}
    empty: str | None = None
    for frame in page.frames:
        with contextlib.suppress(Exception):
            seen = await frame.evaluate(EXTRACT, args)
            empty = empty or seen["empty"]
            if seen["group"] and (best["group"] is None or seen["group"]["score"] > best["group"]["score"]):
                best = seen
    if best["group"] is not None and empty and not args["selector"] and best["group"]["count"] < 2:
        best = {"group": None, "empty": empty, "url": page.url}
    best["empty"] = None if best["group"] else empty
    return best


async def find_search_box(
    page: Page, settings: SearchSettings
) -> tuple[Locator, Locator | None, dict[str, Any]]:
    """The search input and its button (None: none recognised), or ``element_not_found``.

    Every frame is looked at (legacy portals put the header in a frame); among equal scores the
    main page and the box nearer the top win.
    """
    if settings.input_selector:
        box = page.locator(settings.input_selector).first
        if not await box.count():
            raise ProbeError(
                ErrorKind.NOT_FOUND, f"input_selector {settings.input_selector!r} matches nothing"
            )
        return box, None, {"input": "override"}
    args = {"words": SEARCH_WORDS, "prompt": PROMPT_WORDS, "login": LOGIN_WORDS}
    best: tuple[tuple[int, int, float, float], Locator, Locator | None, list[str]] | None = None
    for rank, frame in enumerate(page.frames):
        inputs = frame.locator("input, textarea")
        try:
            scored: list[dict[str, Any]] = await inputs.evaluate_all(SCORE_INPUTS, args)
        except Exception:  # a frame that navigated or vanished meanwhile: nothing to see there
            continue
        for i, s in enumerate(scored):
            if s["score"] < MIN_INPUT_SCORE:
                continue
            key = (-s["score"], rank, s["top"], -s["width"])
            if best is None or key < best[0]:
                button = frame.locator(f"[data-zwaudit-submit='{s['token']}']") if s.get("token") else None
                best = (key, inputs.nth(i), button, s["why"])
    if best is None:
        raise ProbeError(ErrorKind.NOT_FOUND, f"no search box recognised on {page.url}")
    found: dict[str, Any] = {"input": "heuristic", "signals": best[3]}
    if best[0][1]:
        found["frame"] = best[0][1]
    return best[1], best[2], found


async def _submit(
    page: Page, box: Locator, button: Locator | None, settings: SearchSettings
) -> tuple[Page, str]:
    """Press Enter; if nothing happens, click the button. Returns the page showing the results.

    Playwright reports a tab the portal opens for its results (``popup``) only once the results
    document answers; until then the opener looks as if Enter did nothing. A search slower than
    that first look was sent a second time by 搜索, and the tab of whichever answer came later
    stayed open. So a new tab's document request (one issued before its frame exists) is waited
    for until its tab appears, as a person waits for the results tab to load.
    """
    popups: list[Page] = []
    opening: list[Request] = []

    def on_popup(popup: Page) -> None:
        popups.append(popup)

    def on_request(request: Request) -> None:
        if request.is_navigation_request():
            try:
                _ = request.frame
            except Exception:  # Playwright's tell: a navigation issued before its frame (a new tab) exists
                opening.append(request)

    async def settle() -> None:
        await asyncio.sleep(0.3)
        await _quiet(page, 3)
        deadline = time.monotonic() + settings.settle_timeout_s
        while opening and not popups and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    page.on("popup", on_popup)
    page.context.on("request", on_request)
    try:
        before_url = page.url
        before = await snapshot(page)
        await box.press("Enter")
        await settle()
        if popups:
            return popups[-1], "enter"
        if page.url != before_url or (await snapshot(page)) != before:
            return page, "enter"
        if settings.submit_selector:
            button = page.locator(settings.submit_selector)
        if button is None:
            raise ProbeError(ErrorKind.NOT_FOUND, "Enter did nothing and no search button was recognised")
        await button.first.click()
        await settle()
        return (popups[-1] if popups else page), "button"
    finally:  # the tab serves the next keyword too: leave no listener of this one behind
        page.remove_listener("popup", on_popup)
        page.context.remove_listener("request", on_request)


async def read_results(page: Page, baseline: dict[str, Any], settings: SearchSettings) -> dict[str, Any]:
    """Poll the page until the result list (or a no-results text) stops changing."""
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("domcontentloaded", timeout=settings.settle_timeout_s * 1000)
    await _quiet(page, settings.settle_timeout_s)
    args = {
        "baseline_items": baseline["items"],
        "baseline_lists": baseline["lists"],
        "baseline_text": baseline["text"],
        "empty": EMPTY_WORDS,
        "selector": settings.result_selector,
    }
    deadline = time.monotonic() + settings.settle_timeout_s
    previous: Any = None
    while True:
        seen = await extract(page, args)
        key = (seen["group"] and [r["title"] for r in seen["group"]["results"]], seen["empty"])
        settled = (seen["group"] or seen["empty"]) and key == previous
        if settled or time.monotonic() > deadline:
            return seen
        previous = key
        await asyncio.sleep(POLL_S)


def _mask(page: Page, personal: list[str]) -> list[Locator]:
    return [page.get_by_text(value) for value in personal if value]


async def observe_keyword(
    context: BrowserContext,
    keyword: str,
    settings: SearchSettings,
    evidence: EvidenceWriter | None = None,
    personal: list[str] | None = None,
    manners: Manners | None = None,
    tab: SearchTab | None = None,
) -> SearchObservation:
    """Search ``keyword`` once and return what a person would have seen (errors classified).

    In ``tab`` when given (the tab stays open for the next keyword unless this one ended in an
    error); otherwise in a tab of its own, closed at the end.
    """
    own_tab = tab is None
    tab = tab or SearchTab(context)
    page = await tab.page()
    result_page = page
    failed = True
    how: dict[str, Any] = {"stage": "home"}
    try:
        await _goto(page, settings.home_url, manners)
        baseline = await snapshot(page)
        if settings.search_url:
            how["submit"] = "search_url"
            await _goto(page, settings.search_url.replace("{q}", quote(keyword)), manners)
        else:
            how["stage"] = "search_box"
            box, button, found = await find_search_box(page, settings)
            how.update(found)
            how["stage"] = "submit"
            await box.click()
            await box.fill("")
            await box.press_sequentially(keyword)
            with Documents(page) as docs:
                result_page, how["submit"] = await _submit(page, box, button, settings)
            if result_page is page and docs.seen:  # a 429 to the search itself: wait, ask again
                await wait_out_rate_limit(page, docs.seen[-1], manners or Manners())
        how["stage"] = "results"
        seen = await read_results(result_page, baseline, settings)
        if not seen["group"] and not seen["empty"]:
            text = await result_page.evaluate("() => document.body ? document.body.innerText : ''")
            if looks_like_challenge(text):
                raise ProbeError(ErrorKind.BLOCKED, f"an anti-bot or access-denied page at {result_page.url}")
        group = seen["group"] or {"results": [], "container": None, "count": 0}
        how["container"] = group["container"]
        results = [SearchResult(r["title"], r["url"]) for r in group["results"]]
        obs = SearchObservation(keyword, results, seen["empty"], seen["url"], how=how)
        if evidence is not None:
            obs.evidence = await _evidence(result_page, obs, settings, evidence, personal or [])
        failed = False
        return obs
    except Exception as exc:  # classified: never a fail, never a pass
        c = classify_exception(exc)
        return SearchObservation(
            keyword, page_url=result_page.url, error=c.kind, error_message=c.message, how=how
        )
    finally:
        if not tab.holds(result_page):  # a tab the portal opened for its results
            with contextlib.suppress(Exception):
                await result_page.close()
        if failed or own_tab:
            await tab.retire()


async def _evidence(
    page: Page,
    obs: SearchObservation,
    settings: SearchSettings,
    evidence: EvidenceWriter,
    personal: list[str],
) -> list[Any]:
    stem = safe_name(obs.keyword)
    shot = evidence.path_for(f"{stem}.png")
    await page.screenshot(path=str(shot), mask=_mask(page, personal))
    excerpt = {
        "keyword": obs.keyword,
        "url": obs.page_url,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "top_n": settings.top_n,
        "results": [{"rank": i + 1, "title": r.title, "url": r.url} for i, r in enumerate(obs.results)],
        "empty_message": obs.empty_message,
        "how": obs.how,
    }
    return [
        evidence.register("screenshot", shot, "image/png"),
        evidence.json("json_excerpt", f"{stem}.json", excerpt),
        evidence.url(obs.page_url or settings.home_url),
    ]
