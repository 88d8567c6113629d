"""The one navigation helper of the probes: polite, patient, through challenges, classified.

``goto`` is how every probe opens a page, the way a patient person's browser would:

- it waits for the portal's :class:`~zwaudit.browser.HostPacer` (the configured delay, robots.txt
  ``Crawl-delay``, and any ``Retry-After`` another probe was given for that host);
- a 429/503 with ``Retry-After`` (seconds or an HTTP date, :mod:`zwaudit.net.retry_after`) is
  waited out — the host is held for every probe of the portal — and asked again, up to
  ``settings.network.retry_after_max_s`` and ``retry_after_times``; past that it is
  ``error``/``rate_limited``, never ``blocked`` nor a verdict;
- an anti-bot challenge (:func:`zwaudit.net.challenge.recognise`, the recogniser the crawler uses)
  is given ``challenge_wait_s`` to reload itself with its cookie; one that stays is ``blocked``;
  an ordinary error page is reported at once, and a page answering 200 is content;
- a destination the egress policy refuses is ``egress_refused``: refused by the context's route,
  or — a redirect hop, which Playwright does not route — by the portal's filtering proxy, which
  answers in the hop's place (no connection is made).

Failures are raised as :class:`ProbeError` with their :class:`ErrorKind`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from probes.common.caps import Caps, ResponseWatch, check_dom
from probes.common.errors import ProbeError, check_response, classify_exception, classify_net_error
from zwaudit.checks import CheckContext
from zwaudit.config.schema import BrowserSettings, NetworkSettings
from zwaudit.inflight import Inflight
from zwaudit.net import challenge
from zwaudit.net.proxy import REFUSED_HEADER, UNREACHABLE_HEADER
from zwaudit.net.retry_after import RATE_LIMIT_STATUSES, Patience
from zwaudit.outcomes import ErrorKind

if TYPE_CHECKING:
    from playwright.async_api import Page, Request, Response

    from zwaudit.browser import EgressGuard, HostPacer

Pace = Callable[[str], Awaitable[None]]

_SIGNATURE_JS = (
    "(document.body ? document.body.innerText.length + ':' + document.body.innerText.slice(0, 300) : '')"
)


@dataclass(frozen=True)
class Manners:
    """What a navigation needs from the audit: politeness, patience, the egress guard."""

    pacer: HostPacer | None = None
    pace: Pace | None = None  # a plain pacing callable (tests, callers without a context)
    patience: Patience = field(default_factory=Patience)
    challenge_wait_s: float = 10.0
    egress: EgressGuard | None = None
    caps: Caps = field(default_factory=Caps)

    @classmethod
    def of(cls, ctx: CheckContext | None) -> Manners:
        """The manners of a check's context (settings ``network``, the portal's pacer and guard)."""
        if ctx is None:
            return cls()
        settings = getattr(ctx, "settings", None)  # hand-made contexts in tests may have none
        net: NetworkSettings = settings.network if settings is not None else NetworkSettings()
        browser: BrowserSettings = settings.browser if settings is not None else BrowserSettings()
        pacer_fn = ctx.extra.get("pacer")
        return cls(
            pacer=pacer_fn() if callable(pacer_fn) else None,
            patience=Patience(max_wait_s=net.retry_after_max_s, attempts=net.retry_after_times),
            challenge_wait_s=net.challenge_wait_s,
            egress=ctx.extra.get("egress"),
            caps=Caps.of(browser.max_response_mib, browser.max_dom_nodes),
        )

    async def wait(self, url: str) -> None:
        if self.pacer is not None:
            await self.pacer.wait(url)
        if self.pace is not None:
            await self.pace(url)

    def hold(self, url: str, seconds: float) -> None:
        if self.pacer is not None:
            self.pacer.hold(url, seconds)


def _same_document(current: str, target: str) -> bool:
    a, b = urlsplit(current), urlsplit(target)
    return a[:4] == b[:4] and a.fragment != b.fragment


async def _signature(page: Page) -> str:
    try:
        return str(await page.evaluate(_SIGNATURE_JS))
    except Exception:
        return ""


# A loading placeholder as a person sees one: a visible element whose whole text says the content
# is still coming (加载中…, 正在加载, 数据加载中, Loading...), or a visible region marked aria-busy.
# Any portal's wording, not one template's class names.
_LOADING_JS = """
() => {
  const vis = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const placeholder = /^(?:数据|内容|页面|努力|正在)*(?:加载|載入|载入)中?(?:[，,\\s]*请稍[候后等])?[.。…·!！\\s]*$|^请稍[候后等][.。…\\s]*$|^loading[.…\\s]*$/i;
  for (const el of document.querySelectorAll('body *')) {
    if (el.matches('script, style, noscript, template')) continue;
    if (el.getAttribute('aria-busy') === 'true' && vis(el)) return true;
    const t = (el.innerText || '').trim();
    if (t && t.length <= 20 && placeholder.test(t) && vis(el)) return true;
  }
  return false;
}
"""


async def is_loading(page: Page) -> bool:
    """Whether the page still shows a loading placeholder (see ``_LOADING_JS``)."""
    try:
        return bool(await page.evaluate(_LOADING_JS))
    except Exception:
        return False


async def settle(page: Page, ms: int, inflight: Inflight | None = None) -> None:
    """Let late XHRs and client-side rendering finish (bounded; a busy page is not an error).

    The network going idle is not enough for a hash-routed app: a route change is no new
    document, so the load states do not start again, and the route first draws a placeholder
    (加载中…) while its XHR is under way. Within the same bound, wait until no loading placeholder
    is shown, then for the network to be quiet again.
    """
    if ms <= 0:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ms / 1000
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("networkidle", timeout=ms)
    if inflight is not None:  # a route change in the same document: its own requests
        await inflight.quiet(deadline)
    waited = False
    while await is_loading(page):
        waited = True
        if loop.time() >= deadline:
            return  # still loading at the bound: the caller reads what is there
        await asyncio.sleep(0.1)
    if waited:  # content drawn: let the requests it started finish (bounded)
        if inflight is not None:
            await inflight.quiet(max(deadline, loop.time() + 1.0))
            return
        left = max(0.0, deadline - loop.time())
        with contextlib.suppress(Exception):
            await page.wait_for_load_state("networkidle", timeout=max(1.0, left * 1000))


class Documents:
    """The main-frame documents a page receives while it is watched (challenge reloads), and the
    first one whose exchange broke midway (a connection reset mid-body: Chromium has committed the
    page and waits for a ``load`` that never comes, so ``goto`` would end as a timeout)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.seen: list[Response] = []
        self.broken = asyncio.Event()
        self.broken_reason = ""

    def _main_document(self, request: Request) -> bool:
        try:
            return request.resource_type == "document" and request.frame == self.page.main_frame
        except Exception:  # a service worker's request has no frame
            return False

    def _on_response(self, response: Response) -> None:
        if self._main_document(response.request):
            self.seen.append(response)

    def _on_request_failed(self, request: Request) -> None:
        failure = request.failure or ""
        if (
            not self.broken.is_set()
            and self._main_document(request)
            and classify_net_error(failure) is ErrorKind.NETWORK
        ):
            self.broken_reason = f"{failure} at {request.url[:300]}"
            self.broken.set()

    def __enter__(self) -> Documents:
        self.page.on("response", self._on_response)
        self.page.on("requestfailed", self._on_request_failed)
        return self

    def __exit__(self, *exc: object) -> None:
        self.page.remove_listener("response", self._on_response)
        self.page.remove_listener("requestfailed", self._on_request_failed)

    async def goto(self, url: str, caps: Caps | None = None) -> Response | None:
        """``page.goto(url)`` until ``load``, unless the document's exchange breaks first (the
        load is stopped, ``network``) or a response passes ``caps`` (stopped, ``too_large``)."""
        self.broken.clear()
        async with ResponseWatch(self.page, caps or Caps(None, None)) as watch:
            navigation = asyncio.ensure_future(self.page.goto(url, wait_until="load"))
            broken = asyncio.ensure_future(self.broken.wait())
            flooded = asyncio.ensure_future(watch.over.wait())
            try:
                await asyncio.wait({navigation, broken, flooded}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                broken.cancel()
                flooded.cancel()
            if navigation.done() and not watch.over.is_set():
                return navigation.result()
            navigation.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await navigation
            with contextlib.suppress(Exception):
                await self.page.evaluate("window.stop()")
            if watch.over.is_set():
                raise ProbeError(ErrorKind.TOO_LARGE, watch.reason)
            raise ProbeError(ErrorKind.NETWORK, f"the connection broke mid-body: {self.broken_reason}")

    def after(self, response: Response | None) -> list[Response]:
        """The documents that came after ``response`` (all of them when it is unknown)."""
        if response is not None and response in self.seen:
            return self.seen[self.seen.index(response) + 1 :]
        return list(self.seen)


async def _body(page: Page) -> str:
    with contextlib.suppress(Exception):
        return await page.content()
    return ""


async def _is_challenge(page: Page, response: Response) -> bool:
    try:
        headers = await response.headers_array()
    except Exception:
        headers = []
    cookies = [h["value"] for h in headers if h["name"].lower() == "set-cookie"]
    return challenge.recognise(response.status, await _body(page), cookies) is not None


async def _through_challenge(page: Page, docs: Documents, response: Response, wait_s: float) -> Response:
    """Give a challenge page the time to reload itself; the document that stays."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    latest = response
    while True:
        later = docs.after(latest)
        if later:
            latest = later[-1]
            with contextlib.suppress(Exception):
                await page.wait_for_load_state("load", timeout=wait_s * 1000)
            if latest.status < 400:
                return latest
        if loop.time() >= deadline:
            return latest
        await asyncio.sleep(0.25)


async def _proxy_refusal(response: Response, egress: EgressGuard | None) -> str | None:
    """Why the egress proxy refused the document that ``response`` stands for (a redirect hop)."""
    if await response.header_value(REFUSED_HEADER.lower()) is None:
        return None
    reason = egress.reason_for(response.url) if egress is not None else None
    return f"redirect to {response.url[:300]}: {reason or 'refused by the egress proxy'}"


async def goto(
    page: Page,
    url: str,
    ctx: CheckContext | None = None,
    *,
    settle_ms: int = 0,
    pace: Pace | None = None,
    manners: Manners | None = None,
) -> Response | None:
    """Navigate politely; raise :class:`ProbeError` for what stays an error (module docstring)."""
    how = manners or Manners.of(ctx)
    if pace is not None:
        how = Manners(how.pacer, pace, how.patience, how.challenge_wait_s, how.egress, how.caps)
    same_document = _same_document(page.url, url)
    before = await _signature(page) if same_document else ""
    with Inflight(page) as inflight:
        response = await _goto(page, url, how, same_document, before)
        await settle(page, settle_ms, inflight if same_document else None)
    if settle_ms > 0:  # a page that kept growing while it settled
        await check_dom(page, how.caps, url)
    return response


async def _goto(page: Page, url: str, how: Manners, same_document: bool, before: str) -> Response | None:
    response: Response | None = None
    with Documents(page) as docs:
        for attempt in range(how.patience.attempts + 1):
            await how.wait(url)
            try:
                response = await docs.goto(url, how.caps)
                if same_document:  # a hash route: the app redraws after the hashchange event
                    with contextlib.suppress(Exception):
                        await page.wait_for_function(
                            _SIGNATURE_JS + " !== " + json.dumps(before), timeout=3000
                        )
            except Exception as exc:
                c = classify_exception(exc)
                reason = how.egress.reason_for(url) if how.egress is not None else None
                if reason is not None:  # refused by the route or at the proxy (a failed tunnel)
                    raise ProbeError(ErrorKind.EGRESS_REFUSED, f"{url}: {reason}") from exc
                raise ProbeError(c.kind, f"{url}: {c.message}") from exc
            if response is None:
                break
            later = docs.after(response)
            if later:  # a challenge that reloaded itself while goto waited for "load"
                response = later[-1]
            if response.status in RATE_LIMIT_STATUSES:
                header = await response.header_value("retry-after")
                wait = how.patience.wait_for(header, attempt, backoff=False)
                if wait is not None:
                    how.hold(url, wait)
                    await asyncio.sleep(wait)
                    continue
                if header is not None:
                    raise ProbeError(
                        ErrorKind.RATE_LIMITED,
                        f"HTTP {response.status} at {url}: Retry-After {header!r} past the cap "
                        f"({how.patience.max_wait_s:.0f}s) or too many attempts",
                    )
            break
        status = response.status if response is not None else None
        if (
            response is not None
            and status is not None
            and status >= 400
            and await _is_challenge(page, response)
        ):
            response = await _through_challenge(page, docs, response, how.challenge_wait_s)
            status = response.status
            if status >= 400:
                raise ProbeError(
                    ErrorKind.BLOCKED, f"HTTP {status} at {url}: the anti-bot challenge was not passed"
                )
        if response is not None:
            refused = await _proxy_refusal(response, how.egress)
            if refused is not None:
                raise ProbeError(ErrorKind.EGRESS_REFUSED, refused)
            unreachable = await response.header_value(UNREACHABLE_HEADER.lower())
            if unreachable is not None:  # the proxy's 502: no connection could be made
                raise ProbeError(
                    ErrorKind.CONNECTION, f"{response.url[:300]}: no connection could be made ({unreachable})"
                )
        body = await _body(page) if status is not None and status >= 400 else ""
        check_response(status, body, url)
    await check_dom(page, how.caps, url)
    return response


async def wait_out_rate_limit(page: Page, response: Response | None, manners: Manners) -> Response | None:
    """After a click that navigated (a search submitted): a 429/503 answer with ``Retry-After`` is
    waited out and the page reloaded, as :func:`goto` does; past the cap, ``rate_limited``."""
    attempt = 0
    while response is not None and response.status in RATE_LIMIT_STATUSES:
        header = await response.header_value("retry-after")
        wait = manners.patience.wait_for(header, attempt, backoff=False)
        if wait is None:
            if header is None:
                return response
            raise ProbeError(
                ErrorKind.RATE_LIMITED, f"HTTP {response.status} at {page.url}: Retry-After {header!r}"
            )
        manners.hold(page.url, wait)
        await asyncio.sleep(wait)
        await manners.wait(page.url)
        try:
            response = await page.reload(wait_until="load")
        except Exception as exc:
            c = classify_exception(exc)
            raise ProbeError(c.kind, f"{page.url}: {c.message}") from exc
        attempt += 1
    return response
