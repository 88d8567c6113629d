"""Finding services' online-handling links (在线办理 …) through the portal's own pages.

A best-first walk over the portal's pages, led by what link texts look like (an item name, then a
department, then a service section), collecting the hrefs of visible online-handling links. The sample
keeps one link per department system entry (normalised URL) and spreads over hosts first, so a
dozen visits cover a dozen departments rather than one department a dozen times.
"""

from __future__ import annotations

import heapq
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from probes.common.navigation import goto
from zwaudit.checks import CheckContext
from zwaudit.targets import normalize_url

if TYPE_CHECKING:
    from playwright.async_api import Page

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
SATURATION = 12  # after a first entry, stop when this many pages in a row brought no new one


_LINKS_JS = """
() => {
  const vis = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  return [...document.querySelectorAll('a[href]')].filter(vis).map((a) => ({
    text: (a.innerText || a.title || '').replace(/\\s+/g, ''), href: a.href }));
}
"""


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


def spread(entries: list[tuple[str, str]], size: int) -> list[tuple[str, str]]:
    """Up to ``size`` entries, one per normalised URL, round-robin over hosts (pure)."""
    by_host: dict[str, list[tuple[str, str]]] = {}
    seen: set[str] = set()
    for url, found_on in entries:
        key = normalize_url(url)
        if key in seen:
            continue
        seen.add(key)
        by_host.setdefault(urlsplit(key).netloc, []).append((url, found_on))
    out: list[tuple[str, str]] = []
    queues = list(by_host.values())
    while queues and len(out) < size:
        for q in list(queues):
            if q and len(out) < size:
                out.append(q.pop(0))
            if not q:
                queues.remove(q)
    return out


async def discover_entries(
    page: Page,
    ctx: CheckContext,
    start_urls: list[str],
    online_texts: list[str],
    sample_size: int,
    max_pages: int,
) -> list[tuple[str, str]]:
    """``(entry URL, page it was found on)`` pairs for a sample of online-handling links."""
    home = str(ctx.portal.home_url)
    queue: list[tuple[int, int, int, str]] = [(0, 0, i, u) for i, u in enumerate(start_urls or [home])]
    order = len(queue)
    visited: set[str] = set()
    entries: list[tuple[str, str]] = []
    wanted = [t.replace(" ", "") for t in online_texts]
    distinct: set[str] = set()
    barren = 0
    queued = {_key(u) for *_, u in queue}
    known_hosts = {urlsplit(normalize_url(str(d.url))).netloc for d in ctx.portal.departments}
    while queue and len(visited) < max_pages and barren < SATURATION:
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
        before = len(distinct)
        nexts: list[tuple[int, str]] = []
        for link in links:
            href, text = str(link.get("href") or ""), str(link.get("text") or "")
            if not href.startswith(("http://", "https://")):
                continue
            if any(w and w in text for w in wanted):
                entries.append((href, page.url))
                distinct.add(normalize_url(href))
                continue
            rank = link_rank(text, href)
            nxt = urljoin(page.url, href)
            if rank is not None and _same_site(href, home) and _key(nxt) not in queued:
                queued.add(_key(nxt))  # navigation repeated on every page counts once
                nexts.append((rank, nxt))
        barren = 0 if len(distinct) > before or not distinct else barren + 1
        if len(distinct) >= sample_size or (
            known_hosts and known_hosts <= {urlsplit(d).netloc for d in distinct}
        ):
            break  # enough, or every department system the profile names is covered
        for rank, nxt in sorted(nexts)[: PER_PAGE.get(depth, 1)]:
            heapq.heappush(queue, (rank, depth + 1, order, nxt))
            order += 1
    return spread(entries, sample_size)
