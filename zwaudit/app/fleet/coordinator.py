"""``nightly`` as the coordinator of a fleet: plan the run as jobs, wait for them, then finish it.

    lock → create (or resume) the run → per portal, in one batch: crawl, then its checks, all
    under the portal's queue lock, each with a queueing lock ``zwaudit:run<N>:<portal>:<unit>``
    → wait (retrying the jobs of workers whose heartbeat stopped) → finish the run
    → evidence from the database → score, export, report, diff, webhook (as ``nightly``)

Only the coordinator creates and finishes the run. A coordinator that died leaves the run
``running`` with its plan in ``summary.fleet``: the next ``nightly`` resumes that run (it enqueues
only the portals that have no job yet; batches are atomic) instead of starting another.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import procrastinate
from procrastinate.jobs import Job
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.check_runner import PortalCheckRunner
from zwaudit.app.fleet.app import JOB_PREFIX, QUEUE, ensure_queue_schema, make_app
from zwaudit.app.nightly import LOCK_NAME, NightlyOptions, NightlyResult, _after_audit, _exit_code, _record
from zwaudit.app.orchestrator import select_checks
from zwaudit.app.progress import NullProgress, ProgressSink
from zwaudit.checks import Requires
from zwaudit.config import Config
from zwaudit.config.schema import PortalProfile, QueueSettings
from zwaudit.db import models, store
from zwaudit.errors import RunError
from zwaudit.evidence_store import make_store
from zwaudit.findings import error_finding
from zwaudit.lock import hold
from zwaudit.outcomes import ErrorKind
from zwaudit.paths import evidence_root
from zwaudit.secrets import Secrets
from zwaudit.targets import normalize_url

log = logging.getLogger(__name__)

NO_WORKER_WARNING_S = 60.0  # how often "no worker is running" is logged while jobs wait


@dataclass
class FleetReport:
    """What the queue did for one run (kept in ``run.summary.fleet``)."""

    jobs: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    retried_stalled: list[int] = field(default_factory=list)  # job ids retried after a dead worker
    failed: list[str] = field(default_factory=list)  # queueing locks of jobs that failed for good
    resumed: bool = False


def job_key(run_id: int, portal_id: str, unit: str) -> str:
    """The queueing lock of one unit of one run: enqueueing it twice is refused."""
    return f"{JOB_PREFIX}:run{run_id}:{portal_id}:{unit}"


def plan_jobs(config: Config, run_id: int, portal_id: str, checks: list[str]) -> list[Job]:
    """One portal's jobs in the order they must run: the crawl (when a check needs it), then the
    checks; the queue runs jobs sharing a lock one at a time, in this order."""
    kinds = {name: config.check_class(name).requires for name in checks}
    lock = f"{JOB_PREFIX}:portal:{portal_id}"
    planned: list[Job] = []
    if Requires.CRAWL in kinds.values():
        planned.append(
            Job(
                queue=QUEUE,
                lock=lock,
                queueing_lock=job_key(run_id, portal_id, "crawl"),
                task_name="zwaudit:crawl_portal",
                task_kwargs={"run_id": run_id, "portal_id": portal_id},
            )
        )
    for name in checks:
        planned.append(
            Job(
                queue=QUEUE,
                lock=lock,
                queueing_lock=job_key(run_id, portal_id, name),
                task_name="zwaudit:run_check",
                task_kwargs={"run_id": run_id, "portal_id": portal_id, "check": name},
            )
        )
    return planned


def validate(config: Config, portals: list[PortalProfile], checks: list[str]) -> None:
    """Fail before any run exists on what the workers would fail on (options, missing secrets)."""
    secrets = Secrets.for_config_dir(config.directory)
    for portal in portals:
        for name in checks:
            config.check_options(portal, name)
        PortalCheckRunner(config, portal, 0, secrets=secrets, browser=None)


def resumable_run(sf: sessionmaker[Session]) -> int | None:
    """The newest nightly run, when it is a fleet run its coordinator never finished."""
    with sf() as session:
        run = session.scalars(
            select(models.Run).where(models.Run.trigger == "nightly").order_by(models.Run.id.desc()).limit(1)
        ).first()
    # ``interrupted``: a run whose lock was taken over may be marked so; a fleet run is resumable
    if run is None or run.status not in ("running", "interrupted") or not (run.summary or {}).get("fleet"):
        return None
    return run.id


def start_or_resume(
    sf: sessionmaker[Session], config: Config, portals: list[PortalProfile], checks: list[str]
) -> tuple[int, list[str], list[str], bool]:
    """(run id, portal ids, checks, resumed): a resumed run keeps the plan it was started with."""
    resumed = resumable_run(sf)
    if resumed is not None:
        with sf.begin() as session:
            run = session.get(models.Run, resumed)
            assert run is not None
            plan = dict((run.summary or {})["fleet"])
            # the resuming coordinator holds the run now: a run whose holder is gone is reaped as
            # interrupted (zwaudit.run_state), and the killed coordinator's pid is gone
            run.status, run.finished_at, run.host = "running", None, store.host_id()
        log.warning("resuming nightly run %s, which its coordinator left unfinished", resumed)
        return resumed, list(plan["portals"]), list(plan["checks"]), True
    run_id = store.start_run(sf, "nightly", config_dir=str(config.directory), portals=portals)
    ids = [p.id for p in portals]
    with sf.begin() as session:
        run = session.get(models.Run, run_id)
        assert run is not None
        run.summary = {"fleet": {"portals": ids, "checks": checks}}
    return run_id, ids, checks, False


class Coordinator:
    """Enqueues one run's jobs, watches them to the end and retries those of dead workers."""

    def __init__(
        self,
        config: Config,
        sf: sessionmaker[Session],
        db_url: str,
        run_id: int,
        portal_ids: list[str],
        checks: list[str],
        queue: QueueSettings,
        progress: ProgressSink,
    ) -> None:
        self.config = config
        self.sf = sf
        self.db_url = db_url
        self.run_id = run_id
        self.portal_ids = portal_ids
        self.checks = checks
        self.queue = queue
        self.progress = progress
        self.report = FleetReport()
        self.prefix = f"{JOB_PREFIX}:run{run_id}:"

    async def _fetch(self, app: procrastinate.App, query: str, **params: Any) -> list[dict[str, Any]]:
        return list(await app.connector.execute_query_all_async(query, **params))

    async def enqueue(self, app: procrastinate.App) -> int:
        """Enqueue the jobs of every portal that has none yet (each portal's batch is atomic)."""
        rows = await self._fetch(
            app,
            "SELECT DISTINCT split_part(queueing_lock, ':', 3) AS portal FROM procrastinate_jobs "
            "WHERE queueing_lock LIKE %(prefix)s",
            prefix=f"{self.prefix}%",
        )
        planned = {r["portal"] for r in rows}
        added = 0
        for portal_id in self.portal_ids:
            if portal_id in planned:
                continue
            batch = plan_jobs(self.config, self.run_id, portal_id, self.checks)
            await app.job_manager.batch_defer_jobs_async(batch)
            added += len(batch)
        return added

    async def retry_stalled(self, app: procrastinate.App) -> None:
        """Put back the jobs of workers that stopped beating (killed, machine lost)."""
        stalled = await app.job_manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=self.queue.stalled_after_s
        )
        for job in stalled:
            if not (job.queueing_lock or "").startswith(self.prefix) or job.id is None:
                continue
            log.warning(
                "run %s: job %s (%s) was left by a worker that stopped; retrying it",
                self.run_id,
                job.id,
                job.queueing_lock,
            )
            await app.job_manager.retry_job(job)
            self.report.retried_stalled.append(job.id)

    async def live_workers(self, app: procrastinate.App) -> int:
        rows = await self._fetch(
            app,
            "SELECT count(*) AS n FROM procrastinate_workers "
            "WHERE last_heartbeat > now() - make_interval(secs => %(s)s)",
            s=self.queue.stalled_after_s,
        )
        return int(rows[0]["n"]) if rows else 0

    async def statuses(self, app: procrastinate.App) -> dict[str, int]:
        rows = await self._fetch(
            app,
            "SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs "
            "WHERE queueing_lock LIKE %(prefix)s GROUP BY status",
            prefix=f"{self.prefix}%",
        )
        return {r["status"]: int(r["n"]) for r in rows}

    async def failed_units(self, app: procrastinate.App) -> list[str]:
        rows = await self._fetch(
            app,
            "SELECT queueing_lock FROM procrastinate_jobs WHERE queueing_lock LIKE %(prefix)s "
            "AND status::text <> 'succeeded' ORDER BY id",
            prefix=f"{self.prefix}%",
        )
        return [str(r["queueing_lock"]) for r in rows]

    async def run(self) -> FleetReport:
        app = make_app(self.db_url)
        async with app.open_async():
            added = await self.enqueue(app)
            log.info("run %s: %d jobs enqueued for %d portals", self.run_id, added, len(self.portal_ids))
            self.progress.start("(fleet)", "jobs")
            started = time.monotonic()
            last: dict[str, int] = {}
            warned = time.monotonic() - NO_WORKER_WARNING_S + 10  # first look after 10 s
            while True:
                await self.retry_stalled(app)
                counts = await self.statuses(app)
                if counts != last:
                    log.info("run %s: jobs %s", self.run_id, dict(sorted(counts.items())))
                    last = counts
                if not counts.get("todo") and not counts.get("doing"):
                    break
                if time.monotonic() - warned > NO_WORKER_WARNING_S and not await self.live_workers(app):
                    log.warning("run %s: no zwaudit worker is running; the jobs wait for one", self.run_id)
                    warned = time.monotonic()
                await asyncio.sleep(self.queue.poll_s)
            self.report.statuses = counts
            self.report.jobs = sum(counts.values())
            self.report.failed = await self.failed_units(app)
            self.progress.finish("(fleet)", "jobs", counts, time.monotonic() - started)
        return self.report

    def record_failed(self) -> None:
        """A unit whose job failed for good still leaves a finding: ``error``/``internal``, so
        the run is complete and the failure is visible (never a silent gap, never a ``fail``)."""
        for key in self.report.failed:
            _, _, portal_id, unit = key.split(":", 3)
            if unit == "crawl":
                continue  # its checks already reported the missing crawl
            cls = self.config.check_class(unit)
            portal = self.config.select_portals([portal_id])[0]
            target = normalize_url(str(portal.home_url))  # as PortalCheckRunner.fallback_target
            finding = error_finding(unit, target, ErrorKind.INTERNAL, "the job failed on every attempt")
            store.replace_findings(self.sf, self.run_id, portal_id, unit, cls.version, [finding])


def finding_counts(sf: sessionmaker[Session], run_id: int) -> dict[str, int]:
    with sf() as session:
        rows = session.execute(
            select(models.Finding.status, func.count())
            .where(models.Finding.run_id == run_id)
            .group_by(models.Finding.status)
        ).all()
    return {status: int(n) for status, n in rows}


def run_fleet_nightly(
    config: Config,
    sf: sessionmaker[Session],
    *,
    db_url: str,
    options: NightlyOptions,
    queue: QueueSettings | None = None,
    progress: ProgressSink | None = None,
) -> NightlyResult:
    """The nightly job with its audit spread over ``zwaudit worker`` processes."""
    sink = progress or NullProgress()
    settings = queue or config.settings.queue or QueueSettings()
    portals = config.select_portals(options.portal_ids)
    if not portals:
        raise RunError(f"nightly: no portals configured in {config.directory / 'portals'}")
    checks = select_checks(config, None)
    validate(config, portals, checks)
    ensure_queue_schema(db_url)
    with hold(sf, LOCK_NAME, stale_after_s=options.stale_after_s) as lock:
        run_id, portal_ids, checks, resumed = start_or_resume(sf, config, portals, checks)
        coordinator = Coordinator(config, sf, db_url, run_id, portal_ids, checks, settings, sink)
        coordinator.report.resumed = resumed
        try:
            report = asyncio.run(coordinator.run())
            coordinator.record_failed()
        except BaseException as exc:
            # the run stays ``running`` with its plan: the next nightly resumes it
            log.error("nightly run %s: the coordinator stopped: %s", run_id, exc)
            raise
        fleet = {"portals": portal_ids, "checks": checks, **report.__dict__}
        summary = {
            "portals": portal_ids,
            "checks": checks,
            "counts": finding_counts(sf, run_id),
            "fleet": fleet,
        }
        store.finish_run(sf, run_id, "ok" if not report.failed else "failed", summary)
        run_dir = store.evidence_run_dir(sf, run_id)
        make_store(settings.evidence, evidence_root(), sf).materialise(run_dir)
        result = NightlyResult(run_id=run_id)
        result.stages["audit"] = "ok" if not report.failed else f"{len(report.failed)} jobs failed"
        _after_audit(config, sf, options, sink, result)
        if lock.lost.is_set():
            result.stages["lock"] = "the lock was taken over by another process during the run"
    result.exit_code = _exit_code(result, options)
    _record(sf, result)
    return result
