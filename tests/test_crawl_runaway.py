"""A rendered page of the crawl is bounded as a whole (:mod:`crawler.runaway`): a download stuck
where Playwright has no timeout ends as a ``timeout``, cancelled, and the log says where it
waited (a real page whose script never yields: test_net_crawl.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from scrapy import Request
from scrapy.exceptions import DownloadTimeoutError
from twisted.python.failure import Failure

from crawler import runaway
from crawler.rows import error_kind
from crawler.runaway import awaiting, within_page_timeout

URL = "http://portal.example/app"


async def _stuck_on_a_page_slot(slot: asyncio.Semaphore, ended: list[str]) -> str:
    try:
        async with slot:  # scrapy-playwright's per-context page limit, never released
            return "read"
    finally:
        ended.append("cancelled")


def test_a_download_that_ends_in_time_is_untouched() -> None:
    async def quick() -> str:
        await asyncio.sleep(0.01)
        return "the page"

    assert asyncio.run(within_page_timeout(quick(), Request(URL), 5)) == "the page"


def test_a_stuck_download_is_cancelled_and_fails_as_a_timeout(caplog: pytest.LogCaptureFixture) -> None:
    ended: list[str] = []

    async def go() -> None:
        slot = asyncio.Semaphore(0)
        await within_page_timeout(_stuck_on_a_page_slot(slot, ended), Request(URL), 0.2)

    with (
        caplog.at_level(logging.WARNING, logger="crawler.runaway"),
        pytest.raises(DownloadTimeoutError) as raised,
    ):
        asyncio.run(go())
    assert ended == ["cancelled"]  # its own cleanup ran before the caller's
    assert str(raised.value) == f"rendering {URL} took longer than 0 s"
    assert error_kind(Failure(raised.value))[0] == "timeout"  # retried, then the page's error
    (record,) = caplog.records
    message = record.getMessage()
    assert URL in message and "network.page_timeout_s" in message
    # where it waited, outermost first: the operator's one clue to a hang
    assert "_stuck_on_a_page_slot" in message and "Semaphore.acquire" in message, message


def test_a_download_that_ignores_its_cancellation_is_left_behind_not_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runaway, "CANCEL_WAIT_S", 0.2)

    async def stubborn(gate: asyncio.Event) -> str:
        while True:
            try:
                await gate.wait()
                return "late"
            except asyncio.CancelledError:
                continue  # a cleanup that awaits for ever, say

    async def go() -> tuple[float, int, int]:
        gate = asyncio.Event()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DownloadTimeoutError):
            await within_page_timeout(stubborn(gate), Request(URL), 0.2)
        took = loop.time() - started
        held = len(runaway._ABANDONED)  # kept from the collector while it runs
        gate.set()
        await asyncio.sleep(0.05)
        return took, held, len(runaway._ABANDONED)

    took, held, after = asyncio.run(go())
    assert took < 2.0
    assert (held, after) == (1, 0)


def test_a_download_given_up_by_the_engine_stops_its_work() -> None:
    ended: list[str] = []

    async def go() -> None:
        slot = asyncio.Semaphore(0)
        outer = asyncio.ensure_future(
            within_page_timeout(_stuck_on_a_page_slot(slot, ended), Request(URL), 60)
        )
        await asyncio.sleep(0.05)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        await asyncio.sleep(0.05)

    asyncio.run(go())
    assert ended == ["cancelled"]


def test_where_a_task_waits_is_its_chain_of_coroutines() -> None:
    async def inner(event: asyncio.Event) -> None:
        await event.wait()

    async def outer(event: asyncio.Event) -> None:
        await inner(event)

    async def go() -> list[str]:
        event = asyncio.Event()
        task = asyncio.ensure_future(outer(event))
        await asyncio.sleep(0.01)
        chain = awaiting(task)
        event.set()
        await task
        return chain

    chain = asyncio.run(go())
    names = [link.split(" ")[0] for link in chain]
    assert names[:4] == [
        "test_where_a_task_waits_is_its_chain_of_coroutines.<locals>.outer",
        "test_where_a_task_waits_is_its_chain_of_coroutines.<locals>.inner",
        "Event.wait",
        "Future",
    ], chain


def test_closing_a_browser_that_never_answers_does_not_hold_the_crawl(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Playwright waits for a context's close event without a timeout; a crawl that has finished
    must still exit (crawler.rendering.RenderingHandler.close)."""
    from types import MethodType, SimpleNamespace

    from crawler import rendering

    monkeypatch.setattr(rendering, "CLOSE_TIMEOUT_S", 0.2)

    async def nothing() -> None:
        return None

    async def never() -> None:
        await asyncio.Event().wait()

    handler = SimpleNamespace(
        http=SimpleNamespace(close=nothing),
        shared=SimpleNamespace(
            handler=SimpleNamespace(close=never), closed=False, pages=SimpleNamespace(close=nothing)
        ),
    )
    handler._close_browser = MethodType(rendering.RenderingHandler._close_browser, handler)  # type: ignore[attr-defined]

    async def go() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await rendering.RenderingHandler.close(handler)  # type: ignore[arg-type]
        return loop.time() - started

    with caplog.at_level(logging.WARNING, logger="crawler.rendering"):
        took = asyncio.run(go())
    assert took < 2.0
    assert handler.shared.closed is True
    assert [r.getMessage() for r in caplog.records] == [
        "the crawl's browser did not close within 0 s; it ends with the process"
    ]
