"""Opening a page the way a person's browser does: through JS challenges and polite about 429s.

A 加速乐-style WAF answers the first visit with an error status and a script that sets a cookie
and reloads; a browser passes after a moment, so an error status is only final once the page has
had time to reload itself. A 429/503 with ``Retry-After`` is waited out (within a bound) and
retried once or twice — that is the polite answer, and only then is the error reported.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from probes.common.errors import check_response

if TYPE_CHECKING:
    from playwright.async_api import Page, Response

Pace = Callable[[str], Awaitable[None]]

CHALLENGE_WAIT_S = 8.0
MAX_RETRY_AFTER_S = 30.0
ATTEMPTS = 3


def retry_after_s(response: Response | None) -> float | None:
    """Seconds the server asked us to wait (delta form only), None when it did not ask."""
    if response is None:
        return None
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


async def goto(page: Page, url: str, pace: Pace | None = None) -> None:
    """Navigate to ``url``; raise a classified :class:`ProbeError` if it stays an error or a block."""
    documents: list[Response] = []

    def on_response(response: Response) -> None:
        if response.request.resource_type == "document" and response.frame == page.main_frame:
            documents.append(response)

    page.on("response", on_response)
    try:
        for attempt in range(ATTEMPTS):
            if pace is not None:
                await pace(url)
            response = await page.goto(url, wait_until="load")
            status = response.status if response is not None else None
            wait = retry_after_s(response) if status in (429, 503) else None
            if wait is not None and wait <= MAX_RETRY_AFTER_S and attempt < ATTEMPTS - 1:
                await asyncio.sleep(wait)
                continue
            if status is not None and status >= 400:
                first = documents.index(response) + 1 if response in documents else 0
                status = await _after_challenge(page, documents, first, status)
            body = ""
            if status is not None and status >= 400:
                with contextlib.suppress(Exception):
                    body = await page.content()
            check_response(status, body, url)
            return
    finally:
        page.remove_listener("response", on_response)


async def _after_challenge(page: Page, documents: list[Response], seen: int, status: int) -> int:
    """Give a challenge page the time to reload itself; the status of the page that stays.

    ``documents[seen:]`` are the main-frame documents that came after the error (the reload may
    already have happened while ``goto`` waited for ``load``).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CHALLENGE_WAIT_S
    while True:
        if len(documents) > seen:
            with contextlib.suppress(Exception):
                await page.wait_for_load_state("load", timeout=CHALLENGE_WAIT_S * 1000)
            latest = documents[-1].status
            if latest < 400:
                return latest
            seen = len(documents)
        if loop.time() >= deadline:
            return status
        await asyncio.sleep(0.25)
