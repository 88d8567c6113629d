"""The one place a certificate is judged: Python's ``ssl`` against the profile's CA bundle.

Browser contexts navigate with ``ignore_https_errors=True`` (see :mod:`zwaudit.browser`): the
browser observes *content*, and this module gives the *verdict* on the certificate, so a check
never mistakes "Chromium refused the page" for "the page has no password form". Trust comes from
the profile's ``ca_bundle`` when set (the sandbox's local CA), else the system store.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from probes.common.errors import classify_exception
from zwaudit.net.tls import problem_of, trusting, verified_handshake
from zwaudit.outcomes import ErrorKind


@dataclass(frozen=True)
class TlsObservation:
    """What a TLS handshake to ``host:port`` showed.

    ``reachable`` False means no handshake happened (``error_kind`` says why: dns, connection,
    timeout); then ``valid`` is None — nothing was learnt about the certificate.
    """

    url: str
    host: str
    port: int
    reachable: bool
    valid: bool | None
    problem: str | None = None  # expired, not_yet_valid, hostname_mismatch, untrusted, self_signed, other
    message: str = ""
    error_kind: ErrorKind | None = None
    subject: str | None = None
    issuer: str | None = None
    not_after: datetime | None = None
    protocol: str | None = None


def _peer_details(host: str, port: int, timeout: float) -> tuple[str | None, str | None, datetime | None]:
    """Subject, issuer and expiry of the presented certificate, read without verifying it."""
    try:
        from cryptography import x509

        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        if not der:
            return None, None, None
        cert = x509.load_der_x509_certificate(der)
        return cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), cert.not_valid_after_utc
    except (OSError, ValueError):
        return None, None, None


def verify_certificate(url: str, ca_bundle: Path | None = None, *, timeout: float = 15.0) -> TlsObservation:
    """Handshake with ``url``'s host and verify its certificate chain and name (blocking I/O).

    Call from async code with ``await asyncio.to_thread(verify_certificate, url, ca_bundle)``.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    if parts.scheme.lower() != "https":
        return TlsObservation(url, host, port, reachable=False, valid=None, message="not an https URL")
    ctx = trusting(ca_bundle)
    try:
        peer, protocol = verified_handshake(host, port, ctx, timeout=timeout)
        not_after_text = peer.get("notAfter")
        not_after = (
            datetime.fromtimestamp(ssl.cert_time_to_seconds(str(not_after_text)), UTC)
            if not_after_text
            else None
        )
        subject = ", ".join("=".join(x) for rdn in peer.get("subject", ()) for x in rdn)
        issuer = ", ".join("=".join(x) for rdn in peer.get("issuer", ()) for x in rdn)
        return TlsObservation(
            url,
            host,
            port,
            True,
            True,
            subject=subject,
            issuer=issuer,
            not_after=not_after,
            protocol=protocol,
        )
    except ssl.SSLCertVerificationError as err:
        bad_subject, bad_issuer, bad_not_after = _peer_details(host, port, timeout)
        return TlsObservation(
            url,
            host,
            port,
            reachable=True,
            valid=False,
            problem=problem_of(err),
            message=(err.verify_message or str(err))[:300],
            subject=bad_subject,
            issuer=bad_issuer,
            not_after=bad_not_after,
        )
    except (OSError, ssl.SSLError) as exc:
        classified = classify_exception(exc)
        return TlsObservation(
            url,
            host,
            port,
            reachable=False,
            valid=None,
            message=classified.message,
            error_kind=classified.kind,
        )
