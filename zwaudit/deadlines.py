"""Time limits of a run: per check, per portal (browser and HTTP checks) and per crawl.

Real portals tarpit, drip bodies a byte a second and loop; an unattended run must still end, with
what it learnt. Each limit comes from ``settings.audit`` unless the portal's profile sets its own
(``deadlines:`` in the profile):

- ``check_s`` (``check_timeout_s``): one check on one portal; an overrun is ``error``/``timeout``.
- ``portal_s`` (``portal_deadline_s``): the browser and HTTP checks of one portal, counted from its
  first check. A check running when it passes is cut (``error``/``timeout``); checks not started
  by then are not started and get one ``error``/``timeout`` finding each. The run goes on.
- ``crawl_s`` (``crawl_timeout_s``): one portal's crawl (Scrapy closes that spider cleanly); the
  portal's crawl checks are then ``error``/``timeout``, never run on a truncated catalogue (an
  unread item would become a false "missing").

Crawl checks are not bound by the portal deadline: they only read the database, after the crawl,
which has its own limit, and each is still bound by ``check_s``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from zwaudit.config.schema import PortalProfile, Settings


@dataclass(frozen=True)
class Limits:
    """The resolved limits of one portal, in seconds."""

    check_s: float
    portal_s: float
    crawl_s: float

    @classmethod
    def for_portal(cls, settings: Settings, portal: PortalProfile) -> Limits:
        own, audit = portal.deadlines, settings.audit
        return cls(
            check_s=own.check_s or audit.check_timeout_s,
            portal_s=own.portal_s or audit.portal_deadline_s,
            crawl_s=own.crawl_s or audit.crawl_timeout_s,
        )


class PortalClock:
    """The portal deadline, started when the portal's first browser/HTTP check starts."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._ends_at: float | None = None
        self.hit = False  # whether the deadline cut or skipped anything

    def start(self) -> None:
        if self._ends_at is None:
            self._ends_at = time.monotonic() + self.limits.portal_s

    def extend(self, seconds: float) -> None:
        """Move the deadline ``seconds`` later: time the portal spent waiting for something that
        is not its own (a free portal slot) is not taken from it."""
        if self._ends_at is not None:
            self._ends_at += max(0.0, seconds)

    def remaining(self) -> float:
        if self._ends_at is None:
            return self.limits.portal_s
        return max(0.0, self._ends_at - time.monotonic())

    @property
    def reached(self) -> str:
        """What a finding or the run's summary says of something the deadline cut."""
        return f"portal deadline of {self.limits.portal_s:.0f}s reached"

    def budget(self) -> tuple[float, str]:
        """The time the next check may take and the message of an overrun."""
        left = self.remaining()
        if left < self.limits.check_s:
            return left, self.reached
        return self.limits.check_s, f"check exceeded {self.limits.check_s:.0f}s"
