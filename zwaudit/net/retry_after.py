"""``Retry-After``: the one parser (delta-seconds *and* HTTP dates) and the one cap.

A server that answers 429 or 503 with ``Retry-After`` tells a polite client when to come back. The
crawler and the probes both wait that long — up to a configured cap — and then ask again; a wait
past the cap, or too many attempts, is an ``error``/``rate_limited``, never a verdict on the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RATE_LIMIT_STATUSES = frozenset({429, 503})


def parse_retry_after(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value (``120`` or ``Wed, 21 Oct 2026 07:28:00 GMT``).

    ``None`` when absent or unreadable; a date in the past is ``0.0``. ``now`` is for tests.
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less date is malformed
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class Patience:
    """How long zwaudit waits for a host that asks it to (settings ``network``)."""

    max_wait_s: float = 120.0  # a longer Retry-After is not waited: rate_limited
    attempts: int = 4  # at most this many waits for one URL
    backoff_s: float = 1.0  # a 429/503 without Retry-After waits backoff · 2^attempt

    def wait_for(self, header: bytes | str | None, attempt: int, *, backoff: bool = True) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up (rate_limited).

        For a response whose status is in :data:`RATE_LIMIT_STATUSES` (the caller checks). Without
        a readable ``Retry-After`` the wait is an exponential backoff, or ``None`` when ``backoff``
        is off (the browser reports a bare 503 at once, as a person would see it).
        """
        if attempt >= self.attempts:
            return None
        asked = parse_retry_after(header)
        if asked is None and not backoff:
            return None
        wait = asked if asked is not None else self.backoff_s * (2**attempt)
        return wait if wait <= self.max_wait_s else None
