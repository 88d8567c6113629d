"""The portal spider: every channel of one portal, breadth-first from where a person starts.

Each channel (the portal, each department site, the mobile H5 site) starts at its home page; links
are followed within the channel's origin in breadth-first order, so the first time a page is
reached is by the fewest clicks (``crawled_page.depth``). Every link seen on a crawled page is
fetched once, also off-site, so broken links are found with the page that links to them.
Pages that are empty shells filled by script are fetched again through the browser, and the
JSON the page itself requested is read as well as the rendered DOM.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import scrapy
from scrapy.http import Request, Response, TextResponse
from twisted.python.failure import Failure

from crawler.clicks import discover
from crawler.config import ChannelStart, PortalCrawl
from crawler.extract import (
    Guide,
    frame_sources,
    guide_from_html,
    guides_from_json,
    page_links,
    parse_html,
    visible_text_length,
)
from crawler.middlewares import BROWSER_CONTEXT
from crawler.network import answered, register_policy
from crawler.routes import ROUTES_IN_PLACE
from crawler.rows import error_kind, item_row, page_row
from zwaudit.config.schema import ClickDiscovery
from zwaudit.net.pacing import PAGE_RESOURCE_TYPES
from zwaudit.net.proxy import EgressProxy
from zwaudit.net.traps import canonical_url, chain_length, url_pattern

log = logging.getLogger(__name__)
SHELL_TEXT_LIMIT = 200  # visible characters below which a scripted page is an SPA shell
# every status reaches parse() except redirects, which Scrapy follows (through the redirect guard:
# loops, long chains and refused destinations become errors); ``handle_httpstatus_all`` would
# also hand the 3xx to parse() and no redirect would ever be followed
HANDLED_STATUSES = [s for s in range(100, 600) if s not in (301, 302, 303, 307, 308)]


class PortalSpider(scrapy.Spider):
    name = "portal"

    def __init__(self, crawl: PortalCrawl, run_id: int, **kwargs: Any) -> None:
        super().__init__(name=f"portal-{crawl.portal_id}", **kwargs)
        self.crawl = crawl
        self.run_id = run_id
        # links leaving the channels are fetched once (link_health); a crawl limited to some
        # channels (for the portal's catalogue alone) has no use for them
        self.check_external = not crawl.skipped
        self._routes_seen: set[str] = set()
        self._captured: dict[str, list[Any]] = {}
        self._closing: set[asyncio.Future[Any]] = set()
        self.egress = crawl.egress_policy()  # read by crawler.network's middlewares
        if self.egress is not None:
            register_policy(self.egress)
        self.trap_bound = crawl.network.trap_bound
        self._links_seen: set[int] = set()  # hashes of canonical in-channel links (barren pages)
        self._requested: set[int] = set()  # hashes of the canonical URLs requested (fan-out groups)
        self._fanouts: dict[int, _Fanout] = {}  # open fan-out groups by id
        self._fanout_ids = itertools.count(1)
        self.browser_context: dict[str, Any] = dict(BROWSER_CONTEXT)  # + the egress proxy, at start
        self._proxy: EgressProxy | None = None

    async def start(self) -> AsyncIterator[Request]:
        if self.egress is not None and self.crawl.render is not False:
            # the rendering browser's redirect hops are not routed: its connections go through
            # the portal's filtering proxy (loopback included), as the probes' do
            self._proxy = EgressProxy(self.egress)
            await self._proxy.start()
            self.browser_context["proxy"] = self._proxy.playwright_proxy
            log.info("egress proxy for the rendering browser: %s", self._proxy.url)
        for channel in self.crawl.crawled_channels:
            self._links_seen.update(hash(canonical_url(u)) for u in (channel.url, *channel.extra_seeds))
            yield self._request(channel.url, channel, clicks=0, found_on=None, follow=True)
            for seed in channel.extra_seeds:
                # declared in the profile, not reached by clicking: no click depth of its own
                yield self._request(seed, channel, clicks=None, found_on=None, follow=True, priority=-100)

    # --- requests -------------------------------------------------------------------------------

    def _request(
        self,
        url: str,
        channel: ChannelStart | None,
        *,
        clicks: int | None,
        found_on: str | None,
        follow: bool,
        render: bool = False,
        priority: int = 0,
        chain: int = 0,
        link_text: str = "",
        fanout: int | None = None,
    ) -> Request:
        url = canonical_url(url)  # session ids never make a page new
        if not render:
            self._requested.add(hash(url))
        meta: dict[str, Any] = {
            "channel": channel.channel if channel else None,
            "clicks": clicks,
            "found_on": found_on,
            "follow": follow,
            "handle_httpstatus_list": HANDLED_STATUSES,
            "chain": chain,
            "link_text": link_text[:200],  # names a guide page that shows no labelled name
        }
        if fanout is not None:
            meta["fanout"] = fanout
        if render:
            meta.update(
                {
                    "playwright": True,
                    "playwright_page_methods": _settle(self.crawl.clicks),
                    "playwright_page_event_handlers": {"response": "capture_json"},
                    "playwright_context_kwargs": self.browser_context,
                    "rendered": True,
                    ROUTES_IN_PLACE: self.crawl.routes_in_place,
                }
            )
        if clicks is not None:
            priority = -clicks  # breadth-first by clicks (settings: DEPTH_PRIORITY = 0)
        return Request(
            url,
            callback=self.parse,
            errback=self.on_error,
            meta=meta,
            priority=priority,
            dont_filter=render,
        )

    async def capture_json(self, response: Any) -> None:
        """Keep the JSON bodies a rendered page asked for (its own API, discovered, not guessed)."""
        if response.request.resource_type in PAGE_RESOURCE_TYPES:
            answered(response.url)  # the shared Crawl-delay clock counts from this answer
        try:
            if "json" not in (response.headers.get("content-type") or ""):
                return
            body = await response.json()
        except Exception:  # the page may close first; its DOM is still read
            return
        page_url = response.frame.page.url
        if len(self._captured) > 200:  # bodies of pages that never reached parse(): bounded memory
            self._captured.clear()
        bodies = self._captured.setdefault(page_url, [])
        if body not in bodies:  # a route checked twice (crawler.routes) asks for its data twice
            bodies.append(body)

    # --- responses ------------------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        meta = response.meta
        channel = self.crawl.channel_for(response.url) or self._channel_named(meta.get("channel"))
        clicks = meta.get("clicks")
        requested = (
            meta.get("redirect_urls") or [response.request.url if response.request else response.url]
        )[0]
        rendered = bool(meta.get("rendered"))
        url = response.url if rendered else requested
        error = None
        if meta.get("rate_limited"):
            error = "rate_limited"
        elif meta.get("challenge_failed"):
            error = "blocked: the cookie challenge was not passed"
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")[:200]
        not_page = response.status < 300 and _not_a_page(response, content_type)
        if error is None and meta.get("channel") and not_page:
            # a page of the portal that is a PDF or a download where a page was linked
            error = f"not_html: {content_type or 'binary'}"
        if error is None and meta.get("tls_fault"):
            error = f"tls: {meta['tls_fault']}"  # read all the same (crawler.network.TlsVerifyMiddleware)
        yield page_row(self, url, meta, response.status, error, content_type)
        if response.url != url:  # redirected: the landing page is reached by the same clicks
            yield page_row(self, response.url, meta, response.status, error, content_type)
        if response.status >= 400 or not meta.get("follow") or channel is None:
            yield from self._fanout_result(meta, productive=True)
            return
        if not_page or not isinstance(response, TextResponse):
            yield from self._fanout_result(meta, productive=True)
            return
        if "json" in content_type:
            yield from self._fanout_result(meta, productive=True)
            yield from self._items_from_json(response.text, channel, response.url)
            return
        clicked = _clicked(meta) if rendered else None
        root = parse_html(clicked["html"] if clicked else response.text)
        if not rendered and self._needs_browser(root, response.text):
            yield from self._fanout_result(meta, productive=True)
            yield self._request(
                response.url,
                channel,
                clicks=clicks,
                found_on=meta.get("found_on"),
                follow=True,
                render=True,
                link_text=meta.get("link_text") or "",
            )
            return
        guide = guide_from_html(root, self.crawl.elements, meta.get("link_text") or "")
        captured = self._captured.pop(response.url, [])
        json_guides = [g for body in captured for g in guides_from_json(body, self.crawl.elements)]
        if len(json_guides) == 1:
            guide = _merge(json_guides[0], guide)
        found_item = False
        if guide is not None:
            row = item_row(self, channel, guide, response.url)
            if row is not None:
                found_item = True
                yield row
        for src in frame_sources(root, response.url):
            target = self.crawl.channel_for(src)
            if target is not None:  # a frame is shown with its page: the same number of clicks
                yield self._request(src, target, clicks=clicks, found_on=url, follow=bool(meta.get("follow")))
        next_clicks = None if clicks is None else clicks + 1
        texts: dict[str, str] = {}
        for link in page_links(root, response.url, keep_hash_routes=rendered):
            texts.setdefault(canonical_url(link.url), link.text)
        if clicked:  # where script-bound controls lead (crawler.clicks): links a person can click
            for link_url, text in clicked["urls"]:
                if canonical_url(link_url) != url:
                    texts.setdefault(canonical_url(link_url), text)
        links = list(texts)
        barren = self._barren(url, links)
        yield from self._fanout_result(meta, productive=found_item or not barren)
        held = self._fanout_groups(url, links)
        for link_url in links:
            target = self.crawl.channel_for(link_url)
            if target is None:
                if self.check_external:
                    yield self._request(link_url, None, clicks=None, found_on=url, follow=False)
                continue
            follow = next_clicks is None or next_clicks <= self.crawl.max_depth
            chain = chain_length(url, int(meta.get("chain") or 0), link_url, barren)
            if chain > self.trap_bound:
                message = (
                    f"trap: more than {self.trap_bound} look-alike pages in a row that bring "
                    f"nothing new ({url_pattern(link_url)[:200]})"
                )
                where = {"channel": target.channel, "clicks": next_clicks, "found_on": url}
                yield page_row(self, link_url, where, None, message, None)
                continue
            if "#" in link_url:
                if link_url in self._routes_seen:
                    continue
                self._routes_seen.add(link_url)
                yield self._request(
                    link_url,
                    target,
                    clicks=next_clicks,
                    found_on=url,
                    follow=follow,
                    render=True,
                    chain=chain,
                    link_text=texts[link_url],
                )
            else:
                group = held.get(link_url)
                if group is not None and group.id not in self._fanouts:
                    continue  # already judged a trap (or released) while this page was parsed
                if group is not None and link_url not in group.probes:
                    group.pending.append(
                        (link_url, target.channel, next_clicks, url, follow, chain, texts[link_url])
                    )
                    continue
                yield self._request(
                    link_url,
                    target,
                    clicks=next_clicks,
                    found_on=url,
                    follow=follow,
                    chain=chain,
                    link_text=texts[link_url],
                    fanout=group.id if group is not None else None,
                )

    def _fanout_groups(self, url: str, links: list[str]) -> dict[str, _Fanout]:
        """Links of one page sharing one URL pattern, more than ``trap_bound`` of them and not yet
        requested (a page of thousands of look-alike links): the first ``trap_bound`` are fetched
        as probes, the rest held until one probe proves productive (a guide, new links, anything
        but a barren HTML page); if none does, the rest is a trap and is not fetched."""
        by_pattern: dict[str, list[str]] = {}
        for link in dict.fromkeys(links):
            if "#" in link or hash(link) in self._requested or self.crawl.channel_for(link) is None:
                continue
            by_pattern.setdefault(url_pattern(link), []).append(link)
        held: dict[str, _Fanout] = {}
        for pattern, group_links in by_pattern.items():
            if len(group_links) <= self.trap_bound:
                continue
            group = _Fanout(next(self._fanout_ids), pattern, url, frozenset(group_links[: self.trap_bound]))
            self._fanouts[group.id] = group
            held.update(dict.fromkeys(group_links, group))
        return held

    def _fanout_result(self, meta: Any, *, productive: bool) -> Iterator[Any]:
        """A probe of a fan-out group came back: release the group, or judge it a trap."""
        group = self._fanouts.get(meta.get("fanout") or 0)
        if group is None:
            return
        group.done += 1
        if productive:
            del self._fanouts[group.id]
            for link_url, channel_name, clicks, found_on, follow, chain, text in group.pending:
                yield self._request(
                    link_url,
                    self._channel_named(channel_name),
                    clicks=clicks,
                    found_on=found_on,
                    follow=follow,
                    chain=chain,
                    link_text=text,
                )
        elif group.done >= len(group.probes):
            del self._fanouts[group.id]
            if group.pending:
                first = group.pending[0]
                message = (
                    f"trap: {len(group.pending) + len(group.probes)} look-alike links on one page "
                    f"({group.pattern[:200]}); the first {len(group.probes)} brought nothing new, "
                    f"the other {len(group.pending)} were not fetched"
                )
                where = {"channel": first[1], "clicks": first[2], "found_on": group.found_on}
                yield page_row(self, first[0], where, None, message, None)

    def _barren(self, url: str, links: list[str]) -> bool:
        """Whether this page brings no new link outside its own URL pattern (a trap's page)."""
        own = url_pattern(url)
        new = False
        for link in links:
            key = hash(link)
            if key in self._links_seen:
                continue
            self._links_seen.add(key)
            if url_pattern(link) != own and self.crawl.channel_for(link) is not None:
                new = True
        return not new

    def _items_from_json(self, text: str, channel: ChannelStart, url: str) -> Iterator[Any]:
        try:
            data = json.loads(text)
        except ValueError:
            return
        for guide in guides_from_json(data, self.crawl.elements):
            row = item_row(self, channel, guide, url)
            if row is not None:
                yield row

    def _needs_browser(self, root: Any, text: str) -> bool:
        if self.crawl.render is not None:
            return self.crawl.render
        return "<script" in text.lower() and visible_text_length(root) < SHELL_TEXT_LIMIT

    def _channel_named(self, name: str | None) -> ChannelStart | None:
        return next((c for c in self.crawl.channels if c.channel == name), None)

    def closed(self, reason: str) -> None:
        if self._proxy is not None:
            self._closing.add(asyncio.ensure_future(self._proxy.close()))

    def on_error(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        page = request.meta.get("playwright_page")
        if page is not None:
            # a page kept for the challenge must be closed on every path, or the crawl freezes
            self._closing.add(asyncio.ensure_future(page.close()))
        yield from self._fanout_result(request.meta, productive=True)
        kind, message = error_kind(failure)
        if message.startswith(f"{kind}:"):
            message = message[len(kind) + 1 :].strip()
        url = (request.meta.get("redirect_urls") or [request.url])[0]  # the link, not a hop
        yield page_row(self, url, request.meta, None, f"{kind}: {message}"[:500], None)


@dataclass
class _Fanout:
    """Look-alike links of one page: the probes fetched first, the rest held (module docstring
    of :mod:`zwaudit.net.traps`)."""

    id: int
    pattern: str
    found_on: str
    probes: frozenset[str]
    done: int = 0
    pending: list[tuple[str, str, int | None, str, bool, int, str]] = field(default_factory=list)


def _not_a_page(response: Response, content_type: str) -> bool:
    """A response that is no page to read (PDF, octet-stream, an image), by its declared type."""
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared:
        readable = ("text/", "html", "json", "xml", "javascript")
        return not any(part in declared for part in readable)
    return not isinstance(response, TextResponse)


def _merge(primary: Guide, secondary: Guide | None) -> Guide:
    """JSON fields first (exact), the rendered DOM fills what the JSON lacks."""
    if secondary is None:
        return primary
    merged = dict(secondary.fields)
    merged.update({k: v for k, v in primary.fields.items() if v not in (None, "", [])})
    return Guide(merged)


def _settle(clicks: ClickDiscovery) -> list[Any]:
    from scrapy_playwright.page import PageMethod

    return [
        PageMethod("wait_for_load_state", "networkidle"),
        PageMethod(
            discover, max_clicks=clicks.max_clicks, budget_s=clicks.budget_s, never_click=clicks.never_click
        ),
    ]


def _clicked(meta: dict[str, Any]) -> dict[str, Any] | None:
    """What :func:`crawler.clicks.discover` saw on a rendered page: its HTML as loaded and the
    addresses of its script-bound controls (None when it did not run)."""
    for method in meta.get("playwright_page_methods") or ():
        result = getattr(method, "result", None)
        if getattr(method, "method", None) is discover and isinstance(result, dict):
            return result
    return None
