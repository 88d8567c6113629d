"""A filtering forward proxy in front of the browser: the egress policy on every connection.

Playwright routes a page's requests but not the hops of a redirect, so a portal page that
redirects to 127.0.0.1:5432 or 169.254.169.254 would reach it. Every connection the browser makes
goes through this proxy instead (``CONNECT`` tunnels for https, absolute-URI requests for http,
one request per connection), and the proxy connects only to an address the portal's
:class:`~zwaudit.net.egress.EgressPolicy` allows — the very address it checked, so a name that
changes its answer in between (DNS rebinding) gains nothing. A refused destination gets no
connection: ``403`` with ``X-Zwaudit-Egress: refused`` (http) or a failed tunnel (https), and is
listed in :attr:`EgressProxy.refused`.

It listens on 127.0.0.1 and answers only a client that presents its random credentials
(``Proxy-Authorization``; :attr:`EgressProxy.playwright_proxy` gives them to the browser), so
another local process cannot use it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import logging
import secrets
import socket
from typing import Any
from urllib.parse import urlsplit

from zwaudit.net.egress import EgressPolicy, address_problem

log = logging.getLogger("zwaudit.net.proxy")
REFUSED_HEADER = "X-Zwaudit-Egress"
UNREACHABLE_HEADER = "X-Zwaudit-Unreachable"  # the proxy could not connect to an allowed destination
_HEAD_LIMIT = 64 * 1024
_HOP_HEADERS = (b"proxy-connection", b"connection", b"keep-alive", b"proxy-authorization")


class EgressProxy:
    """``async with EgressProxy(policy) as proxy``: ``proxy.url`` is the browser's proxy server."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self.refused: list[tuple[str, str]] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""
        self.username = "zwaudit"
        self.password = secrets.token_urlsafe(24)
        self._expected = b"Basic " + base64.b64encode(f"{self.username}:{self.password}".encode())

    @property
    def playwright_proxy(self) -> dict[str, Any]:
        """The ``proxy`` option of a Playwright context (loopback included: ``<-loopback>``)."""
        return {
            "server": self.url,
            "bypass": "<-loopback>",
            "username": self.username,
            "password": self.password,
        }

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=_HEAD_LIMIT)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()

    async def __aenter__(self) -> EgressProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def reason_for(self, url: str) -> str | None:
        """Why a connection for ``url``'s origin was refused, if it was."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        for refused, reason in reversed(self.refused):
            if (urlsplit(refused).hostname or "").lower() == host:
                return reason
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:  # closed with the portal: a connection task ends quietly
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, _, rest = head.partition(b"\r\n")
        if not self._authorised(rest):
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="zwaudit"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
            )
            await writer.drain()
            return
        method, target, version = request_line.decode("latin-1").split(" ", 2)
        if method.upper() == "CONNECT":
            host, _, port_text = target.rpartition(":")
            url = f"https://{host.strip('[]')}:{port_text}/"
        else:
            url = target
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address, reason = await self._checked_address(url, host, port)
        if reason is not None or address is None:
            reason = reason or "unresolvable"
            self.refused.append((url, reason))
            if len(self.refused) > 200:
                del self.refused[:100]
            log.info("egress refused: %s (%s)", url[:300], reason)
            body = f"egress refused: {reason}".encode()
            writer.write(
                b"HTTP/1.1 403 Forbidden\r\n"
                + f"{REFUSED_HEADER}: refused\r\nContent-Type: text/plain\r\n".encode()
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(address, port)
        except OSError as exc:
            # the destination could not be reached (refused, unreachable): marked, so the probe
            # records a ``connection`` error rather than the proxy's status (a CONNECT that fails
            # is a failed tunnel to Chromium, classified ``connection`` too)
            body = f"unreachable: {exc}"[:300].encode()
            writer.write(
                b"HTTP/1.1 502 Bad Gateway\r\n"
                + f"{UNREACHABLE_HEADER}: {type(exc).__name__}\r\nContent-Type: text/plain\r\n".encode()
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            return
        if method.upper() == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
        else:
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            headers = [
                line
                for line in rest.split(b"\r\n")
                if line and line.split(b":", 1)[0].strip().lower() not in _HOP_HEADERS
            ]
            up_writer.write(
                f"{method} {path} {version}\r\n".encode("latin-1")
                + b"\r\n".join([*headers, b"Connection: close"])
                + b"\r\n\r\n"
            )
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)

    def _authorised(self, headers: bytes) -> bool:
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"proxy-authorization":
                return hmac.compare_digest(value.strip(), self._expected)
        return False

    async def _checked_address(self, url: str, host: str, port: int) -> tuple[str | None, str | None]:
        """The address to connect to, or the refusal: the address checked is the one used."""
        reason, origin = self.policy.precheck(url, scope=False)
        if reason is not None:
            return None, reason
        if origin is None:  # an own origin, or a public address literal: connect as given
            return host, None
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            return None, None
        addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                return None, f"{host} resolves to {address}, a {problem} address"
        return (addresses[0] if addresses else None), None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()
