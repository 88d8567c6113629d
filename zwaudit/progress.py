"""Progress of long work (per portal and check), decoupled from how it is shown.

The orchestrators report to a :class:`ProgressSink`; the CLI picks a live terminal display when
attached to a TTY and structured log lines otherwise (under cron), so the library never prints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

log = logging.getLogger("zwaudit.progress")


class ProgressSink(Protocol):
    def start(self, portal_id: str, stage: str) -> None:
        """A stage (a check, ``crawl``, ``score`` …) starts on a portal."""

    def finish(self, portal_id: str, stage: str, counts: Mapping[str, int], elapsed_s: float) -> None:
        """A stage ended; ``counts`` by status (pass/fail/error/…) or by channel."""


class NullProgress:
    def start(self, portal_id: str, stage: str) -> None:
        return None

    def finish(self, portal_id: str, stage: str, counts: Mapping[str, int], elapsed_s: float) -> None:
        return None


class LogProgress:
    """One structured log line per finished stage (JSON under ``--log-format json``)."""

    def start(self, portal_id: str, stage: str) -> None:
        log.debug("start %s on %s", stage, portal_id, extra={"portal": portal_id, "probe": stage})

    def finish(self, portal_id: str, stage: str, counts: Mapping[str, int], elapsed_s: float) -> None:
        summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing"
        log.info(
            "%s on %s: %s (%.1fs)",
            stage,
            portal_id,
            summary,
            elapsed_s,
            extra={
                "portal": portal_id,
                "probe": stage,
                "count": sum(counts.values()),
                "elapsed_s": round(elapsed_s, 2),
            },
        )
