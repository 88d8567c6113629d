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
    CONNECTION = "connection"
    HTTP_STATUS = "http_status"
    BLOCKED = "blocked"
    CAPTCHA = "captcha"
    LOGIN_FAILED = "login_failed"
    NOT_FOUND = "element_not_found"
    CONFIG = "config"
    INTERNAL = "internal"
