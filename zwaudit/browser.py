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

Every request of a portal's context passes its egress policy (:class:`EgressGuard`,
:mod:`zwaudit.net.egress`): a navigation (a document, in any frame or pop-up) must go to a host of
the portal; anything else the page loads may come from any public address, but never from the
auditor's own network; a request that loads a page (navigation, frame, XHR) of a host whose
robots.txt asks for a ``Crawl-delay`` waits for its turn on the clock the crawler shares
(:meth:`HostPacer.pace_request`, :mod:`zwaudit.net.pacing`). A refused request is aborted (``net::ERR_ACCESS_DENIED``, classified
``egress_refused``) and listed in ``EgressGuard.refused``. Dialogs are answered so that nothing
waits on them: ``alert``/``confirm``/``prompt`` dismissed, ``beforeunload`` accepted (leave).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from zwaudit.config.schema import BrowserSettings
from zwaudit.errors import RunError
from zwaudit.net.pacing import PAGE_RESOURCE_TYPES, SharedPacer
from zwaudit.net.robots import crawl_delay_for

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from playwright.async_api import (
        Browser,
        BrowserContext,
        Dialog,
        Page,
        Playwright,
        Request,
        Response,
        Route,
    )

    from zwaudit.net.egress import EgressPolicy
    from zwaudit.net.proxy import EgressProxy

log = logging.getLogger("zwaudit.browser")

#: the features Playwright 1.65 disables (its chromiumSwitches.ts). Chromium keeps only the last
#: ``--disable-features`` switch of its command line, and Playwright puts ours after its own, so ours
#: must repeat its list (HttpsUpgrades among them: auth_https must see http stay http);
#: tests/test_browser.py fails when a Playwright upgrade changes the list.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
)
DISABLED_FEATURES = (
    *PLAYWRIGHT_DISABLED_FEATURES,
    # a renderer process started ahead of every navigation in case it needs one: most are never
    # used, and each costs a process start (two of every three renderers of a calibration run)
    "SpareRendererForSitePerProcess",
    # the form-type query to content-autofill.googleapis.com on every page with a form: a request
    # outside the egress policy (refused, and logged as such) on every login and search page
    "AutofillServerCommunication",
    # the address bar's suggestion popups, drawn as web pages: headless Chromium still builds a
    # window for every browser context and loads both popups into a renderer of their own for it,
    # never shown (chrome://omnibox-popup.top-chrome/). They were a third of a calibration run's
    # renderers and half of a context's CPU (bench/launch_args_bench.py)
    "WebUIOmniboxPopup",
    "WebUIOmniboxAimPopup",
)
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    # with --disable-gpu the GPU process only composites in software: a thread of the browser
    # process does that as well, without a process of its own per browser
    "--in-process-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=" + ",".join(DISABLED_FEATURES),
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


class EgressGuard:
    """The per-context route handler of the egress policy; what it refused, for the findings.

    With a :class:`~zwaudit.net.proxy.EgressProxy` (:meth:`start_proxy`), every connection of the
    contexts also goes through it: the proxy sees the redirect hops Playwright does not route.
    """

    def __init__(self, policy: EgressPolicy, pacer: HostPacer | None = None) -> None:
        self.policy = policy
        self.refused: list[tuple[str, str]] = []  # (url, reason), most recent last
        self.proxy: EgressProxy | None = None
        self.pacer = pacer  # requests that load a page wait for a Crawl-delay host's turn

    async def start_proxy(self) -> dict[str, Any]:
        """Start the portal's filtering proxy (once); the ``proxy`` option of a context."""
        if self.proxy is None:
            from zwaudit.net.proxy import EgressProxy

            self.proxy = EgressProxy(self.policy)
            await self.proxy.start()
        return self.proxy.playwright_proxy

    async def close(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
            self.proxy = None

    async def __call__(self, route: Route) -> None:
        request = route.request
        navigation = request.resource_type == "document"
        reason = await self.policy.check_async(request.url, scope=navigation)
        if reason is None:
            if self.pacer is not None and request.resource_type in PAGE_RESOURCE_TYPES:
                await self.pacer.pace_request(request.url)
            await route.fallback()
            return
        if len(self.refused) > 200:
            del self.refused[:100]
        self.refused.append((request.url, reason))
        log.info("egress refused: %s (%s)", request.url[:300], reason)
        await route.abort("accessdenied")

    def failed(self, request: Request) -> None:
        """A request that ended without an answer frees its host on the shared clock."""
        if self.pacer is not None and request.resource_type in PAGE_RESOURCE_TYPES:
            self.pacer.answered(request.url)

    def learn(self, response: Response) -> None:
        """A document reached by redirects from the portal brings its host into scope (redirect
        hops are not routed by Playwright, so the chain is read from the response)."""
        request = response.request
        if self.pacer is not None and request.resource_type in PAGE_RESOURCE_TYPES:
            self.pacer.answered(response.url)
        if request.resource_type != "document":
            return
        hops: list[str] = [request.url]
        previous = request.redirected_from
        while previous is not None and len(hops) < 50:
            hops.append(previous.url)
            previous = previous.redirected_from
        hops.reverse()
        for source, target in itertools.pairwise(hops):
            self.policy.learn_redirect(source, target)

    def reason_for(self, url: str) -> str | None:
        """Why ``url`` (or, at the proxy, its host) was refused, if it was."""
        reason = next((r for u, r in reversed(self.refused) if u == url), None)
        if reason is None and self.proxy is not None:
            reason = self.proxy.reason_for(url)
        return reason


async def _answer_dialog(dialog: Dialog) -> None:
    """Nothing may wait on a dialog: leave on ``beforeunload``, dismiss alerts and prompts."""
    try:
        if dialog.type == "beforeunload":
            await dialog.accept()
        else:
            await dialog.dismiss()
    except Exception:  # the page may be gone already
        return


def _guard_page(page: Page) -> None:
    page.on("dialog", _answer_dialog)


class HostPacer:
    """Keeps at least ``delay_s`` between top-level navigations to one host (politeness).

    A host's robots.txt ``Crawl-delay`` lengthens its gap (when a ``robots`` fetcher is given:
    an async callable from the robots.txt URL to its text, or ``None``), and a ``Retry-After``
    the browser was given holds every navigation to that host until it has passed (:meth:`hold`).
    """

    def __init__(
        self,
        delay_s: float,
        robots: Callable[[str], Awaitable[str | None]] | None = None,
        user_agent: str = "*",
    ) -> None:
        self.delay_s = delay_s
        self.robots = robots
        self.user_agent = user_agent
        self._last: dict[str, float] = {}
        self._delays: dict[str, float] = {}  # origin → the gap robots.txt asked for
        self._held: dict[str, float] = {}  # host → monotonic time before which nothing is sent
        self._asked: set[str] = set()  # origins whose robots.txt states a Crawl-delay
        self._lock = asyncio.Lock()
        self.shared: SharedPacer | None = None  # the audit's shared clock (made on first use)

    def hold(self, url: str, seconds: float) -> None:
        """Send nothing more to ``url``'s host for ``seconds`` (a Retry-After)."""
        host = (urlsplit(url).hostname or "").lower()
        until = time.monotonic() + max(0.0, seconds)
        self._held[host] = max(until, self._held.get(host, 0.0))

    async def _delay_for(self, url: str) -> float:
        if self.robots is None:
            return self.delay_s
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if origin not in self._delays:
            from zwaudit.net.robots import Robots

            asked: float | None = None
            try:
                await self._shared().wait(url)  # a Crawl-delay the crawler learnt holds already
                text = await self.robots(origin + "/robots.txt")
                asked = Robots(text, self.user_agent).crawl_delay() if text else None
            except Exception:  # no robots.txt, or unreadable: our own delay
                asked = None
            self._delays[origin] = crawl_delay_for(asked, self.delay_s)
            if asked is not None:
                self._asked.add(origin)
                # the robots.txt request just sent counts: the next page request keeps the gap
                self._shared().sent(url, self._delays[origin])
        return self._delays[origin]

    async def pace_request(self, url: str) -> float:
        """Any request that loads a page (a navigation, a click's, a pop-up's, a frame, an XHR) to
        a host whose robots.txt asks for a ``Crawl-delay`` waits for its turn on the clock the
        audit's crawler shares (:mod:`zwaudit.net.pacing`); returns the seconds waited. Called by
        :class:`EgressGuard` for every such request of the portal's contexts."""
        if self.robots is None or not url.lower().startswith(("http:", "https:")):
            return 0.0
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        # no robots.txt is fetched here (a request held in the route must not wait for one): the
        # gap is this pacer's (read before a navigation, :meth:`wait`) or what another process of
        # the audit learnt (the clock keeps it); a host nobody knows a gap for passes at once
        delay = self._delays.get(origin, 0.0) if origin in self._asked else 0.0
        return await self._shared().wait(url, delay)

    def answered(self, url: str) -> None:
        """A page request to a ``Crawl-delay`` host was answered (or failed): the shared clock
        frees the host and counts the gap from now (:meth:`zwaudit.net.pacing.SharedPacer.answered`)."""
        if self.robots is not None and url.lower().startswith(("http:", "https:")):
            self._shared().answered(url)  # a host without a clock costs a stat()

    def _shared(self) -> SharedPacer:
        if self.shared is None:
            self.shared = SharedPacer()
        return self.shared

    async def wait(self, url: str) -> None:
        host = (urlsplit(url).hostname or "").lower()
        delay = await self._delay_for(url)
        async with self._lock:
            now = time.monotonic()
            held = self._held.get(host, 0.0)
            last = self._last.get(host)
            ready = max(held, last + delay if last is not None and delay > 0 else 0.0)
            if ready > now:
                await asyncio.sleep(ready - now)
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
        egress: EgressGuard | None = None,
    ) -> BrowserContext:
        """A fresh context, optionally with a saved login session (a storage-state file or dict)
        and the portal's :class:`EgressGuard` (one per portal: both its contexts share it)."""
        proxy = await egress.start_proxy() if egress is not None else None
        context = await self.browser.new_context(
            ignore_https_errors=True,  # see the module docstring: certificates are judged in tls.py
            user_agent=self.user_agent,
            locale="zh-CN",
            viewport={"width": 1366, "height": 900},
            storage_state=str(storage_state) if isinstance(storage_state, Path) else storage_state,  # type: ignore[arg-type]
            proxy=proxy,  # type: ignore[arg-type]
        )
        context.set_default_navigation_timeout(self.settings.navigation_timeout_s * 1000)
        context.set_default_timeout(ACTION_TIMEOUT_S * 1000)
        blocked = self.settings.block_resources if block is None else block
        blocker = _ResourceBlocker(blocked)
        self._blockers[id(context)] = blocker
        if blocker.default:
            await context.route("**/*", blocker)
        if egress is not None:  # registered last: it runs first (Playwright's route order)
            await context.route("**/*", egress)
            context.on("response", egress.learn)
            context.on("requestfailed", egress.failed)
        context.on("page", _guard_page)
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
