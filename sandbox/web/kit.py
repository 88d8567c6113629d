"""Shared plumbing of the simulated sites: addresses, sessions, tickets and HTML responses."""

from __future__ import annotations

import html
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

from sandbox.plan import Plan


@dataclass
class Listener:
    """One bound port of a site."""

    site: str  # portal | portal_http | auth | auth_http | mobile | dept:<id>
    scheme: str
    port: int = 0

    @property
    def base(self) -> str:
        scheme = "http" if self.scheme == "refused" else self.scheme  # a port that refuses connections
        return f"{scheme}://127.0.0.1:{self.port}"


@dataclass
class Runtime:
    """Everything the apps of one province share while the sandbox runs."""

    plan: Plan
    listeners: dict[str, Listener]
    captcha_dir: str
    tickets: dict[str, tuple[str, float]] = field(default_factory=dict)  # ticket -> (user, expiry)
    auth_sessions: dict[str, str] = field(default_factory=dict)  # auth cookie -> user
    site_sessions: dict[str, dict[str, str]] = field(default_factory=dict)  # site -> cookie -> user
    captchas: dict[str, str] = field(default_factory=dict)  # challenge id -> answer

    def url(self, site: str, path: str = "/", **query: str) -> str:
        q = f"?{urlencode(query)}" if query else ""
        return f"{self.listeners[site].base}{path}{q}"

    def cookie(self, site: str) -> str:
        """A cookie name unique to this site (browsers share cookies across ports of one host)."""
        return f"{self.plan.prefix}_{site.replace(':', '_')}_sid"

    def issue_ticket(self, user: str) -> str:
        ticket = "ST-" + secrets.token_urlsafe(18)
        self.tickets[ticket] = (user, time.monotonic() + 300)
        return ticket

    def validate_ticket(self, ticket: str) -> str | None:
        """Server-side ticket validation: one use, five minutes."""
        user, expiry = self.tickets.pop(ticket, ("", 0.0))
        return user if user and time.monotonic() < expiry else None

    def login_site(self, site: str, user: str, response: web.StreamResponse) -> None:
        sid = secrets.token_urlsafe(18)
        self.site_sessions.setdefault(site, {})[sid] = user
        response.set_cookie(self.cookie(site), sid, path="/", httponly=True)

    def site_user(self, site: str, request: web.Request) -> str | None:
        sid = request.cookies.get(self.cookie(site), "")
        return self.site_sessions.get(site, {}).get(sid)

    def sso_login_url(self, service: str) -> str:
        """Where the portal's 登录 entry and SSO-enabled department systems send a visitor."""
        auth = "auth_http" if self.plan.auth.login_over_http else "auth"
        return self.url(auth, "/sso/login", service=service)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def page(body: str, *, title: str, charset: str = "utf-8", head: str = "", status: int = 200) -> web.Response:
    """An HTML response; ``charset`` gbk encodes the page as legacy portals do."""
    doc = (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head>'
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        f"<title>{esc(title)}</title>{head}</head><body>{body}</body></html>"
    )
    return web.Response(
        body=doc.encode(charset, errors="xmlcharrefreplace"),
        status=status,
        content_type="text/html",
        charset=charset,
    )


def mask_name(name: str, style: str) -> str:
    if style == "plain":
        return name
    if style == "keep_first":  # 张*
        return name[0] + "*" * (len(name) - 1)
    if style == "keep_first_last":  # 张*三
        return name[0] + "*" * (len(name) - 2) + name[-1] if len(name) > 2 else name[0] + "*"
    if style == "keep_first_stars":  # 张**
        return name[0] + "**"
    return "*" + name[1:]  # hide_first: *大友


def mask_id(number: str, style: str) -> str:
    if style == "plain":
        return number
    if style == "first_last":
        return number[0] + "*" * 16 + number[-1]
    return number[0] + "***" + number[4:12] + "*****" + number[-1]  # positions 1, 5-12, 18


def mask_phone(phone: str, style: str) -> str:
    return phone if style == "plain" else phone[:3] + "****" + phone[-4:]


class Concurrency:
    """In-flight requests per listener (``127.0.0.1:<port>``), and the most seen at once.

    The fleet's politeness test reads :meth:`peaks` to assert that no host ever served more
    requests at once than the profile's ``politeness.concurrency_per_host``, whichever workers
    and processes sent them. Thread-safe: the sandbox runs in its own thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._total: dict[str, int] = {}

    def enter(self, host: str) -> None:
        with self._lock:
            self._now[host] = self._now.get(host, 0) + 1
            self._total[host] = self._total.get(host, 0) + 1
            self._peak[host] = max(self._peak.get(host, 0), self._now[host])

    def leave(self, host: str) -> None:
        with self._lock:
            self._now[host] -= 1

    def peaks(self) -> dict[str, int]:
        with self._lock:
            return dict(self._peak)

    def requests(self) -> dict[str, int]:
        with self._lock:
            return dict(self._total)

    def reset(self) -> None:
        with self._lock:
            self._peak = {h: n for h, n in self._now.items() if n}
            self._total = {}

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def count(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            sock = request.transport.get_extra_info("sockname") if request.transport else None
            host = f"{sock[0]}:{sock[1]}" if sock else request.host
            self.enter(host)
            try:
                return await handler(request)
            finally:
                self.leave(host)

        return count
