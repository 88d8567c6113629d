"""The rows the spider yields, shaped as the storage functions take them.

An item's key is its 实施编码 when the page shows one, else its normalised name, so the same item
seen twice (a resumed crawl, a page and its JSON) is one row.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from twisted.internet import error as tx_error
from twisted.python.failure import Failure

from crawler.extract import Guide
from crawler.labels import fold
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
    """Classify a download failure once, into the closed :class:`ErrorKind` vocabulary."""
    exc = failure.value
    message = str(exc) or type(exc).__name__
    if isinstance(exc, IgnoreRequest):
        if "robots" in message.lower():
            return "robots_disallowed", message
        return ErrorKind.BLOCKED.value, message
    if isinstance(exc, tx_error.DNSLookupError):
        return ErrorKind.DNS.value, message
    if isinstance(exc, tx_error.TimeoutError | tx_error.TCPTimedOutError) or "timeout" in message.lower():
        return ErrorKind.TIMEOUT.value, message
    if isinstance(exc, tx_error.ConnectionRefusedError | tx_error.ConnectError | tx_error.ConnectionLost):
        return ErrorKind.CONNECTION.value, message
    name = type(exc).__name__.lower()
    if "ssl" in name or "tls" in message.lower() or "certificate" in message.lower():
        return ErrorKind.TLS.value, message
    if "connection" in name or "connection" in message.lower() or "refused" in message.lower():
        return ErrorKind.CONNECTION.value, message
    return ErrorKind.INTERNAL.value, message
