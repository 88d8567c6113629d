"""The rows the spider yields, shaped as the storage functions take them.

An item's key is its 实施编码 when the page shows one, else its normalised name, so the same item
seen twice (a resumed crawl, a page and its JSON) is one row.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import error as tx_error
from twisted.python.failure import Failure

from crawler.extract import Guide
from crawler.labels import fold
from crawler.resolver import refusal_for
from zwaudit.findings import utcnow
from zwaudit.outcomes import ErrorKind

if TYPE_CHECKING:
    from crawler.config import ChannelStart

_NAME_JUNK = re.compile(r"[\s\u3000]+")


def name_key(name: str) -> str:
    """The comparable form of an item name: NFKC, no spaces."""
    return _NAME_JUNK.sub("", fold(name))


def page_row(
    spider: Any,
    url: str,
    meta: dict[str, Any],
    status: int | None,
    error: str | None,
    content_type: str | None,
) -> dict[str, Any]:
    return {
        "kind": "page",
        "row": {
            "run_id": spider.run_id,
            "portal_id": spider.crawl.portal_id,
            "channel": meta.get("channel") or "external",
            "url": url,
            "status_code": status,
            "error": error,
            "depth": meta.get("clicks"),
            "referrer": meta.get("found_on"),
            "content_type": content_type,
            "fetched_at": utcnow(),
        },
    }


def item_row(spider: Any, channel: ChannelStart, guide: Guide, url: str) -> dict[str, Any] | None:
    name = guide.name
    code = guide.code
    if not name and not code:
        return None
    department = guide.department or channel.department
    return {
        "kind": "item",
        "row": {
            "run_id": spider.run_id,
            "portal_id": spider.crawl.portal_id,
            "channel": channel.channel,
            "item_key": (code or name_key(name))[:300],
            "code": code,
            "name": name or code,
            "department": department,
            "fields": guide.fields,
            "source_url": url,
            "fetched_at": utcnow(),
        },
    }


def error_kind(failure: Failure) -> tuple[str, str]:
    """Classify a download failure once, into the closed :class:`ErrorKind` vocabulary.

    A timeout is ``timeout`` and a connection broken mid-body ``network`` (never ``internal``); a
    body past ``DOWNLOAD_MAXSIZE`` (also while decompressing) ``too_large``; the crawler's own
    refusals carry their kind as the first word of their message (``egress_refused: …``).
    """
    exc = failure.value
    message = str(exc) or type(exc).__name__
    lowered = message.lower()
    if isinstance(exc, IgnoreRequest):
        head = message.split(":", 1)[0]
        if head in (ErrorKind.EGRESS_REFUSED.value, ErrorKind.REDIRECT_LOOP.value):
            return head, message
        if "robots" in lowered:
            return "robots_disallowed", message
        if "download_maxsize" in lowered:
            return ErrorKind.TOO_LARGE.value, message
        if "max redirections" in lowered:
            return ErrorKind.REDIRECT_LOOP.value, message
        return ErrorKind.BLOCKED.value, message
    if isinstance(exc, DownloadTimeoutError | tx_error.TimeoutError | tx_error.TCPTimedOutError):
        return ErrorKind.TIMEOUT.value, message
    if isinstance(exc, DownloadCancelledError):
        # Scrapy cancels a download whose body passes DOWNLOAD_MAXSIZE (timeouts are their own)
        return ErrorKind.TOO_LARGE.value, (
            message if message != type(exc).__name__ else "the body passed the download size cap"
        )
    if isinstance(exc, CannotResolveHostError | tx_error.DNSLookupError):
        request = getattr(failure, "request", None)
        refused = refusal_for(urlparse_cached(request).hostname) if request is not None else None
        if refused is not None or message.startswith(f"{ErrorKind.EGRESS_REFUSED.value}:"):
            # the resolver refused the address the connection would have used (DNS rebinding)
            return ErrorKind.EGRESS_REFUSED.value, f"{ErrorKind.EGRESS_REFUSED.value}: {refused or message}"
        return ErrorKind.DNS.value, message
    if isinstance(
        exc, DownloadConnectionRefusedError | tx_error.ConnectionRefusedError | tx_error.ConnectError
    ):
        return ErrorKind.CONNECTION.value, message
    name = type(exc).__name__.lower()
    if "ssl" in name or "tls" in lowered or "certificate" in lowered or "handshake" in lowered:
        return ErrorKind.TLS.value, message
    if isinstance(exc, ResponseDataLossError | DownloadFailedError | tx_error.ConnectionLost):
        return ErrorKind.NETWORK.value, message
    if "timeout" in lowered or "took longer than" in lowered:
        return ErrorKind.TIMEOUT.value, message
    if "connection" in name or "connection" in lowered or "refused" in lowered:
        return ErrorKind.CONNECTION.value, message
    return ErrorKind.INTERNAL.value, message
