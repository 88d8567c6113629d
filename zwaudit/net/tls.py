"""Certificates, judged the same way by the crawler and the probes: Python's ``ssl`` against the
profile's CA bundle (the sandbox's local CA) or, without one, the system store.

Neither HTTP client verifies while fetching (Scrapy's TLS context does not, and the browser
contexts run with ``ignore_https_errors``: a page behind a bad certificate is still read); the
verdict comes from one extra handshake per ``host:port`` (:func:`certificate_problem`), so "the
certificate is bad" is never mistaken for "the page is gone" or the other way round.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def problem_of(err: ssl.SSLCertVerificationError) -> str:
    """``expired``, ``not_yet_valid``, ``hostname_mismatch``, ``self_signed``, ``untrusted`` or
    ``other``: what a verification failure was about."""
    text = f"{err.verify_message or ''} {err}".lower()
    if "expired" in text:
        return "expired"
    if "not yet valid" in text:
        return "not_yet_valid"
    if "hostname" in text or "ip address mismatch" in text:
        return "hostname_mismatch"
    if "self-signed" in text or "self signed" in text:
        return "self_signed"
    if "unable to get local issuer" in text or "unknown ca" in text:
        return "untrusted"
    return "other"


def trusting(ca_bundle: Path | None) -> ssl.SSLContext:
    """A verifying context that trusts ``ca_bundle`` (else the system store); a missing or
    unreadable bundle raises here, before any handshake (a configuration fault, not the site's)."""
    return ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)


def verified_handshake(
    host: str, port: int, ctx: ssl.SSLContext, *, timeout: float = 15.0
) -> tuple[dict[str, Any], str | None]:
    """The verified peer certificate (``getpeercert()``) and TLS version of one handshake with
    ``host:port`` under ``ctx`` (:func:`trusting`). Raises :class:`ssl.SSLCertVerificationError`
    when the chain, dates or name do not verify, and ``OSError``/``ssl.SSLError`` when no
    handshake could be made. Blocking."""
    with (
        socket.create_connection((host, port), timeout=timeout) as sock,
        ctx.wrap_socket(sock, server_hostname=host) as tls,
    ):
        return dict(tls.getpeercert() or {}), tls.version()


def certificate_problem(url: str, ca_bundle: Path | None = None, *, timeout: float = 15.0) -> str | None:
    """``"<problem>: <message>"`` when the certificate of ``url``'s host does not verify (chain,
    dates, name), else ``None`` — also when no handshake could be made (not a certificate verdict;
    the fetch itself reports that) and for ``http`` URLs. Blocking: call in a thread."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return None
    ctx = trusting(ca_bundle)
    try:
        verified_handshake(parts.hostname, parts.port or 443, ctx, timeout=timeout)
        return None
    except ssl.SSLCertVerificationError as err:
        return f"{problem_of(err)}: {(err.verify_message or str(err))[:300]}"
    except (OSError, ssl.SSLError, ValueError):
        return None
