"""One browser per audit, one context per portal.

Chromium is started once (Debian's binary through ``settings.browser.executable_path``; never a
downloaded one) and every portal gets its own :class:`BrowserContext`, so cookies and a saved login
never cross portals while the start-up cost is paid once.

Contexts navigate with ``ignore_https_errors=True``: the browser is the *observer of content*, so a
self-signed or expired certificate must not hide what a citizen would see after clicking through.
Certificate validity is *judged* once, in Python, by :func:`probes.common.tls.verify_certificate`
against the profile's ``ca_bundle`` (or the system store) — that is the only place a certificate
verdict comes from.

Images, fonts and media are blocked per ``settings.browser.block_resources`` (they cost time and
prove nothing for most checks); a check that needs them declares ``needs_resources`` and the
orchestrator lifts the block for that check with :meth:`AuditBrowser.allow_resources`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from zwaudit.config.schema import BrowserSettings
from zwaudit.errors import RunError

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route

log = logging.getLogger("zwaudit.browser")

LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ACTION_TIMEOUT_S = 15.0


class _ResourceBlocker:
    """The per-context route handler; its ``blocked`` set can change between checks."""

    def __init__(self, blocked: Iterable[str]) -> None:
        self.default = frozenset(blocked)
        self.blocked: frozenset[str] = self.default

    async def __call__(self, route: Route) -> None:
        if route.request.resource_type in self.blocked:
            await route.abort("blockedbyclient")
        else:
            await route.fallback()


class HostPacer:
    """Keeps at least ``delay_s`` between top-level navigations to one host (politeness)."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self._last: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, url: str) -> None:
        if self.delay_s <= 0:
            return
        host = (urlsplit(url).hostname or "").lower()
        async with self._lock:
            last = self._last.get(host)
            now = time.monotonic()
            if last is not None and now - last < self.delay_s:
                await asyncio.sleep(self.delay_s - (now - last))
            self._last[host] = time.monotonic()


class AuditBrowser:
    """The audit's single Chromium; use as ``async with AuditBrowser(settings, ua) as browser``."""

    def __init__(self, settings: BrowserSettings, user_agent: str, *, headless: bool | None = None) -> None:
        self.settings = settings
        self.user_agent = user_agent
        self.headless = settings.headless if headless is None else headless
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._blockers: dict[int, _ResourceBlocker] = {}

    async def __aenter__(self) -> AuditBrowser:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Launch Chromium; a missing binary is a :class:`RunError` naming the setting."""
        from playwright.async_api import Error, async_playwright

        if self._browser is not None:
            return
        exe = self.settings.executable_path
        if exe is not None and not exe.exists():
            raise RunError(f"settings.yaml: browser.executable_path: {exe} does not exist")
        self._playwright = await async_playwright().start()
        try:
            self._browser = await self._playwright.chromium.launch(
                executable_path=str(exe) if exe else None,
                headless=self.headless,
                args=list(LAUNCH_ARGS),
            )
        except Error as exc:
            await self._playwright.stop()
            self._playwright = None
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunError(f"cannot start the browser ({exe}): {first}") from exc

    @property
    def browser(self) -> Browser:
        if self._browser is None:
            raise RuntimeError("AuditBrowser.start() was not awaited")
        return self._browser

    async def new_context(
        self,
        *,
        storage_state: Path | dict[str, Any] | None = None,
        block: Iterable[str] | None = None,
    ) -> BrowserContext:
        """A fresh context, optionally with a saved login session (a storage-state file or dict)."""
        context = await self.browser.new_context(
            ignore_https_errors=True,  # see the module docstring: certificates are judged in tls.py
            user_agent=self.user_agent,
            locale="zh-CN",
            viewport={"width": 1366, "height": 900},
            storage_state=str(storage_state) if isinstance(storage_state, Path) else storage_state,  # type: ignore[arg-type]
        )
        context.set_default_navigation_timeout(self.settings.navigation_timeout_s * 1000)
        context.set_default_timeout(ACTION_TIMEOUT_S * 1000)
        blocked = self.settings.block_resources if block is None else block
        blocker = _ResourceBlocker(blocked)
        self._blockers[id(context)] = blocker
        if blocker.default:
            await context.route("**/*", blocker)
        context.on("close", lambda _ctx: self._forget(id(context)))
        return context

    def _forget(self, key: int) -> None:
        self._blockers.pop(key, None)

    def allow_resources(self, context: BrowserContext, resource_types: Iterable[str]) -> None:
        """Lift the block for ``resource_types`` (until the next call); ``()`` restores it."""
        blocker = self._blockers.get(id(context))
        if blocker is not None:
            blocker.blocked = blocker.default - frozenset(resource_types)

    async def close(self) -> None:
        if self._browser is not None:
            try:
                await self._browser.close()
            finally:
                self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


async def polite_goto(
    page: Page, url: str, pacer: HostPacer | None = None, *, wait_until: str = "load"
) -> None:
    """Navigate after honouring the host pacer (the caller classifies errors)."""
    if pacer is not None:
        await pacer.wait(url)
    await page.goto(url, wait_until=wait_until)  # type: ignore[arg-type]
