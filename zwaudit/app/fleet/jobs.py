"""The fleet's units of work, which are the units zwaudit already had.

* ``crawl_portal(run_id, portal_id)``: crawl one portal into the run (the same subprocess as
  ``zwaudit crawl``; upserts keep its rows unique when a retried crawl sees a page again) and
  record how it ended in ``crawl_outcome``.
* ``run_check(run_id, portal_id, check)``: run one check on one portal and replace its findings
  (``store.replace_findings``: one transaction, so a retried job replaces, never duplicates).

No job creates, finishes or fails the run: that is the coordinator's alone. Both jobs take the
fleet-wide leases of the portal's hosts (:mod:`zwaudit.app.fleet.hosts`) and run under the portal's
queue lock, so a portal sees one job at a time: the crawl first, then its checks in order.
A job that raises is retried by Procrastinate (three attempts); a job whose worker died
is retried by the coordinator once that worker's heartbeat is older than ``queue.stalled_after_s``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from procrastinate import Blueprint, JobContext, RetryStrategy
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.check_runner import PortalCheckRunner
from zwaudit.app.crawl import crawl
from zwaudit.app.fleet.app import conninfo
from zwaudit.app.fleet.hosts import host_leases, portal_hosts
from zwaudit.browser import AuditBrowser
from zwaudit.checks import Requires
from zwaudit.config.loader import Config
from zwaudit.config.schema import QueueSettings
from zwaudit.db import models, store
from zwaudit.errors import ZwauditError
from zwaudit.evidence_store import EvidenceStore, make_store
from zwaudit.findings import Finding, error_finding, utcnow
from zwaudit.logs import register_redactor
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.secrets import Secrets

log = logging.getLogger(__name__)

tasks = Blueprint()
RETRY = RetryStrategy(max_attempts=3, wait=5)  # a job that raised (a database blip) runs again


@dataclass
class WorkerEnv:
    """What every job of one worker process shares: config, database, evidence, one browser."""

    config: Config
    sf: sessionmaker[Session]
    db_url: str
    evidence_root: Path
    queue: QueueSettings
    evidence: EvidenceStore = field(init=False)
    secrets: Secrets = field(init=False)
    _browser: AuditBrowser | None = None
    _browser_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _redacting: set[tuple[tuple[str, str], ...]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.evidence = make_store(self.queue.evidence, self.evidence_root, self.sf)
        self.secrets = Secrets.for_config_dir(self.config.directory)

    async def browser(self) -> AuditBrowser:
        """The worker's one Chromium (a context per job), started by the first browser job."""
        async with self._browser_lock:
            if self._browser is None:
                settings = self.config.settings
                browser = AuditBrowser(settings.browser, settings.user_agent)
                await browser.start()
                self._browser = browser
            return self._browser

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None

    def check_runner(self, portal_id: str, run_id: int) -> PortalCheckRunner:
        portal = self.config.select_portals([portal_id])[0]
        audit = PortalCheckRunner(
            self.config,
            portal,
            run_id,
            secrets=self.secrets,
            browser=None,
            session_factory=self.sf,
            evidence_root=self.evidence_root,
        )
        key = tuple(sorted(audit.personal.items()))
        if audit.personal and key not in self._redacting:  # personal data never reaches a log line
            self._redacting.add(key)
            register_redactor(audit.redactor)
        return audit


_ENV: WorkerEnv | None = None


def install(env: WorkerEnv | None) -> None:
    """Set (or clear) the environment the jobs of this process run in."""
    global _ENV
    _ENV = env


def current() -> WorkerEnv:
    if _ENV is None:
        raise RuntimeError("no worker environment: start jobs with 'zwaudit worker'")
    return _ENV


def crawl_error(sf: sessionmaker[Session], run_id: int, portal_id: str) -> str | None:
    """Why the crawl-based checks of this portal cannot be judged (None: the crawl finished)."""
    with sf() as session:
        row = session.get(models.CrawlOutcome, (run_id, portal_id))
    if row is None:
        return "the crawl of this portal did not finish"
    return row.error


def record_crawl(sf: sessionmaker[Session], run_id: int, portal_id: str, error: str | None) -> None:
    with sf.begin() as session:
        row = session.get(models.CrawlOutcome, (run_id, portal_id))
        if row is None:
            session.add(
                models.CrawlOutcome(run_id=run_id, portal_id=portal_id, error=error, finished_at=utcnow())
            )
        else:
            row.error, row.finished_at = error, utcnow()


def _who(context: JobContext) -> str:
    job = context.job
    return f"job {job.id} ({job.task_name}, attempt {job.attempts + 1}) on worker {job.worker_id} pid {os.getpid()}"


@tasks.task(name="crawl_portal", queue="zwaudit", pass_context=True, retry=RETRY)
async def crawl_portal(context: JobContext, run_id: int, portal_id: str) -> None:
    """Crawl one portal into ``run_id``; a crawl that fails is recorded, not raised."""
    env = current()
    log.info("%s: crawl %s into run %s", _who(context), portal_id, run_id)
    portal = env.config.select_portals([portal_id])[0]
    error: str | None = None
    async with host_leases(conninfo(env.db_url), portal_hosts(portal), label=f"crawl {portal_id}"):
        try:
            await asyncio.to_thread(
                crawl, run_id, [portal_id], config_dir=env.config.directory, db_url=env.db_url
            )
        except ZwauditError as exc:
            error = f"crawl failed: {exc}"[:500]
            log.error("run %s: %s: %s", run_id, portal_id, error)
    record_crawl(env.sf, run_id, portal_id, error)


@tasks.task(name="run_check", queue="zwaudit", pass_context=True, retry=RETRY)
async def run_check(context: JobContext, run_id: int, portal_id: str, check: str) -> None:
    """Run ``check`` on ``portal_id`` and replace its findings in ``run_id``."""
    env = current()
    log.info("%s: %s on %s in run %s", _who(context), check, portal_id, run_id)
    cls = env.config.check_class(check)
    audit = env.check_runner(portal_id, run_id)
    if cls.requires is Requires.CRAWL:
        reason = await asyncio.to_thread(crawl_error, env.sf, run_id, portal_id)
        if reason is not None:
            findings = [error_finding(check, audit.fallback_target, ErrorKind.INTERNAL, reason)]
            await asyncio.to_thread(
                store.replace_findings, env.sf, run_id, portal_id, check, cls.version, findings
            )
            return
    if cls.requires is Requires.BROWSER:
        audit.browser = await env.browser()
    async with host_leases(conninfo(env.db_url), portal_hosts(audit.portal), label=f"{check} {portal_id}"):
        try:
            findings = await audit.run_check(check)
        finally:
            await audit.close()
    observation = audit.observations.pop(check, None)  # a two-phase check's, published with its evidence
    carrier = (
        []
        if observation is None
        else [Finding(check, "observation", Status.PASS, evidence=[observation.ref])]
    )
    await asyncio.to_thread(env.evidence.publish, [*findings, *carrier])
    await asyncio.to_thread(
        store.replace_findings, env.sf, run_id, portal_id, check, cls.version, findings, observation
    )
