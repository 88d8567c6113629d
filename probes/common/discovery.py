"""Finding services' online-handling links (在线办理 …) through the portal's own pages.

A best-first walk over the portal's pages, led by what link texts look like (an item name, then a
department, then a service section), collecting the hrefs of visible online-handling links. Where
the control has no usable href (``javascript:void(0)`` with an ``onclick``, a button, a div with a
script-bound click), it is clicked as a person would, and the first address the browser goes to
(in the page or in a new tab) is the entry. The walk and the sample go by department system
(:mod:`probes.common.systems`): the walk goes on until every department the profile lists has an
entry or the page budget is spent, and the sample takes one entry per system before any second
one, so a dozen visits cover a dozen departments rather than one department a dozen times.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from probes.common.navigation import goto
from probes.common.page import Candidate, find_clickables
from probes.common.systems import Department, covered, system_of
from zwaudit.checks import CheckContext
from zwaudit.targets import normalize_url

if TYPE_CHECKING:
    from playwright.async_api import Page, Request

log = logging.getLogger("probes.discovery")

# What a person clicks towards a service, best first: an item (…许可, …登记, …证明), a department
# (公安厅, 市场监督管理局), a service section (办事, 事项, 指南 …).
LINK_CLASSES = (
    re.compile(
        r"许可|登记|证明|备案|核发|审批|办理|申请|申报|变更|补领|换领|认定|确认|给付|查询|证$|证[（(]"
    ),
    re.compile(r"厅$|局$|委员会$|委$|中心$|办公室$|管理处$"),
    re.compile(r"办事|服务|事项|部门|指南|详情|个人|主题|目录|清单|更多"),
)
NEVER_FOLLOW = re.compile(r"退出|注销|登录|注册|logout|signout|sign_out|logoff|exit|login|register", re.I)
PER_PAGE = {0: 30, 1: 2}  # links followed from one page by depth (default 1): breadth over departments
SATURATION = 12  # no listed departments: stop when this many pages in a row showed no new system
DEFERRED = 10  # rank penalty of links beyond a page's share (visited after every promising one)
CLICKS_PER_PAGE = 2  # script-bound online-handling controls clicked on one page
CLICK_WAIT_S = 5.0  # how long a click may take to start a navigation
# Controls not to click: inside a link with a real href (collected as a link already), or in the
# page's navigation chrome (a 在线办理 menu leads to a section of the portal, not to a service).
_SKIP_CONTROL_JS = """(e) => {
  const a = e.closest('a[href]');
  if (a && /^https?:/.test(a.href) && !/#$/.test(a.href)) return true;
  return !!e.closest('header, nav, footer, [role=navigation], [role=menu], [role=menubar], [role=banner]');
}"""


_LINKS_JS = """
() => {
  const vis = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  return [...document.querySelectorAll('a[href]')].filter(vis).map((a) => ({
    text: (a.innerText || a.title || '').replace(/\\s+/g, ''), href: a.href }));
}
"""


async def clicked_entry(page: Page, candidate: Candidate) -> str | None:
    """The first http(s) address a click on ``candidate`` makes the browser go to, or None.

    The first navigation request, not where redirects end, so the entry is the department
    system's own address even when it then redirects to a login.
    """
    targets: list[str] = []
    popups: list[Page] = []

    def on_request(request: Request) -> None:
        if not request.is_navigation_request() or not request.url.startswith(("http://", "https://")):
            return
        try:
            top = request.frame.parent_frame is None
        except Exception:  # a new tab's first request comes before its frame exists
            top = True
        if top:
            targets.append(request.url)

    def on_popup(popup: Page) -> None:
        popups.append(popup)

    start = page.url
    page.context.on("request", on_request)
    page.on("popup", on_popup)
    try:
        with contextlib.suppress(Exception):
            await candidate.locator().click(timeout=5000)
        deadline = asyncio.get_running_loop().time() + CLICK_WAIT_S
        while not targets and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
    finally:
        page.context.remove_listener("request", on_request)
        page.remove_listener("popup", on_popup)
    for popup in popups:  # a tab the click opened: its address is all we need
        with contextlib.suppress(Exception):
            await popup.close()
    return next((t for t in targets if t != start), None)


async def _script_entries(
    page: Page, ctx: CheckContext, url: str, wanted: list[str]
) -> list[tuple[str, str]]:
    """Entries behind online-handling controls without a usable href, on the page at ``url``."""
    entries: list[tuple[str, str]] = []
    for i in range(CLICKS_PER_PAGE):
        candidates = [
            c
            for c in await find_clickables(page, wanted)
            if c.clickable and c.navigable_href is None and not await _skip(c)
        ]
        if i >= len(candidates):
            break
        target = await clicked_entry(page, candidates[i])
        if target is not None:
            entries.append((target, url))
        if page.url != url or target is not None:
            await goto(page, url, ctx, settle_ms=3000)  # back where a person started
    return entries


async def _skip(candidate: Candidate) -> bool:
    """Whether the control is a link's inside or navigation chrome (see ``_SKIP_CONTROL_JS``)."""
    try:
        return bool(await candidate.locator().evaluate(_SKIP_CONTROL_JS))
    except Exception:
        return True  # gone meanwhile: nothing to click


def _same_site(url: str, home: str) -> bool:
    a, b = urlsplit(url), urlsplit(home)
    return (a.hostname or "") == (b.hostname or "") and (a.port or 0) == (b.port or 0)


def _key(url: str) -> str:
    """A page's identity: path, query and a hash route (``#/dept/d01``) of single-page apps."""
    parts = urlsplit(url)
    route = f"#{parts.fragment}" if parts.fragment.startswith(("/", "!")) else ""
    return normalize_url(url) + (f"?{parts.query}" if parts.query else "") + route


def link_rank(text: str, href: str) -> int | None:
    """How promising a link is for reaching services (lower is better); None = never follow."""
    if not text or NEVER_FOLLOW.search(text) or NEVER_FOLLOW.search(urlsplit(href).path):
        return None
    return next((i for i, pattern in enumerate(LINK_CLASSES) if pattern.search(text)), len(LINK_CLASSES))


def spread(
    entries: list[tuple[str, str]], size: int, key: Callable[[str], str] | None = None
) -> list[tuple[str, str]]:
    """Up to ``size`` entries, one per normalised URL, round-robin over ``key`` (default: the
    host; duplicate_login: the department system), so every group is sampled before any twice (pure)."""
    group = key or (lambda u: urlsplit(u).netloc)
    by_group: dict[str, list[tuple[str, str]]] = {}
    seen: set[str] = set()
    for url, found_on in entries:
        norm = normalize_url(url)
        if norm in seen:
            continue
        seen.add(norm)
        by_group.setdefault(group(norm), []).append((url, found_on))
    out: list[tuple[str, str]] = []
    queues = list(by_group.values())
    while queues and len(out) < size:
        for q in list(queues):
            if q and len(out) < size:
                out.append(q.pop(0))
            if not q:
                queues.remove(q)
    return out


@dataclass
class Discovery:
    """The sampled entries and how far the walk reached."""

    entries: list[tuple[str, str]]
    systems_seen: set[str] = field(default_factory=set)
    pages_read: int = 0


async def discover_entries(
    page: Page,
    ctx: CheckContext,
    start_urls: list[str],
    online_texts: list[str],
    sample_size: int,
    max_pages: int,
) -> list[tuple[str, str]]:
    """``(entry URL, page it was found on)`` pairs for a sample of online-handling links."""
    found = await discover(page, ctx, start_urls, online_texts, sample_size, max_pages)
    return found.entries


async def discover(
    page: Page,
    ctx: CheckContext,
    start_urls: list[str],
    online_texts: list[str],
    sample_size: int,
    max_pages: int,
    path_depth: int = 1,
) -> Discovery:
    """Walk the portal's pages for online-handling links, by department system.

    The walk reads at most ``max_pages`` pages (the stated budget). It ends early only when every
    department system the profile lists has an entry, or — when the profile lists none — after
    ``SATURATION`` pages in a row that showed no new system. Links beyond a page's share
    (``PER_PAGE``) are not dropped but queued behind the promising ones, so a walk that has not
    reached every listed department goes on into the rest of the portal. The sample takes one
    entry per system first (:func:`spread` over systems), up to ``sample_size`` visits.
    """
    home = str(ctx.portal.home_url)
    queue: list[tuple[int, int, int, str]] = [(0, 0, i, u) for i, u in enumerate(start_urls or [home])]
    order = len(queue)
    visited: set[str] = set()
    entries: list[tuple[str, str]] = []
    wanted = [t.replace(" ", "") for t in online_texts]
    systems: set[str] = set()
    barren = 0
    queued = {_key(u) for *_, u in queue}
    listed = [Department(d.id, str(d.url)) for d in ctx.portal.departments]

    def system(url: str) -> str:
        return system_of(url, path_depth)

    while queue and len(visited) < max_pages:
        if listed and covered(listed, systems, path_depth):
            break  # every department system the profile names has an entry
        if not listed and barren >= SATURATION:
            break  # nothing new for a while, and no list to say what else to look for
        _, depth, _, url = heapq.heappop(queue)
        key = _key(url)
        if key in visited:
            continue
        visited.add(key)
        try:
            await goto(page, url, ctx, settle_ms=3000)  # client-rendered lists draw after XHRs
            links: list[dict[str, Any]] = await page.evaluate(_LINKS_JS)
        except Exception as exc:  # one unreadable page does not end the walk
            log.info("discovery skipped %s: %s", ctx.evidence.redact(url), exc)
            continue
        log.debug("discovery read %s (%d links)", ctx.evidence.redact(url), len(links))
        before = len(systems)
        nexts: list[tuple[int, str]] = []
        found_here = False
        for link in links:
            href, text = str(link.get("href") or ""), str(link.get("text") or "")
            if not href.startswith(("http://", "https://")):
                continue
            if any(w and w in text for w in wanted):
                entries.append((href, page.url))
                systems.add(system(href))
                found_here = True
                continue
            rank = link_rank(text, href)
            nxt = urljoin(page.url, href)
            if rank is not None and _same_site(href, home) and _key(nxt) not in queued:
                queued.add(_key(nxt))  # navigation repeated on every page counts once
                nexts.append((rank, nxt))
        if not found_here:
            try:
                clicked = await _script_entries(page, ctx, page.url, wanted)
            except Exception as exc:  # a click that broke the page: the walk goes on
                log.info("discovery could not click on %s: %s", ctx.evidence.redact(url), exc)
                clicked = []
            entries.extend(clicked)
            systems.update(system(u) for u, _ in clicked)
        barren = 0 if len(systems) > before or not systems else barren + 1
        share = PER_PAGE.get(depth, 1)
        for i, (rank, nxt) in enumerate(sorted(nexts)):
            later = 0 if i < share else DEFERRED  # beyond the page's share: after the promising ones
            heapq.heappush(queue, (rank + later, depth + 1, order, nxt))
            order += 1
    return Discovery(spread(entries, sample_size, key=system), systems, len(visited))
