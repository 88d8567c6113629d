"""The closed vocabularies of zwaudit: outcome statuses and error kinds.

Set in one place so that a timeout can never be reported as a ``fail`` (GSA Site Scanning's lesson):
every probe reports one of these statuses, and an ``error`` finding carries an :class:`ErrorKind`
as its code, never a reason code.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """What a check concluded about one target."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"


class ErrorKind(StrEnum):
    """Why a check could not conclude. Errors are never failures of the portal."""

    TIMEOUT = "timeout"
    DNS = "dns"
    TLS = "tls"
    CONNECTION = "connection"  # no connection could be made (refused, unreachable)
    NETWORK = "network"  # the connection broke during the exchange (reset mid-body)
    HTTP_STATUS = "http_status"
    BLOCKED = "blocked"
    CAPTCHA = "captcha"
    LOGIN_FAILED = "login_failed"
    NOT_FOUND = "element_not_found"
    CONFIG = "config"
    TOO_LARGE = "too_large"  # a response past the configured size cap (decompressed size included)
    REDIRECT_LOOP = "redirect_loop"  # a redirect loop or a chain past the redirect limit
    TRAP = "trap"  # a crawler trap (endless calendar, session ids, query variants) cut at its bound
    NOT_HTML = "not_html"  # a page expected to be HTML that is not (a PDF guide, octet-stream)
    RATE_LIMITED = "rate_limited"  # 429/503 whose Retry-After outlasted the cap
    EGRESS_REFUSED = "egress_refused"  # the network policy refused the destination; never fetched
    INTERNAL = "internal"


class RunStatus(StrEnum):
    """Where a run stands. Only ``ok`` runs are complete: diffs, regressions and the webhook
    compare with those alone (:func:`zwaudit.app.history.previous_run`)."""

    RUNNING = "running"
    OK = "ok"  # every stage finished
    FAILED = "failed"  # a stage failed; what it stored is kept
    INTERRUPTED = "interrupted"  # its process died (killed, machine lost): found so afterwards
