"""Size caps on what a page makes the browser take in (issue 16: floods seen by the probes).

Two bounds, from ``settings.browser`` (configurable):

- ``max_response_mib``: any one response of the page (its document, an XHR, a script), counted as
  Chromium decodes it (``Network.dataReceived``: a gzip bomb counts inflated, a streamed page as
  it streams); past the cap the page stops loading and the navigation is ``too_large``. A
  ``Content-Length`` already past the cap is refused on the headers.
- ``max_dom_nodes``: elements in the loaded document; past the cap the page is abandoned as
  ``too_large`` (a page of tens of thousands of links, a DOM that grows for ever).

The watch is a CDP session on the page (Chromium only, as the auditor's browser is), opened for
one navigation by :func:`probes.common.navigation.goto` and detached after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from probes.common.errors import ProbeError
from zwaudit.outcomes import ErrorKind

if TYPE_CHECKING:
    from playwright.async_api import CDPSession, Page

MIB = 1024 * 1024
CDP_TIMEOUT_S = 3.0
#: how long leaving a page waits for its watch to detach; a page stuck in a script may not let it
#: (seen: the whole CDP_TIMEOUT_S on every runaway page), so the detach then finishes unawaited
DETACH_WAIT_S = 0.5
_DETACHING: set[asyncio.Future[None]] = set()  # detaches left to finish (kept from the collector)
_COUNT_NODES_JS = "document.getElementsByTagName('*').length"


@dataclass(frozen=True)
class Caps:
    """The bounds of one page (``None``: unbounded)."""

    max_response_bytes: int | None = 20 * MIB
    max_dom_nodes: int | None = 150_000

    @classmethod
    def of(cls, max_response_mib: float | None, max_dom_nodes: int | None) -> Caps:
        return cls(int(max_response_mib * MIB) if max_response_mib else None, max_dom_nodes or None)


class ResponseWatch:
    """Bytes received per response of one page while a navigation runs; ``over`` is set when one
    passes the cap (and the page is stopped)."""

    def __init__(self, page: Page, caps: Caps) -> None:
        self.page = page
        self.caps = caps
        self.over = asyncio.Event()
        self.reason = ""
        self._received: dict[str, int] = {}
        self._urls: dict[str, str] = {}
        self._cdp: CDPSession | None = None
        self._stopping: asyncio.Future[None] | None = None

    async def __aenter__(self) -> ResponseWatch:
        if self.caps.max_response_bytes is None:
            return self
        try:
            self._cdp = await self.page.context.new_cdp_session(self.page)
            self._cdp.on("Network.responseReceived", self._on_response)
            self._cdp.on("Network.dataReceived", self._on_data)
            await asyncio.wait_for(self._cdp.send("Network.enable"), CDP_TIMEOUT_S)
        except Exception:  # not Chromium, or the page is gone: unwatched (the timeouts still hold)
            self._cdp = None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stopping is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stopping, CDP_TIMEOUT_S)
        if self._cdp is not None:
            cdp, self._cdp = self._cdp, None
            detach = asyncio.ensure_future(cdp.detach())
            await asyncio.wait({detach}, timeout=DETACH_WAIT_S)
            if not detach.done():  # a page stuck in a script: closing the page ends it anyway
                _DETACHING.add(detach)
            detach.add_done_callback(_forget)

    def _trip(self, request_id: str, size: int, how: str) -> None:
        if self.over.is_set():
            return
        cap = self.caps.max_response_bytes or 0
        url = self._urls.get(request_id, "a response")[:300]
        self.reason = f"{url}: {how} {size / MIB:.1f} MiB, past the cap of {cap / MIB:.0f} MiB"
        self.over.set()
        if self._cdp is not None:
            self._stopping = asyncio.ensure_future(_stop(self._cdp))

    def _on_response(self, params: dict[str, Any]) -> None:
        request_id = str(params.get("requestId", ""))
        response = params.get("response") or {}
        self._urls[request_id] = str(response.get("url", ""))
        headers = {str(k).lower(): v for k, v in (response.get("headers") or {}).items()}
        with contextlib.suppress(TypeError, ValueError):
            length = int(str(headers.get("content-length", "")).split(",")[0])
            if self.caps.max_response_bytes is not None and length > self.caps.max_response_bytes:
                self._trip(request_id, length, "Content-Length")

    def _on_data(self, params: dict[str, Any]) -> None:
        request_id = str(params.get("requestId", ""))
        total = self._received.get(request_id, 0) + int(params.get("dataLength", 0) or 0)
        self._received[request_id] = total
        if self.caps.max_response_bytes is not None and total > self.caps.max_response_bytes:
            self._trip(request_id, total, "received")


def _forget(detach: asyncio.Future[None]) -> None:
    """A detach ended: drop it, and its error (the page or browser may be gone by then)."""
    _DETACHING.discard(detach)
    if not detach.cancelled():
        detach.exception()


async def _stop(cdp: CDPSession) -> None:
    with contextlib.suppress(Exception):
        await cdp.send("Page.stopLoading")


async def check_dom(page: Page, caps: Caps, url: str = "") -> None:
    """Raise ``too_large`` when the page's document holds more elements than the cap."""
    if caps.max_dom_nodes is None:
        return
    try:
        nodes = int(await page.evaluate(_COUNT_NODES_JS))
    except Exception:  # navigated away or busy: nothing to count
        return
    if nodes > caps.max_dom_nodes:
        with contextlib.suppress(Exception):
            await page.evaluate("window.stop()")
        where = f" at {url[:300]}" if url else ""
        raise ProbeError(
            ErrorKind.TOO_LARGE,
            f"the page{where} holds {nodes} elements, past the cap of {caps.max_dom_nodes}",
        )
