"""The crawler's side of :mod:`zwaudit.net`: egress, redirects, robots.txt ``Crawl-delay``.

- :class:`EgressMiddleware` (before robots.txt, so a refused host is not even asked for its
  robots.txt) refuses what the portal's :class:`~zwaudit.net.egress.EgressPolicy` refuses; the
  request's errback records ``egress_refused: …`` and nothing is fetched.
- :class:`RedirectGuardMiddleware` sees a 3xx before Scrapy's redirect middleware does: a loop,
  or a chain past ``network.max_redirects``, is ``redirect_loop``; a ``Location`` the policy
  refuses is ``egress_refused`` (the redirect is never followed); a redirect from an in-scope page
  brings its target host into scope (the unified-login host).
- :class:`TlsVerifyMiddleware` verifies the certificate of each https host once (Scrapy does not)
  and marks the responses of a host whose certificate does not verify (``tls`` errors).
- :class:`PoliteRobotsMiddleware` is Scrapy's robots.txt middleware plus ``Crawl-delay``: Scrapy
  parses it but never applies it, so the host's download slot gets that delay (no jitter, and
  AutoThrottle may not shorten it), and every request to the host claims it on the clock the
  audit's browser checks share (:func:`pace_shared`, :mod:`zwaudit.net.pacing`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urljoin

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached

from zwaudit.net.egress import EgressPolicy, origin_of
from zwaudit.net.pacing import SharedPacer, host_key
from zwaudit.net.robots import crawl_delay_for
from zwaudit.net.tls import certificate_problem
from zwaudit.net.traps import canonical_url

log = logging.getLogger(__name__)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_POLICIES: list[EgressPolicy] = []  # every portal crawled in this process (the browser's check)
_CRAWL_DELAYS: dict[str, float] = {}  # host:port → the Crawl-delay its robots.txt asked for
_SHARED_PACER: SharedPacer | None = None


class EgressRefused(IgnoreRequest):
    """The egress policy refused a destination; its message starts with ``egress_refused:``."""


class RedirectLoop(IgnoreRequest):
    """A redirect loop or too long a chain; its message starts with ``redirect_loop:``."""


def _policy(crawler: Crawler) -> EgressPolicy | None:
    spider = crawler.spider
    policy = getattr(spider, "egress", None)
    return policy if isinstance(policy, EgressPolicy) else None


def register_policy(policy: EgressPolicy) -> None:
    """Make ``policy`` known to the rendering browser's request filter (:func:`browser_allows`)."""
    _POLICIES.append(policy)


def registered_policies() -> list[EgressPolicy]:
    """The egress policies of the portals crawled in this process (:mod:`crawler.resolver`)."""
    return list(_POLICIES)


async def browser_allows(url: str) -> bool:
    """Whether a rendered page may load ``url`` (address rule of any portal of this process)."""
    if not _POLICIES:
        return True
    for policy in _POLICIES:
        if await policy.check_async(url, scope=False) is None:
            return True
    return False


def crawl_delay_of(url: str) -> float | None:
    """The ``Crawl-delay`` (as applied) of ``url``'s host, once its robots.txt has been read."""
    return _CRAWL_DELAYS.get(host_key(url))


async def pace_shared(url: str) -> float:
    """Wait for ``url``'s turn on the host's shared clock (:mod:`zwaudit.net.pacing`) when its
    robots.txt asks for a ``Crawl-delay`` (known here, or to another process of the audit): the
    browser checks of the same audit claim the host on that clock too. Called just before a
    request leaves (plain requests by the download handler, a rendered page's navigations and
    XHRs by its request filter); :func:`answered` frees the host. Returns the seconds waited."""
    # before its robots.txt is read (the robots.txt request itself), the gap another process of
    # the audit learnt for the host still holds (SharedPacer.claim)
    return await _shared_pacer().wait(url, crawl_delay_of(url) or 0.0)


def answered(url: str) -> None:
    """A page request to ``url``'s host was answered (or failed): the shared clock frees the host
    and counts the gap from now."""
    _shared_pacer().answered(url)


def _shared_pacer() -> SharedPacer:
    global _SHARED_PACER
    if _SHARED_PACER is None:
        _SHARED_PACER = SharedPacer()
    return _SHARED_PACER


class EgressMiddleware:
    """Refuse, before anything is sent, what the portal's egress policy refuses."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EgressMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        policy = _policy(self.crawler)
        if policy is None:
            return None
        reason = await policy.check_async(request.url)
        if reason is not None:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("egress/refused")
            log.info("egress refused: %s (%s)", request.url, reason)
            raise EgressRefused(f"egress_refused: {reason}")
        return None


class RedirectGuardMiddleware:
    """Loops, over-long chains and refused destinations of redirects, before they are followed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_redirects = crawler.settings.getint("ZWAUDIT_MAX_REDIRECTS", 10)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectGuardMiddleware:
        return cls(crawler)

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Any:
        if response.status not in REDIRECT_STATUSES or request.meta.get("dont_redirect"):
            return response
        location = response.headers.get(b"Location")
        if not location:
            return response
        target = urljoin(request.url, location.decode("latin-1").strip())
        chain = [*request.meta.get("redirect_urls", []), request.url]
        seen = {canonical_url(u) for u in chain}
        if canonical_url(target) in seen:
            raise RedirectLoop(f"redirect_loop: {request.url} redirects back to {target}")
        if len(chain) > self.max_redirects:
            raise RedirectLoop(f"redirect_loop: more than {self.max_redirects} redirects from {chain[0]}")
        policy = _policy(self.crawler)
        if policy is not None:
            policy.learn_redirect(request.url, target)
            reason = await policy.check_async(target)
            if reason is not None:
                if self.crawler.stats is not None:
                    self.crawler.stats.inc_value("egress/refused")
                raise EgressRefused(f"egress_refused: redirect to {target[:300]}: {reason}")
        return response


class TlsVerifyMiddleware:
    """The certificate of every https host the crawl reads, verified once per ``host:port``.

    Scrapy's TLS context does not verify certificates (and must not: a portal behind a bad
    certificate is still read, as a person who clicks through the warning reads it), so a link to
    a host with an unknown CA, an expired certificate or another name answered 200 and looked
    healthy. The verdict of :func:`zwaudit.net.tls.certificate_problem` (the profile's
    ``ca_bundle``, else the system store) goes into ``meta["tls_fault"]``, kept across redirects
    (a bad hop is a bad link); the spider records it as the page's ``tls: …`` error.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.timeout = min(15.0, crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 15.0))
        self.verdicts: dict[tuple[str, int], asyncio.Future[str | None]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TlsVerifyMiddleware:
        return cls(crawler)

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        origin = origin_of(response.url)
        if origin is None or not response.url.lower().startswith("https:"):
            return response
        verdict = self.verdicts.get(origin)
        if verdict is None:
            verdict = asyncio.ensure_future(self._verify(response.url))
            self.verdicts[origin] = verdict
        problem = await asyncio.shield(verdict)
        if problem is not None:
            request.meta["tls_fault"] = problem
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("tls/invalid_certificate")
        return response

    async def _verify(self, url: str) -> str | None:
        policy = _policy(self.crawler)
        if policy is not None and await policy.check_async(url) is not None:
            return None  # never contacted (the fetch is refused on its own)
        spider = self.crawler.spider
        crawl = getattr(spider, "crawl", None)
        profile = getattr(crawl, "profile", None)
        ca_bundle = getattr(profile, "ca_bundle", None)
        problem = await asyncio.to_thread(certificate_problem, url, ca_bundle, timeout=self.timeout)
        if problem is not None:
            log.info("certificate of %s does not verify: %s", url, problem)
        return problem


class PoliteRobotsMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with ``Crawl-delay`` applied to the host's download slot."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.configured_delay = crawler.settings.getfloat("DOWNLOAD_DELAY")
        self.delays: dict[str, float] = {}  # download slot → the delay robots.txt asked for

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        # a slot keeps the Crawl-delay a robots.txt asked for against every request it carries:
        # the robots.txt request itself, hosts without a Crawl-delay sharing the slot (one address,
        # several ports) — AutoThrottle would otherwise shorten the slot's delay on their answers
        key = request.meta.get("download_slot") or urlparse_cached(request).hostname or ""
        delay = self.delays.get(key)
        if delay is not None:
            request.meta["autothrottle_dont_adjust_delay"] = True
            engine = self.crawler.engine
            slot = engine.downloader.slots.get(key) if engine is not None else None
            if slot is not None and slot.delay < delay:
                slot.delay = delay
                slot.jitter = 0.0
        await super().process_request(request)

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        super().process_request_2(rp, request)
        if rp is None:
            return
        agent = self._robotstxt_useragent or request.headers.get(b"User-Agent", self._default_useragent)
        asked = rp.crawl_delay(agent or "*")
        if asked is None:
            return
        delay = crawl_delay_for(asked, self.configured_delay)
        if host_key(request.url) not in _CRAWL_DELAYS:
            # the shared clock's gap for this host; the robots.txt request just sent counts
            _CRAWL_DELAYS[host_key(request.url)] = delay
            _shared_pacer().sent(request.url, delay)
        request.meta["autothrottle_dont_adjust_delay"] = True  # AutoThrottle may not shorten it
        self._apply(request, delay)

    def _apply(self, request: Request, delay: float) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        downloader = engine.downloader
        key = request.meta.get("download_slot") or urlparse_cached(request).hostname or ""
        delay = max(delay, self.delays.get(key, 0.0))
        if self.delays.get(key) == delay and key in downloader.slots:
            return
        self.delays[key] = delay
        # new slots (also after the slot's idle collection) take these; the live one is updated
        downloader.per_slot_settings[key] = {
            **downloader.per_slot_settings.get(key, {}),
            "delay": delay,
            "jitter": 0.0,
        }
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, delay)
            slot.jitter = 0.0
        log.info("robots.txt of %s asks for Crawl-delay %.1fs: applied", key, delay)
