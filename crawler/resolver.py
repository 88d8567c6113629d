"""The crawler's DNS resolver: the egress policy applied to the address a download connects to.

:class:`crawler.network.EgressMiddleware` checks a URL's host before the request is sent, resolving
it itself; a name whose answer changes between that check and the connection (DNS rebinding: a
public address first, then 127.0.0.1 or 169.254.169.254) would slip through. Scrapy connects to
whatever its resolver (``TWISTED_DNS_RESOLVER``) answers, so this resolver checks that answer — the very
address used — against the policies of the portals crawled in this process: an address that is
loopback, private, link-local … is refused unless the name is one of a profile's own hosts (the
sandbox, an intranet deployment). A refused name fails to resolve (no connection is made) and its
reason is kept, so the download's error is recorded ``egress_refused``
(:func:`crawler.rows.error_kind`), not ``dns``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from zwaudit.net.egress import EgressPolicy, address_problem

REFUSED: dict[str, str] = {}  # name -> why its resolved address was refused (bounded)
_REFUSED_LIMIT = 1000


def connect_refusal(name: str, address: str, policies: Sequence[EgressPolicy]) -> str | None:
    """Why a connection to ``address`` (what ``name`` resolved to) is refused, or ``None``."""
    if not policies:
        return None
    problem = address_problem(address)
    if problem is None:
        return None
    host = name.lower().rstrip(".")
    if any(host == own for policy in policies for own, _ in policy.own_origins):
        return None  # the profile's own host lives there
    return f"{name} resolved to {address} at connection time, a {problem} address"


def refusal_for(host: str | None) -> str | None:
    """The refusal recorded for ``host`` by the resolver, if any."""
    return REFUSED.get((host or "").lower().rstrip(".")) if host else None


class EgressResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, whose every answer (cached ones included) passes the policy."""

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        return super().getHostByName(name, timeout).addCallback(self._checked, name)

    def _checked(self, address: Any, name: str) -> Any:
        from crawler.network import registered_policies

        reason = connect_refusal(name, str(address), registered_policies())
        if reason is None:
            return address
        if len(REFUSED) > _REFUSED_LIMIT:
            REFUSED.clear()
        REFUSED[name.lower().rstrip(".")] = reason
        raise DNSLookupError(f"egress_refused: {reason}")
