"""Judging the transport security of a unified-login page: pure predicates over facts (pshtt-style).

Each predicate answers one question a person auditing 统一身份认证 asks ("is the login page served
over http?", "where does the password travel?"); :func:`judge_auth` turns the answers into one
finding per (target, code). What could not be observed is never a pass: an unverified certificate
or an unseen submission turns a would-be pass into an ``error``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from zwaudit.findings import EvidenceRef, Finding
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.targets import normalize_url

PROBE = "auth_https"

_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class PasswordSubmission:
    """A request that carried (or would have carried) the password, aborted before the server."""

    method: str
    url: str
    via: str  # form, xhr, fetch, document, request
    carries_password: bool = True  # False: inferred (non-GET right after submit, body unreadable)


@dataclass(frozen=True)
class CertificateCheck:
    """The certificate of the login host, verified in Python against the CA bundle or the system store."""

    valid: bool | None  # None: could not be verified (connection failed …)
    problem: str = ""
    error_kind: ErrorKind | None = None


@dataclass
class AuthObservation:
    """What the browser saw following the unified-login entry to the password form."""

    start_url: str
    login_url: str | None = None  # the page holding the password form (after redirects)
    chain: list[str] = field(default_factory=list)  # URLs navigated through, in order
    form_action: str | None = None  # resolved action of the password's form, if any
    form_method: str | None = None
    submissions: list[PasswordSubmission] = field(default_factory=list)
    insecure_subresources: list[str] = field(default_factory=list)  # http:// asked for by an https page
    hsts: str | None = None  # Strict-Transport-Security of the login document
    certificate: CertificateCheck | None = None
    error: ErrorKind | None = None
    error_message: str = ""
    how: dict[str, Any] = field(default_factory=dict)
    evidence: list[EvidenceRef] = field(default_factory=list)


def _is_http(url: str | None) -> bool:
    return url is not None and urlsplit(url).scheme.lower() == "http"


def is_login_page_http(o: AuthObservation) -> bool:
    """The password form itself arrived over plain http (暂未使用https进行传输加密)."""
    return _is_http(o.login_url)


def password_destinations(o: AuthObservation) -> list[str]:
    """Where the password goes: observed requests first, else the form's action."""
    carried = [s.url for s in o.submissions if s.carries_password]
    if carried:
        return carried
    inferred = [s.url for s in o.submissions]
    if inferred:
        return inferred
    return [o.form_action] if o.form_action else []


def is_form_posting_http(o: AuthObservation) -> bool:
    """An https login page sends the password over http.

    On an http login page everything typed already travels in clear: that is ``login_page_http``
    alone (the sandbox ground truth and the evaluators' "暂未使用https" finding agree).
    """
    return not _is_http(o.login_url) and any(_is_http(u) for u in password_destinations(o))


def has_mixed_content(o: AuthObservation) -> bool:
    """An https login page asked for subresources over http (scripts could read the password)."""
    return not _is_http(o.login_url) and bool(o.insecure_subresources)


def is_certificate_invalid(o: AuthObservation) -> bool:
    return not _is_http(o.login_url) and o.certificate is not None and o.certificate.valid is False


def hsts_max_age(value: str | None) -> int | None:
    if not value:
        return None
    m = _MAX_AGE.search(value)
    return int(m.group(1)) if m else None


def is_hsts_missing(o: AuthObservation) -> bool:
    """An https login page without a Strict-Transport-Security header with a positive max-age."""
    return not _is_http(o.login_url) and not (hsts_max_age(o.hsts) or 0) > 0


# each declared code of auth_https (config/checks.yaml) and the fact that makes it a fail, in the
# order the findings are written
PREDICATES = {
    "login_page_http": is_login_page_http,
    "form_posts_http": is_form_posting_http,
    "mixed_content": has_mixed_content,
    "certificate_invalid": is_certificate_invalid,
    "hsts_missing": is_hsts_missing,
}


def _unknowns(o: AuthObservation) -> list[tuple[ErrorKind, str]]:
    """What could not be established; they block a pass but never make a fail."""
    out: list[tuple[ErrorKind, str]] = []
    if not _is_http(o.login_url):
        cert = o.certificate
        if cert is None or cert.valid is None:
            kind = (cert.error_kind if cert else None) or ErrorKind.TLS
            out.append((kind, f"certificate not verified: {cert.problem if cert else 'no check ran'}"))
    if not password_destinations(o):
        out.append((ErrorKind.NOT_FOUND, "no password submission observed and the form has no action"))
    return out


def _certificate_detail(cert: CertificateCheck | None) -> dict[str, Any] | None:
    if cert is None:
        return None
    return {
        "valid": cert.valid,
        "problem": cert.problem,
        "error_kind": cert.error_kind and cert.error_kind.value,
    }


def judge_auth(o: AuthObservation) -> list[Finding]:
    """One fail per (target, code); a pass only when every fact was established and compliant."""
    target = normalize_url(o.login_url or o.start_url)
    base: dict[str, Any] = {
        "start_url": o.start_url,
        "login_url": o.login_url,
        "chain": o.chain,
        "how": o.how,
    }
    if o.error is not None or o.login_url is None:
        kind = o.error or ErrorKind.NOT_FOUND
        message = o.error_message or "no page with a password form found"
        return [Finding(PROBE, target, Status.ERROR, kind.value, {"error": message, **base}, o.evidence)]
    facts: dict[str, Any] = {
        **base,
        "form_action": o.form_action,
        "form_method": o.form_method,
        "submissions": [asdict(s) for s in o.submissions],
        "password_destinations": password_destinations(o),
        "insecure_subresources": o.insecure_subresources,
        "hsts": o.hsts,
        "certificate": _certificate_detail(o.certificate),
    }
    fails = [code for code, holds in PREDICATES.items() if holds(o)]
    if fails:
        return [Finding(PROBE, target, Status.FAIL, code, dict(facts), o.evidence) for code in fails]
    unknowns = _unknowns(o)
    if unknowns:
        kind, message = unknowns[0]
        detail = {**facts, "error": message, "unknown": [m for _, m in unknowns]}
        return [Finding(PROBE, target, Status.ERROR, kind.value, detail, o.evidence)]
    return [Finding(PROBE, target, Status.PASS, None, facts, o.evidence)]
