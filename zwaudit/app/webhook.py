"""The optional webhook (``settings.webhook_url``): a JSON summary of regressions after a
nightly run, for a chat bot or a ticket system.

A webhook is a courtesy, not part of the audit: a failing or slow receiver is logged and never
fails the run (a short timeout, no retries that would hold the nightly lock).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0


def post_summary(
    url: str, payload: dict[str, Any], *, user_agent: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> bool:
    """POST ``payload`` as JSON; ``True`` on a 2xx answer, ``False`` (logged) otherwise."""
    try:
        response = httpx.post(
            url,
            json=payload,
            timeout=timeout_s,
            headers={"User-Agent": user_agent},
            follow_redirects=False,
        )
    except Exception as exc:  # a courtesy call: whatever goes wrong is logged, never raised
        log.warning("webhook %s failed: %s", url, exc.__class__.__name__ + (f": {exc}" if str(exc) else ""))
        return False
    if not response.is_success:
        log.warning("webhook %s answered HTTP %d", url, response.status_code)
        return False
    log.info("webhook %s: delivered (%d)", url, response.status_code)
    return True
