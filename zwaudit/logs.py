"""Logging: readable text on a terminal, one JSON object per line under cron or CI.

Every record passes through a redaction filter bound to the personal data of the accounts in
use, so a probe that logs a page title cannot leak a test account's name into the logs.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from zwaudit.redact import Redactor

_redactors: list[Redactor] = []


def register_redactor(redactor: Redactor) -> None:
    """Make every later log line pass through ``redactor``."""
    _redactors.append(redactor)


def _redact(text: str) -> str:
    for redactor in _redactors:
        text = redactor(text)
    return text


class RedactingFilter(logging.Filter):
    """Redact the message and the traceback (an exception's text can quote a page, too)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if _redactors:
            record.msg, record.args = _redact(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            if record.exc_text:
                # formatters print exc_text when it is set, so the raw exception is never shown
                record.exc_text = _redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("run_id", "portal", "probe", "count", "elapsed_s"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info or record.exc_text:
            text = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
            payload["exc"] = text.splitlines()[-1]
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: int = logging.WARNING, fmt: str | None = None) -> None:
    """Configure the root logger once; ``fmt`` None picks text on a TTY and JSON otherwise."""
    if fmt is None:
        fmt = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("scrapy", "asyncio", "urllib3", "httpx", "httpcore", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
