"""Navigation the way a patient person browses: polite, classified, and through JS challenges.

``goto`` waits for the host pacer (politeness), classifies failures into :class:`ProbeError`
(never a verdict), and lets an anti-bot interstitial that answers 4xx/5xx and then reloads
itself with a cookie (the 521 "JS challenge" of Chinese CDNs and WAFs) finish, as a browser
left alone would; only a page that stays an error is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from probes.common.errors import ProbeError, check_response, classify_exception
from zwaudit.checks import CheckContext

if TYPE_CHECKING:
    from playwright.async_api import Page, Response

CHALLENGE_WAIT_S = 10.0


_SIGNATURE_JS = (
    "(document.body ? document.body.innerText.length + ':' + document.body.innerText.slice(0, 300) : '')"
)


def _same_document(current: str, target: str) -> bool:
    a, b = urlsplit(current), urlsplit(target)
    return a[:4] == b[:4] and a.fragment != b.fragment


async def _signature(page: Page) -> str:
    try:
        return str(await page.evaluate(_SIGNATURE_JS))
    except Exception:
        return ""


async def settle(page: Page, ms: int) -> None:
    """Let late XHRs and client-side rendering finish (bounded; a busy page is not an error)."""
    if ms <= 0:
        return
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("networkidle", timeout=ms)


async def goto(page: Page, url: str, ctx: CheckContext, *, settle_ms: int = 0) -> None:
    """Navigate politely; raise :class:`ProbeError` for what stays an error after challenges."""
    pacer_fn = ctx.extra.get("pacer")
    if pacer_fn is not None:
        await pacer_fn().wait(url)
    documents: list[Response] = []

    def on_response(response: Response) -> None:
        if response.request.resource_type == "document" and response.frame == page.main_frame:
            documents.append(response)

    page.on("response", on_response)
    same_document = _same_document(page.url, url)
    before = await _signature(page) if same_document else ""
    try:
        try:
            response = await page.goto(url, wait_until="load")
            if same_document:  # a hash route: the app redraws after the hashchange event
                with contextlib.suppress(Exception):
                    await page.wait_for_function(_SIGNATURE_JS + " !== " + json.dumps(before), timeout=3000)
        except Exception as exc:
            c = classify_exception(exc)
            raise ProbeError(c.kind, f"{url}: {c.message}") from exc
        status = response.status if response is not None else None
        if status is not None and status >= 400:
            deadline = time.monotonic() + CHALLENGE_WAIT_S
            while time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                if documents and documents[-1] is not response:
                    response = documents[-1]
                    status = response.status
                    with contextlib.suppress(Exception):
                        await page.wait_for_load_state("load", timeout=CHALLENGE_WAIT_S * 1000)
                    if status < 400:
                        break
        body = ""
        if status is not None and status >= 400:
            with contextlib.suppress(Exception):
                body = await page.inner_text("body")
        check_response(status, body, url)
    finally:
        page.remove_listener("response", on_response)
    await settle(page, settle_ms)
