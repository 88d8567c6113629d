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


def certificate_problem(url: str, ca_bundle: Path | None = None, *, timeout: float = 15.0) -> str | None:
    """``"<problem>: <message>"`` when the certificate of ``url``'s host does not verify (chain,
    dates, name), else ``None`` — also when no handshake could be made (not a certificate verdict;
    the fetch itself reports that) and for ``http`` URLs. Blocking: call in a thread."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or 443
    ctx = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as err:
        return f"{problem_of(err)}: {(err.verify_message or str(err))[:300]}"
    except (OSError, ssl.SSLError, ValueError):
        return None
