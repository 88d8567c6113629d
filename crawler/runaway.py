"""The bound on one rendered page of the crawl (``settings.yaml`` ``network.page_timeout_s``).

Scrapy's ``DOWNLOAD_TIMEOUT`` is enforced by its own HTTP handler, not by the downloader, so a
download through scrapy-playwright has no bound of its own: each Playwright call it makes has a
timeout or none (``page.content()`` and ``page.evaluate()`` wait for a page whose script never
yields; a page slot waited for is waited for without end), and a download that never ends holds
its crawl open for good: ``CLOSESPIDER_TIMEOUT`` closes the spider only once its downloads end,
so not even the crawl deadline stops it. :func:`within_page_timeout` gives the whole rendered
download (the tab, the navigation, the page methods, the reading) ``page_timeout_s``; past it
the download is cancelled and fails as Scrapy's :class:`DownloadTimeoutError` (retried as a
timeout is, then recorded as the page's ``timeout`` error), and the log says what it was
waiting on, the one clue an operator has to a hang.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from scrapy.exceptions import DownloadTimeoutError

if TYPE_CHECKING:
    from scrapy import Request

log = logging.getLogger(__name__)

T = TypeVar("T")
CANCEL_WAIT_S = 5.0  # a cancelled download that does not end within this is left to end alone
_ABANDONED: set[asyncio.Future[Any]] = set()  # kept from the collector until they end


async def within_page_timeout(work: Coroutine[Any, Any, T], request: Request, timeout_s: float) -> T:
    """``work``'s result, or :class:`DownloadTimeoutError` once it has run ``timeout_s``.

    The caller's ``finally`` runs only after the work was cancelled (or given
    ``CANCEL_WAIT_S`` to end), so it never closes a tab the work still uses.
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:  # the engine gave up on the download: so does its work
        task.cancel()
        raise
    if task in done:
        return task.result()
    where = " -> ".join(awaiting(task)) or "unknown"
    task.cancel()
    await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
    if not task.done():
        _ABANDONED.add(task)
        task.add_done_callback(_ABANDONED.discard)
    elif not task.cancelled() and task.exception() is not None:
        log.debug("the abandoned rendering of %s ended with %r", request.url, task.exception())
    log.warning(
        "rendering %s took longer than network.page_timeout_s=%.0f s: abandoned while waiting in %s",
        request.url,
        timeout_s,
        where,
    )
    raise DownloadTimeoutError(f"rendering {request.url} took longer than {timeout_s:.0f} s")


def awaiting(task: asyncio.Future[Any]) -> list[str]:
    """The chain of coroutines ``task`` is suspended in, innermost last (``Task.get_stack`` gives
    only the outermost frame of a suspended coroutine)."""
    chain: list[str] = []
    get_coro = getattr(task, "get_coro", None)
    current: Any = get_coro() if get_coro is not None else None
    while current is not None and len(chain) < 40:
        frame = getattr(current, "cr_frame", None) or getattr(current, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            chain.append(f"{code.co_qualname} ({code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno})")
        nxt = getattr(current, "cr_await", None) or getattr(current, "gi_yieldfrom", None)
        if nxt is None and frame is None:
            name = type(current).__name__  # where it ends: an awaited Future (its iterator)
            chain.append("Future" if name == "FutureIter" else name)
        current = nxt
    return chain
