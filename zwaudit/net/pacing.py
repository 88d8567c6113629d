"""``Crawl-delay`` kept by every process of an audit together: one clock per host, in a file.

The crawler (a Scrapy subprocess, with its own rendering browser) and the browser checks (the
audit's Chromium) reach the same hosts at the same time. Each used to pace its own requests, so
two polite clients made one impolite visitor: on a host asking ``Crawl-delay: 2``, a crawler
request and a probe's navigation could land 0.1 s apart (sbx-xian: 11 to 16 such pairs a run).

A :class:`SharedPacer` keeps, per ``host:port``, a small file: when the last request was sent or
answered, the longest gap asked for the host, and until when a request is *in flight*. A request
to the host is sent only once it can :meth:`~SharedPacer.claim` the host — the gap has passed
since the previous request was answered (or sent, when it never was) and none is in flight —
under an exclusive ``flock`` held for microseconds, never while waiting (waiters poll). The
answer (:meth:`~SharedPacer.answered`) restarts the gap: a request that left late (a new
connection, an event loop busy parsing a 20 MiB page, a loaded machine) still reached the host
before it answered, so the next one keeps the whole gap from its arrival. A request never
answered (a never-ending XHR, a process that died) stops holding the host after ``gap +
IN_FLIGHT_S``.

Who shares the directory: the processes of one audit on one machine (the crawl subprocess
inherits the launcher's working directory and environment: ``ZWAUDIT_PACE_DIR``, else
``<var>/pace``). Across machines a fleet never runs two jobs on one host at once
(``zwaudit.fleet.hosts``: a PostgreSQL lease per host), so a machine-local clock is the whole
story. Only hosts whose robots.txt asks for a ``Crawl-delay`` have a clock; zwaudit's own
configured delay stays each client's (a courtesy, not a promise to the site).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

ENV = "ZWAUDIT_PACE_DIR"
# requests that load a page (what Crawl-delay is about): navigations, frames, a page's XHR/fetch
# and beacons; scripts, styles and images are parts of a page already paced
PAGE_RESOURCE_TYPES = frozenset({"document", "xhr", "fetch", "eventsource", "websocket", "other"})
IN_FLIGHT_S = 2.0  # past gap + this, an unanswered request no longer holds its host
STALE_S = 3600.0  # a clock nobody touched for this long belongs to no running audit: removed
POLL_S = 0.2  # how often a waiter looks at the clock again


def host_key(url: str) -> str:
    """``host:port`` of ``url`` (the scheme's default port spelled out), lower case."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    default = 443 if scheme in ("https", "wss") else 80
    return f"{(parts.hostname or '').lower()}:{port or default}"


def default_dir() -> Path:
    """``ZWAUDIT_PACE_DIR``, else ``<var>/pace`` (:func:`zwaudit.paths.var_dir`)."""
    env = os.environ.get(ENV)
    if env:
        return Path(env)
    from zwaudit.paths import var_dir

    return var_dir() / "pace"


class SharedPacer:
    """Per-host clocks shared through files in ``directory`` (module docstring)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_dir()
        self._usable = True
        self._prune()

    def _prune(self) -> None:
        """Remove clocks of audits long over (a sandbox port reused later must not inherit a
        ``Crawl-delay``); a running audit touches its hosts' clocks at every request."""
        cutoff = time.time() - STALE_S
        with contextlib.suppress(OSError):
            for path in self.directory.glob("*.pace"):
                with contextlib.suppress(OSError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()

    def _file(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        return self.directory / f"{digest}.pace"

    def _update(self, url: str, gap: float, change: str) -> float:
        """Read and rewrite one host's clock under its lock; see :meth:`claim` and co."""
        if not self._usable:
            return 0.0
        path = self._file(host_key(url))
        try:
            if gap <= 0 and not path.exists():
                return 0.0  # a host nobody asked a gap for: no clock, no file
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            self._usable = False  # a read-only or missing var/: each process paces alone, as before
            return 0.0
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last, known, busy = 0.0, 0.0, 0.0
            with contextlib.suppress(ValueError, IndexError):
                fields = os.pread(fd, 128, 0).decode("ascii").split()
                last, known, busy = float(fields[0]), float(fields[1]), float(fields[2])
            gap = max(gap, known)
            now = time.time()
            wait = 0.0
            if change == "claim":
                wait = max(0.0, last + gap - now, busy - now)
                if wait == 0.0:
                    last, busy = now, now + gap + IN_FLIGHT_S
            elif change in ("sent", "answered"):
                last, busy = max(last, now), 0.0
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{last:.6f} {gap:.3f} {busy:.6f}\n".encode("ascii"), 0)
            return wait
        except OSError:
            return 0.0
        finally:
            os.close(fd)  # closing releases the lock

    def claim(self, url: str, gap: float = 0.0) -> float:
        """Take ``url``'s host for a request sent now (returns 0.0), or say how many seconds are
        left before it may be claimed (the gap since the last request, or one in flight).

        The clock keeps the longest gap asked for the host: a caller that has not read the host's
        robots.txt yet (the robots.txt request itself) passes ``gap=0`` and still keeps the
        ``Crawl-delay`` another process learnt."""
        return self._update(url, max(0.0, gap), "claim")

    def sent(self, url: str, gap: float) -> None:
        """A request to ``url``'s host was sent and answered just now, claimed or not (the
        robots.txt that told us the gap): the next request keeps ``gap`` from now."""
        self._update(url, max(0.0, gap), "sent")

    def answered(self, url: str) -> None:
        """A request to ``url``'s host was answered (or failed) now: the host is free again once
        the gap has passed from now (only hosts with a clock)."""
        self._update(url, 0.0, "answered")

    async def wait(self, url: str, gap: float = 0.0) -> float:
        """Wait until ``url``'s host can be claimed, and claim it; returns the seconds waited."""
        started = time.monotonic()
        while True:
            left = self.claim(url, gap)
            if left <= 0:
                return time.monotonic() - started
            await asyncio.sleep(min(left, POLL_S))  # an answer may free the host earlier
