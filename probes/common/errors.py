"""The one error classifier: exceptions, HTTP statuses and challenge pages → :class:`ErrorKind`.

Every probe funnels what went wrong through here, so a timeout is always ``timeout`` and a WAF
page is always ``blocked`` — never a ``fail`` against the portal and never a ``pass``.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from dataclasses import dataclass

from zwaudit.net import challenge
from zwaudit.net.egress import EgressRefused
from zwaudit.outcomes import ErrorKind

# Chromium net errors (as they appear in Playwright messages) by kind.
_NET_ERRORS: tuple[tuple[re.Pattern[str], ErrorKind], ...] = (
    # zwaudit's own egress guard aborts a refused request with ERR_ACCESS_DENIED
    (re.compile(r"ERR_ACCESS_DENIED"), ErrorKind.EGRESS_REFUSED),
    (re.compile(r"ERR_TOO_MANY_REDIRECTS"), ErrorKind.REDIRECT_LOOP),
    (re.compile(r"ERR_TUNNEL_CONNECTION_FAILED"), ErrorKind.CONNECTION),  # via the egress proxy
    (  # the connection was made and broke during the exchange (a reset mid-body, no answer)
        re.compile(
            r"ERR_CONNECTION_RESET|ERR_CONNECTION_CLOSED|ERR_EMPTY_RESPONSE|ERR_CONTENT_LENGTH_MISMATCH|"
            r"ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_INVALID_CHUNKED_ENCODING|ERR_HTTP2_PROTOCOL_ERROR|"
            r"ERR_RESPONSE_BODY_TOO_BIG_TO_DRAIN"
        ),
        ErrorKind.NETWORK,
    ),
    (re.compile(r"ERR_NAME_NOT_RESOLVED|ERR_NAME_RESOLUTION_FAILED|ERR_DNS_"), ErrorKind.DNS),
    (re.compile(r"ERR_CERT_|ERR_SSL_|ERR_BAD_SSL_CLIENT_AUTH_CERT|ERR_SSL_PROTOCOL"), ErrorKind.TLS),
    (re.compile(r"ERR_TIMED_OUT|ERR_CONNECTION_TIMED_OUT"), ErrorKind.TIMEOUT),
    (re.compile(r"ERR_BLOCKED_BY_RESPONSE|ERR_BLOCKED_BY_ADMINISTRATOR"), ErrorKind.BLOCKED),
    (
        re.compile(r"ERR_HTTP_RESPONSE_CODE_FAILURE|ERR_INVALID_RESPONSE"),
        ErrorKind.HTTP_STATUS,
    ),
    (
        re.compile(
            r"ERR_CONNECTION_|ERR_ADDRESS_UNREACHABLE|ERR_UNSAFE_PORT|ERR_NETWORK_|"
            r"ERR_INTERNET_DISCONNECTED|ERR_SOCKET_|ERR_ABORTED|ERR_PROXY_"
        ),
        ErrorKind.CONNECTION,
    ),
)
_DNS_TEXT = re.compile(
    r"name or service not known|nodename nor servname|temporary failure in name resolution|"
    r"getaddrinfo failed|no address associated",
    re.IGNORECASE,
)
_TLS_TEXT = re.compile(r"certificate|ssl|tls handshake", re.IGNORECASE)


@dataclass(frozen=True)
class Classified:
    """An error kind with a one-line message for the finding's detail."""

    kind: ErrorKind
    message: str


class ProbeError(Exception):
    """Raised by observers for a classified failure to observe; probes turn it into ``error``."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:300]


def classify_net_error(text: str) -> ErrorKind | None:
    """The kind of a Chromium net error named in ``text`` (``net::ERR_…``), or None."""
    for pattern, kind in _NET_ERRORS:
        if pattern.search(text):
            return kind
    return None


def classify_exception(exc: BaseException) -> Classified:
    """The :class:`ErrorKind` of an exception from Playwright, httpx, ssl or sockets."""
    if isinstance(exc, ProbeError):
        return Classified(exc.kind, exc.message)
    if isinstance(exc, EgressRefused):
        return Classified(ErrorKind.EGRESS_REFUSED, str(exc)[:300])
    message = _first_line(exc)
    try:  # Playwright: TimeoutError subclasses Error; net errors are in the message
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        if isinstance(exc, PlaywrightTimeout):
            return Classified(ErrorKind.TIMEOUT, message)
        if isinstance(exc, PlaywrightError):
            full = str(exc)
            net_kind = classify_net_error(full)
            if net_kind is not None:
                return Classified(net_kind, message)
            if "Timeout" in full and "exceeded" in full:
                return Classified(ErrorKind.TIMEOUT, message)
            return Classified(ErrorKind.INTERNAL, message)
    except ImportError:  # pragma: no cover - playwright is a dependency
        pass
    try:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return Classified(ErrorKind.TIMEOUT, message)
        if isinstance(exc, httpx.HTTPStatusError):
            return Classified(classify_status(exc.response.status_code, exc.response.text), message)
        if isinstance(exc, httpx.TransportError):
            if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
                return Classified(ErrorKind.NETWORK, message)  # the exchange broke midway
            cause = exc.__cause__ or exc.__context__
            if cause is not None and cause is not exc and not isinstance(cause, httpx.HTTPError):
                inner = classify_exception(cause)
                if inner.kind is not ErrorKind.INTERNAL:
                    return Classified(inner.kind, message)
            if _DNS_TEXT.search(str(exc)):
                return Classified(ErrorKind.DNS, message)
            if _TLS_TEXT.search(str(exc)):
                return Classified(ErrorKind.TLS, message)
            return Classified(ErrorKind.CONNECTION, message)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | socket.timeout):
        return Classified(ErrorKind.TIMEOUT, message)
    if isinstance(exc, socket.gaierror):
        return Classified(ErrorKind.DNS, message)
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return Classified(ErrorKind.TLS, message)
    if isinstance(exc, ConnectionError | OSError):
        if _DNS_TEXT.search(str(exc)):
            return Classified(ErrorKind.DNS, message)
        return Classified(ErrorKind.CONNECTION, message)
    return Classified(ErrorKind.INTERNAL, f"{type(exc).__name__}: {message}")


def looks_like_challenge(text: str) -> bool:
    """Whether page text or markup is a WAF block page or a vendor's interstitial rather than
    content (:func:`zwaudit.net.challenge.looks_blocked`, shared with the crawler)."""
    return challenge.looks_blocked(text)


def classify_status(status: int, body: str = "") -> ErrorKind:
    """The kind for an HTTP error status; 403/429 and challenge pages are ``blocked``."""
    if status in (403, 429) or (status in (401, 503) and looks_like_challenge(body)):
        return ErrorKind.BLOCKED
    return ErrorKind.HTTP_STATUS


def check_response(status: int | None, body: str = "", url: str = "") -> None:
    """Raise :class:`ProbeError` when a loaded page is an error status or a challenge page."""
    where = f" at {url}" if url else ""
    if status is not None and status >= 400:
        raise ProbeError(classify_status(status, body), f"HTTP {status}{where}")
    # a page that answered 2xx is content unless it *says* it is a block page (a login page
    # offering 安全验证 is not one: issue 13, class 3)
    if body and len(body) < 20000 and challenge.looks_blocked(body):
        raise ProbeError(ErrorKind.BLOCKED, f"an anti-bot or access-denied page{where}")
