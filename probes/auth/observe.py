"""Following the unified login from the home page and watching where the password would travel.

A :class:`Watcher` listens to every page of the journey (redirect chain, document responses,
subresource requests, Chromium's mixed-content console messages). Once the password form is
found, a dummy username and a random dummy password are typed, the submission is intercepted
at the network layer and aborted — no credential attempt ever reaches the portal — and both the
requests and what the page itself tried to send are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from probes.auth.dom import FILL_OTHERS, FORM_FACTS, INSECURE_SUBRESOURCES, RECORD_SUBMISSIONS
from probes.auth.entry import LoginForm, find_login_form
from probes.auth.judge import AuthObservation, CertificateCheck, PasswordSubmission
from probes.common.errors import ProbeError, classify_exception
from probes.common.navigation import Manners, goto
from probes.common.tls import verify_certificate
from zwaudit.evidence import EvidenceWriter
from zwaudit.outcomes import ErrorKind

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, ConsoleMessage, Page, Request, Response, Route

MIXED = re.compile(
    r"Mixed Content: The page at '([^']+)' was loaded over HTTPS, but requested an insecure [^']*'([^']+)'"
)

SUBMIT_BUTTON = r"""
(el) => {
  const scope = el.form || el.closest('form') || el.parentElement.closest('div, section') || document.body;
  const words = /登\s*录|登\s*入|登\s*陆|提交|确\s*定|login|sign\s*in/i;
  const cands = scope.querySelectorAll('button, input[type=submit], input[type=button], input[type=image], a, [role=button], [onclick]');
  for (const c of cands) {
    const r = c.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) continue;
    const t = (c.innerText || c.value || c.title || c.getAttribute('aria-label') || '').replace(/\s+/g, '');
    if (c.matches('button[type=submit], input[type=submit]') || (t.length <= 8 && words.test(t))) {
      const token = 's' + Math.random().toString(36).slice(2);
      c.setAttribute('data-zwaudit-login', token);
      return token;
    }
  }
  return null;
}
"""


def _strip_fragment(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path, p.query, ""))


@dataclass
class Watcher:
    """Everything the pages of the journey did on the network, recorded as it happened."""

    chain: list[str] = field(default_factory=list)
    documents: dict[str, Response] = field(default_factory=dict)  # url without fragment → response
    insecure: list[tuple[str, str]] = field(default_factory=list)  # (page url, http subresource)
    pages: list[Page] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        if page in self.pages:
            return
        self.pages.append(page)
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("console", self._console)
        page.on("popup", self.attach)

    def _request(self, request: Request) -> None:
        if request.resource_type == "document":
            if request.frame.parent_frame is None:
                self.chain.append(request.url)
            return
        with contextlib.suppress(Exception):
            owner = request.frame.url
            if owner.startswith("https:") and request.url.startswith("http:"):
                self.insecure.append((owner, request.url))

    def _response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.documents[_strip_fragment(response.url)] = response

    def _console(self, message: ConsoleMessage) -> None:
        m = MIXED.search(message.text)
        if m:
            self.insecure.append((m.group(1), m.group(2)))

    def insecure_for(self, url: str) -> list[str]:
        key = _strip_fragment(url)
        return [res for page, res in self.insecure if _strip_fragment(page) == key]


@dataclass(frozen=True)
class AuthSettings:
    home_url: str
    login_url: str | None = None
    entry_selector: str | None = None
    submit_selector: str | None = None
    ca_bundle: Path | None = None
    submit_wait_s: float = 3.0


class Interceptor:
    """The route that lets nothing carrying a credential through once 登录 is clicked."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.armed = False
        self.seen: list[PasswordSubmission] = []

    def carries(self, request: Request) -> bool:
        body = request.post_data_buffer or b""
        forms = (self.secret, quote(self.secret, safe=""))
        return any(f in request.url or f.encode() in body for f in forms)

    async def __call__(self, route: Route) -> None:
        request = route.request
        if self.armed and (request.method != "GET" or self.carries(request)):
            via = (
                request.resource_type if request.resource_type in ("xhr", "fetch", "document") else "request"
            )
            self.seen.append(PasswordSubmission(request.method, request.url, via, self.carries(request)))
            await route.abort("blockedbyclient")
            return
        await route.fallback()


def merge(network: list[PasswordSubmission], in_page: list[dict[str, Any]]) -> list[PasswordSubmission]:
    """Requests seen on the wire and attempts recorded in the page, one per (method, url)."""
    merged: dict[tuple[str, str], PasswordSubmission] = {}
    for s in network:
        merged[(s.method, s.url)] = s
    for r in in_page:
        key = (str(r["method"]), str(r["url"]))
        if key[0] == "GET" and not r["carries"]:
            continue  # a page fetching its own data is not a submission
        prior = merged.get(key)
        carried = bool(r["carries"]) or (prior is not None and prior.carries_password)
        merged[key] = PasswordSubmission(key[0], key[1], str(r["via"]), carried)
    return list(merged.values())


async def _submit_dummy(
    form: LoginForm, settings: AuthSettings
) -> tuple[list[PasswordSubmission], dict[str, Any]]:
    """Type dummy credentials, click 登录, and record where they would have gone (all aborted)."""
    secret = "Zw" + secrets.token_hex(6) + "!"
    facts: dict[str, Any] = await form.password.evaluate(FORM_FACTS)
    await form.frame.evaluate(RECORD_SUBMISSIONS, secret)
    await form.password.evaluate(FILL_OTHERS)
    await form.password.fill(secret)
    interceptor = Interceptor(secret)
    await form.page.route("**/*", interceptor)
    try:
        interceptor.armed = True
        token = None if settings.submit_selector else await form.password.evaluate(SUBMIT_BUTTON)
        selector = settings.submit_selector or (f"[data-zwaudit-login='{token}']" if token else None)
        click_error: Exception | None = None
        if selector:
            try:
                await form.frame.locator(selector).first.click(timeout=5000)
            except Exception as exc:  # a click whose navigation we aborted may never "finish"
                click_error = exc
            facts["submit"] = "button"
        else:
            await form.password.press("Enter")
            facts["submit"] = "enter"
        in_page: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + settings.submit_wait_s
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.25)
            with contextlib.suppress(Exception):
                in_page = await form.frame.evaluate("() => window.__zwauditSent || []")
            if interceptor.seen or any(r["carries"] for r in in_page):
                await asyncio.sleep(0.25)  # let the other half of the pair (in page / on the wire) land
                with contextlib.suppress(Exception):
                    in_page = await form.frame.evaluate("() => window.__zwauditSent || []")
                break
    finally:
        await form.page.unroute("**/*", interceptor)
    submissions = merge(interceptor.seen, in_page)
    if click_error is not None and not submissions:
        raise click_error
    return submissions, facts


async def observe_login(
    context: BrowserContext,
    settings: AuthSettings,
    evidence: EvidenceWriter | None = None,
    manners: Manners | None = None,
) -> AuthObservation:
    """Follow the unified login and return the facts (errors classified, never a fail)."""
    page = await context.new_page()
    watcher = Watcher()
    watcher.attach(page)
    obs = AuthObservation(start_url=settings.login_url or settings.home_url)

    async def open_page(p: Page, url: str) -> None:
        await goto(p, url, manners=manners)

    try:
        start = settings.login_url or settings.home_url
        form = await find_login_form(page, start, open_page, entry_selector=settings.entry_selector)
        if form is None:
            raise ProbeError(ErrorKind.NOT_FOUND, f"no unified-login password form found from {start}")
        login_url = form.frame.url
        obs.login_url = login_url
        obs.how = {"steps": form.steps, "in_frame": form.frame.parent_frame is not None}
        response = watcher.documents.get(_strip_fragment(login_url))
        if response is not None:
            obs.hsts = await response.header_value("strict-transport-security")
        else:
            obs.how["hsts"] = "login document response not seen"
        asked = await form.frame.evaluate(INSECURE_SUBRESOURCES)
        obs.insecure_subresources = sorted(set(asked) | set(watcher.insecure_for(login_url)))
        if evidence is not None:
            obs.evidence = await _evidence(form.page, evidence, "login-page")
        submissions, facts = await _submit_dummy(form, settings)
        obs.submissions = submissions
        obs.form_action, obs.form_method = facts.get("action"), facts.get("method")
        obs.how["submit"] = facts.get("submit")
        obs.chain = list(dict.fromkeys(watcher.chain))
        if login_url.startswith("https:"):
            tls = await asyncio.to_thread(verify_certificate, login_url, settings.ca_bundle)
            obs.certificate = CertificateCheck(tls.valid, tls.problem or tls.message, tls.error_kind)
    except Exception as exc:
        c = classify_exception(exc)
        obs.error, obs.error_message = c.kind, c.message
        obs.chain = list(dict.fromkeys(watcher.chain))
    finally:
        for p in watcher.pages:
            with contextlib.suppress(Exception):
                await p.close()
    if evidence is not None and obs.error is None:
        obs.evidence.append(evidence.json("json_excerpt", "login-facts.json", _facts(obs)))
        obs.evidence.append(evidence.url(obs.login_url or obs.start_url))
    return obs


def _facts(obs: AuthObservation) -> dict[str, Any]:
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "start_url": obs.start_url,
        "login_url": obs.login_url,
        "chain": obs.chain,
        "form": {"action": obs.form_action, "method": obs.form_method},
        "submissions": [vars(s) for s in obs.submissions],
        "insecure_subresources": obs.insecure_subresources,
        "strict_transport_security": obs.hsts,
        "certificate": vars(obs.certificate) if obs.certificate else None,
    }


async def _evidence(page: Page, evidence: EvidenceWriter, stem: str) -> list[Any]:
    shot = evidence.path_for(f"{stem}.png")
    password = page.locator("input[type=password]")
    await page.screenshot(path=str(shot), mask=[password])
    return [evidence.register("screenshot", shot, "image/png")]
