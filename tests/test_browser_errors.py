"""The one error classifier: exceptions, statuses and challenge pages → ErrorKind."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from probes.common.errors import ProbeError, check_response, classify_exception, classify_status
from zwaudit.outcomes import ErrorKind


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (PlaywrightTimeout("Timeout 30000ms exceeded."), ErrorKind.TIMEOUT),
        (PlaywrightError("page.goto: net::ERR_NAME_NOT_RESOLVED at https://x.invalid/"), ErrorKind.DNS),
        (PlaywrightError("page.goto: net::ERR_CERT_AUTHORITY_INVALID at https://x/"), ErrorKind.TLS),
        (
            PlaywrightError("page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:1/"),
            ErrorKind.CONNECTION,
        ),
        (PlaywrightError("page.goto: net::ERR_TIMED_OUT"), ErrorKind.TIMEOUT),
        # the connection was made and broke during the exchange: network, never timeout
        (PlaywrightError("page.goto: net::ERR_CONNECTION_RESET at http://x/"), ErrorKind.NETWORK),
        (PlaywrightError("page.goto: net::ERR_EMPTY_RESPONSE at http://x/"), ErrorKind.NETWORK),
        (PlaywrightError("page.goto: net::ERR_CONTENT_LENGTH_MISMATCH"), ErrorKind.NETWORK),
        (PlaywrightError("page.goto: net::ERR_INCOMPLETE_CHUNKED_ENCODING"), ErrorKind.NETWORK),
        (PlaywrightError("page.goto: net::ERR_CONNECTION_CLOSED"), ErrorKind.NETWORK),
        (PlaywrightError("page.goto: net::ERR_TOO_MANY_REDIRECTS"), ErrorKind.REDIRECT_LOOP),
        (PlaywrightError("Target page, context or browser has been closed"), ErrorKind.INTERNAL),
        (httpx.ConnectTimeout("timed out"), ErrorKind.TIMEOUT),
        (httpx.ConnectError("[Errno -2] Name or service not known"), ErrorKind.DNS),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), ErrorKind.TLS),
        (httpx.ConnectError("[Errno 111] Connection refused"), ErrorKind.CONNECTION),
        (socket.gaierror(-2, "Name or service not known"), ErrorKind.DNS),
        (ssl.SSLCertVerificationError("certificate verify failed"), ErrorKind.TLS),
        (ConnectionRefusedError(111, "refused"), ErrorKind.CONNECTION),
        (TimeoutError(), ErrorKind.TIMEOUT),
        (ProbeError(ErrorKind.CAPTCHA, "captcha"), ErrorKind.CAPTCHA),
        (KeyError("x"), ErrorKind.INTERNAL),
    ],
)
def test_classify_exception(exc: BaseException, kind: ErrorKind) -> None:
    assert classify_exception(exc).kind is kind


def test_http_status_error_uses_status_and_body() -> None:
    request = httpx.Request("GET", "https://x/")
    for status, body, kind in [
        (429, "", ErrorKind.BLOCKED),
        (500, "", ErrorKind.HTTP_STATUS),
        (503, "访问过于频繁", ErrorKind.BLOCKED),
    ]:
        exc = httpx.HTTPStatusError(
            "bad", request=request, response=httpx.Response(status, text=body, request=request)
        )
        assert classify_exception(exc).kind is kind


def test_statuses_and_challenge_pages() -> None:
    assert classify_status(403) is ErrorKind.BLOCKED
    assert classify_status(404) is ErrorKind.HTTP_STATUS
    with pytest.raises(ProbeError) as err:
        check_response(200, "您的访问请求可能对网站造成安全威胁，已被拦截", "https://x/")
    assert err.value.kind is ErrorKind.BLOCKED
    check_response(200, "<h1>个人中心</h1> 欢迎您", "https://x/")  # ordinary content passes
