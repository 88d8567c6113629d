"""The audit orchestrator: one run, one browser, a bounded pool of portals, deadlines.

``run_audit`` is the library entry point used by ``zwaudit audit``, ``zwaudit calibrate`` and the
nightly job. Portals are probed concurrently (``settings.audit.portal_concurrency``); within a
portal, the browser and HTTP checks run one after another so per-host politeness holds. Each
(portal, check) is stored as soon as it finishes with :func:`~zwaudit.db.store.replace_findings`,
so an interrupted run keeps what it learnt and a rerun of one check on one portal replaces exactly
its rows.

Crawl-based checks read the snapshots of the run, so the crawl (``zwaudit.app.crawl.crawl``, a
subprocess) starts once at the beginning when such a check is selected. They wait for it on a side
of their own, beside the browser checks: a crawl that runs long never keeps the browser checks from
starting (seen on a hostile portal: a crawl past the run's limit, 0 browser checks run). Every side
is bounded by the deadlines of :mod:`zwaudit.deadlines`; what a deadline cuts is ``error``/``timeout``.
A check that reads the portal's catalogue (``reads_catalogue = True``, e.g. ``search_accuracy``)
runs after the other browser checks and, when this run crawls, does its browser work while the
crawl runs and waits for the portal's catalogue before reading it (within its portal deadline, and
without holding its portal slot or browser contexts meanwhile), so it judges against this run's
items; with ``crawl_for_catalogue``
(calibration) such a check starts the crawl by itself. Such a crawl, started for the catalogue
only (no crawl-based check selected), crawls the portal channel alone: the catalogue is the
portal's own items (:func:`~zwaudit.db.store.latest_catalogue`), and the department sites and the
mobile channel would only cost time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from asyncio import FIRST_COMPLETED
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zwaudit.app.check_runner import CatalogueWait, PortalCheckRunner, reads_catalogue
from zwaudit.app.crawl import crawl as launch_crawl
from zwaudit.app.faults import pause_at
from zwaudit.app.progress import NullProgress, ProgressSink
from zwaudit.browser import AuditBrowser
from zwaudit.checks import Requires
from zwaudit.config.loader import Config
from zwaudit.config.schema import PortalProfile
from zwaudit.db import store
from zwaudit.deadlines import Limits, PortalClock
from zwaudit.errors import RunError, UsageError
from zwaudit.findings import Finding, error_finding
from zwaudit.logs import register_redactor
from zwaudit.outcomes import ErrorKind, RunStatus
from zwaudit.paths import evidence_root
from zwaudit.secrets import Secrets

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from zwaudit.app.crawl import CrawlSummary

log = logging.getLogger("zwaudit.app.orchestrator")

CATALOGUE_CHANNEL = "portal"  # what a catalogue reader reads (zwaudit.db.store.latest_catalogue)
BACKSTOP_S = 300.0  # the launcher's timeout beyond the longest crawl deadline (zwaudit.app.crawl)
_REDACTING: set[tuple[tuple[str, str], ...]] = set()  # personal data already behind a log filter


@dataclass
class AuditResult:
    """What a run produced: its id, its status and the findings counted by status."""

    run_id: int
    status: str = "ok"
    counts: Counter[str] = field(default_factory=Counter)
    by_check: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    error: str | None = None
    deadlines: dict[str, str] = field(default_factory=dict)  # portal → the deadline it hit

    def add(self, portal_id: str, check: str, findings: Sequence[Finding]) -> None:
        per = Counter(f.status.value for f in findings)
        self.by_check[(portal_id, check)] = per
        self.counts.update(per)


@dataclass(frozen=True)
class CrawlOutcome:
    """What the crawl gave the crawl checks: a per-portal summary and/or one error line."""

    summary: CrawlSummary | None = None
    error: str | None = None
    timed_out: bool = False

    def problem(self, portal_id: str) -> tuple[ErrorKind, str] | None:
        """Why ``portal_id``'s crawl checks cannot run (kind, message), or None when they can."""
        result = self.summary.portals.get(portal_id) if self.summary is not None else None
        if result is not None and result.finish_reason == "finished":
            return None
        if result is not None and result.finish_reason == "closespider_timeout":
            return ErrorKind.TIMEOUT, "crawl deadline reached: a truncated catalogue is not judged"
        if self.error is None:
            return None  # a crawl that succeeded (a stand-in crawler may print no summary)
        return (ErrorKind.TIMEOUT if self.timed_out else ErrorKind.INTERNAL), self.error


def select_checks(config: Config, probes: Sequence[str] | None) -> list[str]:
    """The checks to run: those named (validated), else ``settings.checks``, else all registered."""
    names = list(probes or config.settings.checks or sorted(config.check_registry))
    unknown = [n for n in names if n not in config.check_registry]
    if unknown:
        known = ", ".join(sorted(config.check_registry)) or "none registered"
        raise UsageError(f"unknown probe {unknown[0]!r} (known: {known})")
    for name in names:
        config.check_class(name)  # import errors surface now, as a config error naming the key
    return list(dict.fromkeys(names))


class PortalSlot:
    """One of the run's ``portal_concurrency`` slots, held by a portal while its checks run; a
    check may give it up while it waits for something that is not the portal's own work."""

    def __init__(self, pool: asyncio.Semaphore) -> None:
        self.pool = pool
        self.held = False

    async def __aenter__(self) -> PortalSlot:
        await self.pool.acquire()
        self.held = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.held:
            self.held = False
            self.pool.release()

    async def away(self, wait: Awaitable[object]) -> float:
        """Await ``wait`` without the slot, then take it again; the seconds spent queueing for it."""
        if self.held:
            self.held = False
            self.pool.release()
        try:
            await wait
        finally:
            queued = time.monotonic()
            await self.pool.acquire()  # cancelled here, the slot is not held and not released
            self.held = True
        return time.monotonic() - queued


class _Orchestrator:
    def __init__(
        self,
        config: Config,
        sf: sessionmaker[Session],
        portals: list[PortalProfile],
        checks: list[str],
        run_id: int,
        progress: ProgressSink,
        db_url: str,
    ) -> None:
        self.config = config
        self.sf = sf
        self.portals = portals
        self.checks = checks
        self.run_id = run_id
        self.progress = progress
        self.db_url = db_url
        self.secrets = Secrets.for_config_dir(config.directory)
        self.result = AuditResult(run_id)
        self.crawl_task: asyncio.Task[CrawlOutcome] | None = None
        kinds = {name: config.check_class(name).requires for name in checks}
        self.needs_browser = Requires.BROWSER in kinds.values()
        self.crawl_checks = [n for n, k in kinds.items() if k is Requires.CRAWL]
        self.catalogue_checks = [n for n in checks if reads_catalogue(config.check_class(n))]
        self.crawl_for_catalogue = False
        # set as each portal's spider finishes (the crawler says so before the whole crawl ends)
        self.crawled: dict[str, asyncio.Event] = {p.id: asyncio.Event() for p in portals}

    def prepare(self) -> dict[str, PortalCheckRunner]:
        """Resolve secrets and options for every portal before any work (bad config fails fast)."""
        audits: dict[str, PortalCheckRunner] = {}
        for portal in self.portals:
            for name in self.checks:
                self.config.check_options(portal, name)
            audit = PortalCheckRunner(
                self.config,
                portal,
                self.run_id,
                secrets=self.secrets,
                browser=None,
                session_factory=self.sf,
                evidence_root=evidence_root(),
            )
            key = tuple(sorted(audit.personal.items()))
            if audit.personal and key not in _REDACTING:  # a long-lived process audits often
                _REDACTING.add(key)
                register_redactor(audit.redactor)
            audits[portal.id] = audit
        return audits

    async def _crawl(self) -> CrawlOutcome:
        """Run the crawl once, in a thread (the crawler is a subprocess); never raises."""
        limits = [Limits.for_portal(self.config.settings, p).crawl_s for p in self.portals]
        loop = asyncio.get_running_loop()

        def portal_done(portal_id: str, finish_reason: str) -> None:
            # only a spider that finished has stored its whole catalogue; any other ending is
            # judged from the whole crawl's outcome, as before
            event = self.crawled.get(portal_id)
            if event is not None and finish_reason == "finished":
                loop.call_soon_threadsafe(event.set)

        try:
            summary = await asyncio.to_thread(
                launch_crawl,  # looked up here, so that tests can replace the module attribute
                self.run_id,
                [p.id for p in self.portals],
                config_dir=self.config.directory,
                db_url=self.db_url,
                progress=self.progress,
                timeout_s=max(limits) + BACKSTOP_S,  # each spider closes itself at its own deadline
                channels=() if self.crawl_checks else (CATALOGUE_CHANNEL,),
                on_portal=portal_done,
            )
        except Exception as exc:
            log.error("crawl of run %s failed: %s", self.run_id, exc)
            message = f"crawl failed: {exc}" if isinstance(exc, RunError) else f"crawl failed: {exc!r}"
            return CrawlOutcome(
                summary=getattr(exc, "summary", None),
                error=message[:500],
                timed_out=bool(getattr(exc, "timed_out", False)),
            )
        # a stand-in crawler (tests) may return something else: then only "it succeeded" is known
        return CrawlOutcome(summary=summary if hasattr(summary, "portals") else None)

    async def _run_one(self, audit: PortalCheckRunner, name: str, clock: PortalClock | None = None) -> None:
        """Run one check and store it; ``clock`` (browser/HTTP checks) bounds it by the portal deadline."""
        portal_id = audit.portal.id
        cls = self.config.check_class(name)
        self.progress.start(portal_id, name)
        started = time.monotonic()
        if clock is None:
            findings = await audit.run_check(name)
        else:
            budget, overrun = clock.budget()
            findings = await audit.run_check(name, budget, overrun)
            if any(f.code == ErrorKind.TIMEOUT.value and f.detail.get("error") == overrun for f in findings):
                clock.hit = True
        self._store(audit, name, cls.version, findings)
        self.progress.finish(
            portal_id, name, dict(Counter(f.status.value for f in findings)), time.monotonic() - started
        )
        pause_at("probes")  # fault-injection tests only (zwaudit.app.faults)

    async def _portal_crawled(self, portal_id: str, timeout: float | None) -> bool:
        """Wait until ``portal_id``'s spider has finished (its items are stored) or the whole
        crawl has ended, at most ``timeout`` seconds; whether the portal's crawl finished."""
        assert self.crawl_task is not None
        event = self.crawled[portal_id]
        if not event.is_set() and not self.crawl_task.done():
            waiter = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait({waiter, self.crawl_task}, timeout=timeout, return_when=FIRST_COMPLETED)
            finally:
                waiter.cancel()
        return event.is_set()

    def _store(self, audit: PortalCheckRunner, name: str, version: str, findings: list[Finding]) -> None:
        observation = audit.observations.pop(name, None)
        store.replace_findings(self.sf, self.run_id, audit.portal.id, name, version, findings, observation)
        self.result.add(audit.portal.id, name, findings)

    def _store_error(self, audit: PortalCheckRunner, name: str, kind: ErrorKind, message: str) -> None:
        cls = self.config.check_class(name)
        self._store(audit, name, cls.version, [error_finding(name, audit.fallback_target, kind, message)])

    async def _browser_side(
        self, audit: PortalCheckRunner, names: list[str], pool: asyncio.Semaphore
    ) -> None:
        """The browser and HTTP checks of one portal, in sequence (per-host politeness), under the
        portal deadline; what the deadline leaves unstarted is stored as ``error``/``timeout``.

        Checks that read this run's catalogue go last. They do their browser work while the
        crawl runs and wait for the portal's catalogue only to read it
        (:attr:`~zwaudit.checks.CheckContext.catalogue_ready`), without the portal's slot: a
        portal whose crawl runs long would otherwise keep one of ``portal_concurrency`` slots
        idle as long, and the portals behind it would wait (calibration: two slots of four idle
        40 s on two single-page-app crawls, and the searches of those portals only after them).
        """
        if not names:
            return
        clock = PortalClock(Limits.for_portal(self.config.settings, audit.portal))
        names = sorted(names, key=lambda n: n in self.catalogue_checks)
        slot = PortalSlot(pool)
        if self.crawl_task is not None:
            audit.catalogue_gate = functools.partial(self._catalogue_gate, audit, slot, clock)
        async with slot:
            clock.start()
            for name in names:
                if clock.remaining() <= 0:
                    clock.hit = True
                    message = f"{clock.reached} before this check started"
                    self._store_error(audit, name, ErrorKind.TIMEOUT, message)
                    continue
                await self._run_one(audit, name, clock)
        if clock.hit:
            self.result.deadlines[audit.portal.id] = clock.reached

    async def _catalogue_gate(
        self, audit: PortalCheckRunner, slot: PortalSlot, clock: PortalClock
    ) -> CatalogueWait:
        """Wait, without the portal's slot or browser contexts, until this run's crawl of the
        portal is done or the portal deadline comes: what the deadline then allows a check, and
        why this run's catalogue must not be read, if it must not."""
        portal_id = audit.portal.id
        if self._crawl_pending(portal_id):
            await audit.release_contexts()  # the check is done with the browser; opened again on use
            queued = await slot.away(self._portal_crawled(portal_id, clock.remaining()))
            if self._crawl_pending(portal_id):
                clock.hit = True
                return CatalogueWait((0.0, clock.reached))
            clock.extend(queued)  # the wait for a free slot is not the portal's
            budget: tuple[float, str] | None = clock.budget()
        else:
            budget = None
        if self.crawled[portal_id].is_set() or self.crawl_task is None:
            return CatalogueWait(budget)
        # the portal's spider did not finish: what it stored is a part of the catalogue at most,
        # which, like the crawl checks, this check does not judge against
        problem = self.crawl_task.result().problem(portal_id)
        return CatalogueWait(budget, problem[1] if problem is not None else "")

    def _crawl_pending(self, portal_id: str) -> bool:
        """Whether this run's crawl is still working on ``portal_id``'s catalogue."""
        return (
            self.crawl_task is not None
            and not self.crawl_task.done()
            and not self.crawled[portal_id].is_set()
        )

    async def _crawl_side(self, audit: PortalCheckRunner, names: list[str]) -> None:
        """The crawl checks of one portal: they wait for the crawl (never holding a portal slot,
        so a slow crawl cannot starve the browser checks), then read what it stored."""
        if not names:
            return
        assert self.crawl_task is not None
        # a portal whose spider finished is judged at once; otherwise the crawl's outcome decides
        finished = await self._portal_crawled(audit.portal.id, None)
        problem = None if finished else (await asyncio.shield(self.crawl_task)).problem(audit.portal.id)
        if problem is not None:
            kind, message = problem
            if kind is ErrorKind.TIMEOUT:
                self.result.deadlines.setdefault(f"{audit.portal.id} (crawl)", message)
            for name in names:
                self._store_error(audit, name, kind, message)
            return
        for name in names:
            await self._run_one(audit, name)

    async def _portal(self, audit: PortalCheckRunner, pool: asyncio.Semaphore) -> None:
        kinds = {name: self.config.check_class(name).requires for name in self.checks}
        crawl_side = [n for n in self.checks if kinds[n] is Requires.CRAWL]
        browser_side = [n for n in self.checks if kinds[n] is not Requires.CRAWL]
        try:
            results = await asyncio.gather(
                self._browser_side(audit, browser_side, pool),
                self._crawl_side(audit, crawl_side),
                return_exceptions=True,
            )
            for outcome in results:
                if isinstance(outcome, BaseException):
                    raise outcome
        finally:
            await audit.close()

    async def run(self, audits: dict[str, PortalCheckRunner]) -> None:
        if self.crawl_checks or (self.crawl_for_catalogue and self.catalogue_checks):
            self.crawl_task = asyncio.create_task(self._crawl())
        pool = asyncio.Semaphore(self.config.settings.audit.portal_concurrency)
        browser = (
            AuditBrowser(self.config.settings.browser, self.config.settings.user_agent)
            if self.needs_browser
            else None
        )
        try:
            if browser is not None:
                await browser.start()
            for audit in audits.values():
                audit.browser = browser
            results = await asyncio.gather(
                *(self._portal(a, pool) for a in audits.values()), return_exceptions=True
            )
            for outcome in results:
                if isinstance(outcome, BaseException):
                    raise outcome
            if self.crawl_task is not None:
                await self.crawl_task
        finally:
            if self.crawl_task is not None and not self.crawl_task.done():
                self.crawl_task.cancel()
            if browser is not None:
                await browser.close()


def run_audit(
    config: Config,
    sf: sessionmaker[Session],
    *,
    portal_ids: list[str] | None,
    probes: list[str] | None,
    trigger: str = "audit",
    run_id: int | None = None,
    progress: ProgressSink | None = None,
    db_url: str,
    crawl_for_catalogue: bool = False,
    leave_running: bool = False,
) -> AuditResult:
    """Run ``probes`` (default: all) on ``portal_ids`` (default: all) and store one run.

    ``crawl_for_catalogue``: crawl also when only checks that read the catalogue are selected
    (calibration, whose ground truth assumes this run's catalogue).

    Bad input (unknown portal or probe, missing secret) raises before a run row is created.
    A run that breaks half-way is finished as ``failed`` with the error and the exception
    re-raised; findings already stored stay stored. ``leave_running`` (the nightly job, whose run
    is complete only after scoring and export) stores the summary but leaves the run ``running``
    for the caller to finish.
    """
    portals = config.select_portals(portal_ids)
    checks = select_checks(config, probes)
    sink = progress or NullProgress()
    orchestrator = _Orchestrator(config, sf, portals, checks, run_id or 0, sink, db_url)
    orchestrator.crawl_for_catalogue = crawl_for_catalogue
    audits = orchestrator.prepare()
    if run_id is None:
        run_id = store.start_run(sf, trigger, config_dir=str(config.directory), portals=portals)
    else:
        store.sync_portals(sf, run_id, portals)
    orchestrator.run_id = orchestrator.result.run_id = run_id
    for audit in audits.values():
        audit.run_id = run_id
    try:
        asyncio.run(orchestrator.run(audits))
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"[:500]
        with contextlib.suppress(Exception):  # the database itself may be what failed
            store.finish_run(sf, run_id, RunStatus.FAILED, {"error": message})
        orchestrator.result.status, orchestrator.result.error = "failed", message
        raise
    summary = {
        "deadlines": orchestrator.result.deadlines,  # what a deadline cut: the run ended with what it had
        "portals": [p.id for p in portals],
        "checks": checks,
        "counts": dict(orchestrator.result.counts),
    }
    if leave_running:
        store.update_summary(sf, run_id, summary)
    else:
        store.finish_run(sf, run_id, RunStatus.OK, summary)
    return orchestrator.result
