"""Finding services' online-handling links (在线办理 …) through the portal's own pages.

A best-first walk over the portal's pages, led by what link texts look like (an item name, then a
department, then a service section), collecting the hrefs of visible online-handling links. Where
the control has no usable href (``javascript:void(0)`` with an ``onclick``, a button, a div with a
script-bound click), it is clicked as a person would, and the first address the browser goes to
(in the page or in a new tab) is the entry. The walk and the sample go by department system
(:mod:`probes.common.systems`): the walk goes on until every department the profile lists has an
entry or the page budget is spent, and the sample takes one entry per system before any second
one, so a dozen visits cover a dozen departments rather than one department a dozen times.

The walk goes where a person would (issue 13, class 2): besides links, it clicks script-bound
controls whose text looks like an item, a department or a service section (an ``onclick``, a
button or role, a pointer cursor set by a listener — lists with no ``href`` at all) and reads the
page the click opens, in the tab or a new one (a hash-routed app's route included). A link or
control that names a listed department no entry has reached yet (the profile's name, with or
without the region in front) is followed first, and the few pages below it too. Each click costs
one page of the budget.
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
from probes.common.systems import Department, covered, reaches, system_of
from zwaudit.checks import CheckContext
from zwaudit.clickables import (
    ACTION_WORDS,
    EXIT_WORDS,
    POINTER_STARTS_JS,
    VISIBLE_JS,
    mentions,
    starts_with_action,
)
from zwaudit.targets import normalize_url

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page, Request

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
NEVER_FOLLOW = mentions(EXIT_WORDS)
# Controls never clicked on the walk: they act (submit, delete, pay …) rather than lead somewhere.
NEVER_CLICK = starts_with_action(ACTION_WORDS)
LEAD_HOPS = 3  # pages below a link naming an unreached listed department that are read first
PER_PAGE = {0: 30, 1: 2}  # links followed from one page by depth (default 1): breadth over departments
SATURATION = 12  # no listed departments: stop when this many pages in a row showed no new system
DEFERRED = 10  # rank penalty of links beyond a page's share (visited after every promising one)
CLICKS_PER_PAGE = 2  # script-bound online-handling controls clicked on one page
CLICK_WAIT_S = 5.0  # how long a click may take to start a navigation
POPUP_WAIT_S = 2.0  # how long a new tab's page may come after its first request
# Controls not to click: inside a link with a real href (collected as a link already), or in the
# page's navigation chrome (a 在线办理 menu leads to a section of the portal, not to a service).
_SKIP_CONTROL_JS = """(e) => {
  const a = e.closest('a[href]');
  if (a && /^https?:/.test(a.href) && !/#$/.test(a.href)) return true;
  return !!e.closest('header, nav, footer, [role=navigation], [role=menu], [role=menubar], [role=banner]');
}"""


# Script-bound controls a person would click towards a service: no usable href, but a click bound
# in script (an onclick, a button or role, a pointer cursor that starts on the element — listener-
# bound lists of component frameworks leave nothing else). The innermost such control with a short
# visible text; not navigation chrome, not the inside of a real link (collected as a link already).
_CONTROLS_JS = (
    """
(attr) => {"""
    + POINTER_STARTS_JS
    + VISIBLE_JS
    + """
  const chrome = 'header, nav, footer, [role=navigation], [role=menu], [role=menubar], [role=banner]';
  const realLink = (a) => /^https?:/.test(a.href) && !/#$/.test(a.href);
  document.querySelectorAll('[' + attr + ']').forEach((e) => e.removeAttribute(attr));
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.matches('script, style, input[type=text], input[type=password], textarea, select, form')) continue;
    const a = el.closest('a[href]');
    if (a && realLink(a)) continue;
    const bound = el.matches('a, button, input[type=button], [onclick], [role=link], [role=button]')
      || pointerStarts(el);
    if (!bound || el.closest(chrome) || !visible(el)) continue;
    found.push(el);
  }
  const out = [];
  for (const el of found) {
    if (found.some((o) => o !== el && el.contains(o))) continue;  // the innermost control
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || el.title || '')
      .replace(/\\s+/g, '');
    if (!text || text.length > 40) continue;
    el.setAttribute(attr, String(out.length));
    out.push({mark: String(out.length), text});
  }
  return out;
}
"""
)
_CONTROL_ATTR = "data-zw-ctl"

_LINKS_JS = (
    """
() => {"""
    + VISIBLE_JS
    + """  return [...document.querySelectorAll('a[href]')].filter(visible).map((a) => ({
    text: (a.innerText || a.title || '').replace(/\\s+/g, ''), href: a.href }));
}
"""
)


async def clicked_entry(page: Page, candidate: Candidate, locator: Locator | None = None) -> str | None:
    """The first http(s) address a click on ``candidate`` makes the browser go to, or None.

    The first navigation request, not where redirects end, so the entry is the department
    system's own address even when it then redirects to a login.
    """
    targets: list[str] = []
    popups: list[Page] = []
    elsewhere: list[bool] = []  # per target: whether it was not requested by this page's own frame

    def on_request(request: Request) -> None:
        if not request.is_navigation_request() or not request.url.startswith(("http://", "https://")):
            return
        try:
            top = request.frame.parent_frame is None
            own = request.frame == page.main_frame
        except Exception:  # a new tab's first request comes before its frame exists
            top, own = True, False
        if top:
            targets.append(request.url)
            elsewhere.append(not own)

    def on_popup(popup: Page) -> None:
        popups.append(popup)

    start = page.url
    page.context.on("request", on_request)
    page.on("popup", on_popup)
    try:
        with contextlib.suppress(Exception):
            await (locator or candidate.locator()).click(timeout=5000)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLICK_WAIT_S
        while not targets and not popups and page.url == start and loop.time() < deadline:
            await asyncio.sleep(0.1)
        if targets and elsewhere[0]:  # a new tab's request: its page event comes a moment later
            deadline = loop.time() + POPUP_WAIT_S
            while not popups and loop.time() < deadline:
                await asyncio.sleep(0.05)
    finally:
        page.context.remove_listener("request", on_request)
        page.remove_listener("popup", on_popup)
    if popups:  # a new tab: the address it shows, with the hash route its request lacks
        with contextlib.suppress(Exception):
            await popups[0].wait_for_load_state("domcontentloaded", timeout=CLICK_WAIT_S * 1000)
    shown = [p.url for p in popups] + [page.url]
    for popup in popups:  # a tab the click opened: its address is all we need
        with contextlib.suppress(Exception):
            await popup.close()
    return _first_address(targets, shown, start)


def _first_address(requested: list[str], shown: list[str], start: str) -> str | None:
    """The first address a click went to (pure): the first navigation request, with the hash route
    the browser shows for it (a request carries no ``#/…``: a hash-routed app's new tab is
    ``/app/#/guide?id=1``, its request ``/app/``); without a request, an address the page or a new
    tab shows that differs from where the click started (a route change in the same document)."""
    for url in requested:
        if url == start:
            continue
        base = url.split("#", 1)[0]
        routed = next((s for s in shown if s.split("#", 1)[0] == base and "#" in s), None)
        if routed is not None and routed != start and "#" not in url:
            return routed
        return url
    return next((s for s in shown if s and s != start and s.startswith(("http://", "https://"))), None)


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


async def _controls(
    page: Page, page_key: str, wanted: list[str], queued: set[str]
) -> list[tuple[int, str, tuple[str, int] | None]]:
    """The script-bound controls of the page worth a click on the walk, ranked like links: a text
    that looks like an item, a department or a service section (``LINK_CLASSES``), never an
    action (``NEVER_CLICK``), a way out (``NEVER_FOLLOW``) or an online-handling control (those are
    entries, clicked by :func:`_script_entries`)."""
    try:
        rows: list[dict[str, Any]] = await page.evaluate(_CONTROLS_JS, _CONTROL_ATTR)
    except Exception:
        return []
    out: list[tuple[int, str, tuple[str, int] | None]] = []
    seen: dict[str, int] = {}
    for row in rows:
        text = str(row.get("text") or "")
        nth = seen.get(text, 0)
        seen[text] = nth + 1
        if NEVER_CLICK.search(text) or any(w and w in text for w in wanted):
            continue
        rank = link_rank(text, "")
        if rank is None or rank >= len(LINK_CLASSES):
            continue  # a control that says nothing of services is not clicked
        ident = f"{page_key} ::click {text} #{nth}"
        if ident in queued:
            continue
        queued.add(ident)
        out.append((rank, "", (text, nth)))
    return out


async def _follow_control(page: Page, ctx: CheckContext, url: str, control: tuple[str, int]) -> str | None:
    """Open the page at ``url``, click its ``nth`` control with ``text``, and return the first
    address the click went to (in the page or a new tab), or None."""
    text, nth = control
    await goto(page, url, ctx, settle_ms=3000)
    rows: list[dict[str, Any]] = await page.evaluate(_CONTROLS_JS, _CONTROL_ATTR)
    marks = [str(r["mark"]) for r in rows if r.get("text") == text]
    if nth >= len(marks):
        return None  # the page drew differently this time
    frame = page.main_frame
    candidate = Candidate(frame, "", text, 0, True, None, True)
    locator = frame.locator(f'[{_CONTROL_ATTR}="{marks[nth]}"]').first
    target = await clicked_entry(page, candidate, locator)
    log.debug(
        "discovery clicked %r on %s: %s",
        text,
        ctx.evidence.redact(url),
        target and ctx.evidence.redact(target),
    )
    return target


_ADMIN_PREFIX = re.compile(r"^(?:.{2,8}?(?:省|自治区|市|州|盟|地区|县|区|旗))")


def department_names(ctx: CheckContext) -> dict[str, tuple[str, ...]]:
    """The names by which a person recognises each listed department on the portal's pages: the
    profile's name, and that name without the province's or city's name in front of it
    (川东省医疗保障局 → 医疗保障局)."""
    out: dict[str, tuple[str, ...]] = {}
    province = str(getattr(ctx.portal, "province", "") or "")
    for d in ctx.portal.departments:
        name = re.sub(r"\s+", "", str(getattr(d, "name", "") or ""))
        if not name:
            continue
        forms = {name}
        if province and name.startswith(province):
            forms.add(name[len(province) :])
        forms.add(_ADMIN_PREFIX.sub("", name))
        out[d.id] = tuple(sorted(f for f in forms if len(f) >= 3))
    return out


def names_department(text: str, forms: tuple[str, ...]) -> bool:
    """Whether a link or control text names the department (pure): one of its ``forms`` is in the
    text, or the text is a form with the department's region in front (the page's own wording)."""
    t = re.sub(r"\s+", "", text)
    return len(t) >= 3 and any(f in t or (len(t) >= 4 and f.endswith(t)) for f in forms)


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
    # (rank, depth, order, page URL, control): a link to read, or a script-bound control on the
    # page at that URL (its text and its place among controls of that text) to click and follow
    # (lead, rank, depth, order, page URL, control, hops, department): ``lead`` 0 puts first what
    # leads to a listed department not reached yet (a link or control naming it, and ``hops``
    # pages below it); once that department is reached, the rest goes back in line
    queue: list[tuple[int, int, int, int, str, tuple[str, int] | None, int, str]] = [
        (1, 0, 0, i, u, None, 0, "") for i, u in enumerate(start_urls or [home])
    ]
    order = len(queue)
    visited: set[str] = set()
    entries: list[tuple[str, str]] = []
    wanted = [t.replace(" ", "") for t in online_texts]
    systems: set[str] = set()
    barren = 0
    reads = 0  # the budget: pages opened, a control's page included
    queued = {_key(u) for *_, u, _c, _h, _d in queue}
    listed = [Department(d.id, str(d.url)) for d in ctx.portal.departments]
    names = department_names(ctx)

    def reached(department_id: str) -> bool:
        return any(reaches(d, s, path_depth) for d in listed if d.id == department_id for s in systems)

    def named_unreached(text: str) -> str:
        """The id of a listed department that ``text`` names and no entry has reached yet, or ""."""
        return next(
            (d.id for d in listed if names_department(text, names.get(d.id, ())) and not reached(d.id)), ""
        )

    def system(url: str) -> str:
        return system_of(url, path_depth)

    while queue and reads < max_pages:
        if listed and covered(listed, systems, path_depth):
            break  # every department system the profile names has an entry
        if not listed and barren >= SATURATION:
            break  # nothing new for a while, and no list to say what else to look for
        lead, rank_, depth, order_, url, control, hops, towards = heapq.heappop(queue)
        if lead == 0 and reached(towards):  # reached meanwhile: back in line with the rest
            heapq.heappush(queue, (1, rank_, depth, order_, url, control, 0, ""))
            continue
        if control is not None:  # click it as a person would; read where it leads
            reads += 1
            try:
                target = await _follow_control(page, ctx, url, control)
            except Exception as exc:
                log.info("discovery could not click on %s: %s", ctx.evidence.redact(url), exc)
                continue
            if target is None or not _same_site(target, home) or _key(target) in visited:
                continue
            queued.add(_key(target))
            url = target
            if reads >= max_pages:
                break
        key = _key(url)
        if key in visited:
            continue
        visited.add(key)
        reads += 1
        try:
            await goto(page, url, ctx, settle_ms=3000)  # client-rendered lists draw after XHRs
            links: list[dict[str, Any]] = await page.evaluate(_LINKS_JS)
        except Exception as exc:  # one unreadable page does not end the walk
            log.info("discovery skipped %s: %s", ctx.evidence.redact(url), exc)
            continue
        log.debug("discovery read %s (%d links)", ctx.evidence.redact(url), len(links))
        before = len(systems)
        nexts: list[tuple[int, str, tuple[str, int] | None, str]] = []
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
                nexts.append((rank, nxt, None, text))
        nexts += [(r, u, c, c[0] if c else "") for r, u, c in await _controls(page, key, wanted, queued)]
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
        here = page.url
        for i, (rank, nxt, ctl, text) in enumerate(sorted(nexts, key=lambda n: n[0])):
            later = 0 if i < share else DEFERRED  # beyond the page's share: after the promising ones
            named = named_unreached(text)
            below, dept = (LEAD_HOPS, named) if named else (hops - 1, towards)
            lead = 0 if below > 0 and dept else 1
            target = here if ctl else nxt
            heapq.heappush(queue, (lead, rank + later, depth + 1, order, target, ctl, below, dept))
            order += 1
    return Discovery(spread(entries, sample_size, key=system), systems, reads)
