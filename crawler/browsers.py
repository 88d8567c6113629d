"""One Chromium for every portal a crawl process renders (``PLAYWRIGHT_BROWSER_PROVIDER``).

The crawl process runs one Scrapy crawler per portal, side by side. scrapy-playwright gives each
crawler's download handler its own Playwright driver (a Node process) and its own Chromium, so a
crawl of nine rendered portals started nine drivers and nine browsers: on the sandbox the
launches alone cost about a fifth of the crawl's CPU, and memory grows with every portal. A person
would open one browser and a window per site. :class:`SharedBrowserProvider` does that: the first
handler that renders starts the driver and the browser, every other handler of the process leases
the same browser and opens its own contexts in it (cookies, storage, routes and the egress check
stay per portal: they belong to contexts, not to the browser), and the last handler to close
closes it.

A browser that dies (crash, OOM kill) is relaunched once, by the first handler to ask after the
disconnection; the others get the new one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotSupported

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright

log = logging.getLogger(__name__)


class _Shared:
    """The process's driver and browser for one set of launch options, counted by its users."""

    def __init__(self, key: str, browser_type: str, launch_options: dict[str, Any]) -> None:
        self.key = key
        self.browser_type = browser_type
        self.launch_options = launch_options
        self.users = 0
        self.lock = asyncio.Lock()
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None
        self.launches = 0

    async def join(self) -> None:
        async with self.lock:
            self.users += 1
            if self.playwright is None:
                from playwright.async_api import async_playwright

                self.playwright = await async_playwright().start()

    async def current(self) -> Browser:
        """The running browser, launched now if there is none or the last one disconnected."""
        async with self.lock:
            if self.browser is None or not self.browser.is_connected():
                assert self.playwright is not None, "join() first"
                launcher = getattr(self.playwright, self.browser_type)
                self.browser = await launcher.launch(**self.launch_options)
                self.launches += 1
                log.info("shared browser launched (%d so far in this process)", self.launches)
            return self.browser

    async def leave(self) -> None:
        async with self.lock:
            self.users -= 1
            if self.users > 0:
                return
            browser, playwright = self.browser, self.playwright
            self.browser = self.playwright = None
            _PROCESS.pop(self.key, None)  # a later crawl (another event loop) starts afresh
        if browser is not None:
            try:
                await browser.close()
            except Exception as exc:  # a dead browser has nothing left to close
                log.debug("closing the shared browser: %s", exc)
        if playwright is not None:
            await playwright.stop()


_PROCESS: dict[str, _Shared] = {}


def _shared_for(browser_type: str, launch_options: dict[str, Any]) -> _Shared:
    key = json.dumps([browser_type, launch_options], sort_keys=True, default=str)
    shared = _PROCESS.get(key)
    if shared is None:
        shared = _PROCESS[key] = _Shared(key, browser_type, launch_options)
    return shared


class BrowserLease:
    """What one handler holds of the shared browser: the browser itself, except that ``close``
    gives the lease back (removing the handler's listeners) instead of closing it for all."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser
        self._listeners: list[tuple[str, Callable[..., Any]]] = []

    def on(self, event: str, listener: Callable[..., Any]) -> None:
        self._listeners.append((event, listener))
        self._browser.on(event, listener)  # type: ignore[call-overload]

    async def close(self, **_: Any) -> None:
        for event, listener in self._listeners:
            self._browser.remove_listener(event, listener)
        self._listeners.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


class SharedBrowserProvider:
    """scrapy-playwright's browser provider protocol over the process's shared browser."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self._shared = _shared_for(config.browser_type_name, dict(config.launch_options))
        self._joined = False

    async def start(self) -> None:
        await self._shared.join()
        self._joined = True

    async def launch_browser(self) -> BrowserLease:
        return BrowserLease(await self._shared.current())

    async def launch_persistent_context(self, context_kwargs: dict[str, Any]) -> BrowserContext:
        raise NotSupported("the crawl renders in a shared browser: persistent contexts are not used")

    async def close(self) -> None:
        if self._joined:
            self._joined = False
            await self._shared.leave()
