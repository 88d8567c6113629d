"""The egress policy: where a portal's pages may send zwaudit, and where they may not.

A portal's pages decide where zwaudit goes next, so a hostile page could point the crawler or a
probe at the auditor's own network: cloud metadata (169.254.169.254), private ranges, the database
on 127.0.0.1:5432. Two rules, applied by the crawler (a downloader middleware, redirects included)
and by the probes (a browser route) alike:

1. **Scope** — fetch only hosts that belong to the audited portal: the profile's own origins (home,
   departments, mobile, catalogue and start URLs), hosts under the same registrable domain as one
   of them (``tysfrz.sczwfw.gov.cn`` beside ``www.sczwfw.gov.cn``), hosts a redirect from an
   in-scope page led to (the unified-login host), and the profile's ``egress.allow`` entries.
2. **Address** — never a private, loopback, link-local, shared, multicast or otherwise reserved
   address (every address a name resolves to is checked), unless the exact origin (host and port)
   is one of the profile's own or listed in ``egress.allow``: the sandbox lives on 127.0.0.1, so
   its ports are allowed while 127.0.0.1:5432 is not.

A refused destination is recorded (``egress_refused: …``) and never fetched. The name is resolved
again by the client that connects, so a name that changes its answer in between (DNS rebinding) is
not covered here; names of the audited portal are the only ones in scope.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from zwaudit.config.schema import PortalProfile

# second-level labels under which the registrable domain has three labels (gov.cn, com.cn …)
_GENERIC_SLD = frozenset({"gov", "com", "net", "org", "edu", "ac", "mil", "co"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})
_CACHE_LIMIT = 4096

Origin = tuple[str, int]  # (host, port)


class EgressRefused(Exception):
    """Raised by HTTP clients' hooks for a refused destination (error kind ``egress_refused``)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"egress_refused: {url[:300]}: {reason}")
        self.url = url
        self.reason = reason


def origin_of(url: str) -> Origin | None:
    """``(host, port)`` of an http(s) URL (default port filled in), else ``None``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return host, port or _DEFAULT_PORTS[scheme]


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def registrable_domain(host: str) -> str:
    """The domain a site's hosts share (``sczwfw.gov.cn`` for ``www.sczwfw.gov.cn``); IPs as is.

    A small rule instead of the public-suffix list: two labels, or three under a generic
    second-level label of a country (``gov.cn``, ``com.cn`` …). ``egress.allow`` covers the rest.
    """
    if _ip(host) is not None:
        return host
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SLD:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


_PROBLEMS = ("loopback", "link-local", "multicast", "unspecified", "private", "reserved")
_ADDRESS_REFUSAL = re.compile(rf"\ba ({'|'.join(_PROBLEMS)}) address\b")


def is_address_refusal(reason: str) -> bool:
    """Whether a refusal (``egress_refused: …`` message or reason) is the *address* rule's: a
    destination inside the auditor's own network (loopback, private, link-local …, by its
    address or the address its name resolved to), as opposed to a host outside the portal."""
    return _ADDRESS_REFUSAL.search(reason) is not None


def address_problem(address: str) -> str | None:
    """Why ``address`` may not be contacted (``loopback`` …), or ``None`` for a public address."""
    ip = _ip(address)
    if ip is None:
        return None
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


@dataclass
class EgressPolicy:
    """The policy of one portal. ``check``/``check_async`` give the refusal reason or ``None``."""

    own_origins: frozenset[Origin]
    domains: frozenset[str]  # a host equal to one of these, or under it, is in scope
    learned_hosts: set[str] = field(default_factory=set)  # reached by redirects from in-scope pages
    _resolved: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, own_urls: Iterable[str], allow: Iterable[str] = ()) -> EgressPolicy:
        """``own_urls``: the profile's URLs; ``allow``: domains (``gov.cn``) or origins (URLs)."""
        origins: set[Origin] = set()
        domains: set[str] = set()
        for url in own_urls:
            origin = origin_of(url)
            if origin is not None:
                origins.add(origin)
                domains.add(origin[0] if _ip(origin[0]) else registrable_domain(origin[0]))
        for entry in allow:
            entry = entry.strip()
            if "://" in entry:
                origin = origin_of(entry)
                if origin is not None:
                    origins.add(origin)
                    domains.add(origin[0])
            elif entry:
                domains.add(entry.lower().removeprefix("*.").strip("."))
        return cls(frozenset(origins), frozenset(domains))

    # --- scope --------------------------------------------------------------------------------

    def in_scope(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if host in self.learned_hosts:
            return True
        if _ip(host) is not None:  # an address is in scope only as one of the listed origins
            return any(host == h for h, _ in self.own_origins)
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def learn_redirect(self, from_url: str, to_url: str) -> None:
        """A redirect from an in-scope page brings its target host into scope (the address rule
        still applies): this is how the unified-login host of a portal is reached."""
        source, target = origin_of(from_url), origin_of(to_url)
        if source is None or target is None or _ip(target[0]) is not None:
            return
        if self.in_scope(source[0]):
            self.learned_hosts.add(target[0])

    # --- the decision -------------------------------------------------------------------------

    def precheck(self, url: str, *, scope: bool = True) -> tuple[str | None, Origin | None]:
        """The decision without DNS: ``(reason, None)`` refused, ``(None, None)`` allowed outright,
        ``(None, origin)`` allowed if the host's addresses pass :func:`address_problem`.

        ``scope=False`` applies the address rule only (a page's scripts, styles and XHRs: what a
        citizen's browser loads from CDNs is not a place zwaudit *goes*, but it never reaches
        the auditor's own network)."""
        scheme = url.split(":", 1)[0].lower()
        if scheme not in _NETWORK_SCHEMES:
            if scheme in ("data", "blob", "about", "javascript"):
                return None, None  # not a network fetch
            return f"scheme {scheme!r} is not fetched", None
        origin = origin_of(url)
        if origin is None:
            return f"unreadable URL {url[:200]!r}", None
        if origin in self.own_origins:
            return None, None
        host, port = origin
        problem = address_problem(host)  # before scope: a link into our own network says so
        if problem is not None:
            return f"{host}:{port} is a {problem} address, not one of the profile's own origins", None
        if scope and not self.in_scope(host):
            return f"{host} is not a host of this portal (profile egress.allow adds one)", None
        if _ip(host) is not None:
            return None, None
        return None, origin

    def check(self, url: str, *, scope: bool = True) -> str | None:
        """Refusal reason or ``None``; resolves names synchronously (tests, threads)."""
        reason, origin = self.precheck(url, scope=scope)
        if reason is not None or origin is None:
            return reason
        if origin[0] not in self._resolved:
            self._remember(origin[0], _resolve(origin[0], origin[1]))
        return self._address_reason(origin)

    async def check_async(self, url: str, *, scope: bool = True) -> str | None:
        """Refusal reason or ``None``; resolves names on the running event loop."""
        reason, origin = self.precheck(url, scope=scope)
        if reason is not None or origin is None:
            return reason
        if origin[0] not in self._resolved:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(origin[0], origin[1], type=socket.SOCK_STREAM)
                addresses = tuple(sorted({str(info[4][0]) for info in infos}))
            except OSError:
                addresses = ()
            self._remember(origin[0], addresses)
        return self._address_reason(origin)

    def _remember(self, host: str, addresses: tuple[str, ...]) -> None:
        if len(self._resolved) > _CACHE_LIMIT:
            self._resolved.clear()
        self._resolved[host] = addresses

    def _address_reason(self, origin: Origin) -> str | None:
        # a name that does not resolve is left to the client: its failure is a ``dns`` error
        for address in self._resolved.get(origin[0], ()):
            problem = address_problem(address)
            if problem is not None:
                return f"{origin[0]} resolves to {address}, a {problem} address"
        return None


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return ()
    return tuple(sorted({str(info[4][0]) for info in infos}))


def profile_urls(profile: PortalProfile) -> list[str]:
    """The URLs a profile names: its own origins."""
    urls = [str(profile.home_url), *(str(u) for u in profile.crawl.start_urls)]
    if profile.crawl.catalogue_url:
        urls.append(str(profile.crawl.catalogue_url))
    for dept in profile.departments:
        urls.append(str(dept.url))
        if dept.catalogue_url:
            urls.append(str(dept.catalogue_url))
    if profile.mobile is not None:
        urls.append(str(profile.mobile.url))
        if profile.mobile.catalogue_url:
            urls.append(str(profile.mobile.catalogue_url))
    for options in profile.probes.values():  # e.g. probes.auth_https.login_url
        urls.extend(v for v in options.values() if isinstance(v, str) and "://" in v)
    return urls


def policy_for(profile: PortalProfile) -> EgressPolicy:
    """The egress policy of one portal (a fresh one per crawl or browser context)."""
    return EgressPolicy.build(profile_urls(profile), profile.egress.allow)
