"""The nightly job: crawl, probe, score, export and report every configured portal as one run.

    lock → run_audit (trigger ``nightly``; it runs the crawl when crawl checks are selected)
         → score_run (every framework) → evidence CSV + bundle → HTML report
         → diff with the previous nightly run → webhook

Exit codes a scheduler can act on: 0 ok; 1 regressions (new fails or indicator drops) when asked
with ``fail_on_regression``; 2 usage/config error (raised before anything runs); 3 run error
(the lock is held, or a stage failed). A stage that fails after the audit does not throw away
what the audit stored: the remaining stages still run, and the run records which stage failed.

The scoring stage is loaded by name (``scoring.api``): the core never imports ``scoring``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from scoring.api import score_run
from zwaudit.app.export import ExportFilter, export_csv, redactors_for
from zwaudit.app.export_bundle import write_bundle
from zwaudit.app.faults import pause_at
from zwaudit.app.history import RunDiff, comparison_run, diff_runs
from zwaudit.app.orchestrator import run_audit
from zwaudit.app.progress import NullProgress, ProgressSink
from zwaudit.app.report.render import write_report
from zwaudit.app.webhook import post_summary
from zwaudit.config import Config
from zwaudit.db import models
from zwaudit.db.engine import driver_message
from zwaudit.errors import EXIT_OK, EXIT_REGRESSION, EXIT_RUN_ERROR, RunError, ZwauditError
from zwaudit.findings import utcnow
from zwaudit.lock import DEFAULT_STALE_AFTER_S, hold
from zwaudit.outcomes import RunStatus
from zwaudit.run_state import reap_dead_runs

log = logging.getLogger(__name__)

LOCK_NAME = "nightly"
RUN_SCOPE = "(run)"  # the progress "portal" of run-wide stages


@dataclass(frozen=True)
class NightlyOptions:
    portal_ids: list[str] | None = None
    out: Path = Path("out")
    fail_on_regression: bool = False
    stale_after_s: float = DEFAULT_STALE_AFTER_S


@dataclass
class NightlyResult:
    run_id: int
    stages: dict[str, str] = field(default_factory=dict)  # stage → "ok" or the error line
    csv: Path | None = None
    bundle: Path | None = None
    report: Path | None = None
    previous_run: int | None = None
    diff: RunDiff | None = None
    webhook_delivered: bool | None = None
    exit_code: int = EXIT_OK

    @property
    def failed_stages(self) -> list[str]:
        return [s for s, state in self.stages.items() if state != "ok"]


def _timed(progress: ProgressSink, stage: str, fn: Callable[[], dict[str, int]]) -> None:
    progress.start(RUN_SCOPE, stage)
    started = time.monotonic()
    counts = fn()
    progress.finish(RUN_SCOPE, stage, counts, time.monotonic() - started)


def run_nightly(
    config: Config,
    sf: sessionmaker[Session],
    *,
    db_url: str,
    options: NightlyOptions,
    progress: ProgressSink | None = None,
) -> NightlyResult:
    """Run the whole nightly job under the ``nightly`` lock (see the module docstring)."""
    sink = progress or NullProgress()
    portals = config.select_portals(options.portal_ids)  # unknown portal → UsageError before the lock
    if not portals:
        raise RunError(f"nightly: no portals configured in {config.directory / 'portals'}")
    with hold(sf, LOCK_NAME, stale_after_s=options.stale_after_s) as lock:
        reap_dead_runs(sf)  # e.g. an `audit` killed on this host: never a run to compare with
        try:
            audit = run_audit(
                config,
                sf,
                portal_ids=[p.id for p in portals],
                probes=None,
                trigger="nightly",
                progress=sink,
                db_url=db_url,
                leave_running=True,  # complete only after every stage: _record finishes it
            )
        except ZwauditError:
            raise
        except DBAPIError as exc:  # the database went away (restarted, network cut) mid-run
            raise RunError(f"nightly: the database was lost during the audit: {driver_message(exc)}") from exc
        except Exception as exc:  # the orchestrator stored what it could and marked the run failed
            raise RunError(f"nightly: the audit stage failed: {type(exc).__name__}: {exc}"[:500]) from exc
        result = NightlyResult(run_id=audit.run_id)
        result.stages["audit"] = "ok"
        _after_audit(config, sf, options, sink, result)
        if lock.lost.is_set():
            result.stages["lock"] = "the lock was taken over by another process during the run"
    result.exit_code = _exit_code(result, options)
    try:
        _record(sf, result)
    except DBAPIError as exc:  # the run stays "running" and is found interrupted by the next run
        raise RunError(
            f"nightly: the database was lost recording run {result.run_id}: {driver_message(exc)}"
        ) from exc
    return result


def _stage(result: NightlyResult, name: str, action: Callable[[], None]) -> None:
    """Run one stage; its failure is recorded (one line) and the next stages still run."""
    try:
        action()
        result.stages[name] = "ok"
    except ZwauditError as exc:
        result.stages[name] = str(exc)
        log.error("nightly: %s stage failed: %s", name, exc)
    except Exception as exc:
        result.stages[name] = f"{type(exc).__name__}: {exc}"[:500]
        log.exception("nightly: %s stage failed", name)


def _after_audit(
    config: Config,
    sf: sessionmaker[Session],
    options: NightlyOptions,
    sink: ProgressSink,
    result: NightlyResult,
) -> None:
    run_id = result.run_id
    out = options.out

    def score() -> None:
        def go() -> dict[str, int]:
            pause_at("score")  # fault-injection tests only (zwaudit.app.faults)
            scored = score_run(sf, run_id, None, config)
            return {fw: len(rows) for fw, rows in scored.items()}

        _timed(sink, "score", go)

    redactors = redactors_for(config)

    def export() -> None:
        def go() -> dict[str, int]:
            result.csv = out / f"findings-run{run_id}.csv"
            exported = export_csv(
                sf, ExportFilter(run_id), result.csv, redactors=redactors, collect_evidence=True
            )
            pause_at("export")  # fault-injection tests only (zwaudit.app.faults)
            result.bundle = out / f"evidence-run{run_id}.zip"
            packed = write_bundle(result.bundle, result.csv, exported.evidence, run_id=run_id)
            return {"rows": exported.rows, "files": packed.files, "missing": len(packed.missing)}

        _timed(sink, "export", go)

    def report() -> None:
        def go() -> dict[str, int]:
            result.report = write_report(sf, run_id, out / "report", config=config, redactors=redactors)
            return {}

        _timed(sink, "report", go)

    def compare() -> None:
        with sf() as session:
            # only a completed (ok) nightly run: never one that was interrupted or failed, nor a
            # run of another kind (the report compares with the same run)
            result.previous_run = comparison_run(session, run_id)
            if result.previous_run is not None:
                result.diff = diff_runs(session, result.previous_run, run_id)

    _stage(result, "score", score)
    _stage(result, "export", export)
    _stage(result, "report", report)
    _stage(result, "diff", compare)
    url = config.settings.webhook_url
    if url is not None:
        payload = webhook_payload(result)
        result.webhook_delivered = post_summary(str(url), payload, user_agent=config.settings.user_agent)


def webhook_payload(result: NightlyResult) -> dict[str, Any]:
    """The JSON the webhook receives: run, stages, outputs and the regressions per portal."""
    body: dict[str, Any] = {
        "event": "zwaudit.app.nightly",
        "run": result.run_id,
        "previous_run": result.previous_run,
        "stages": dict(result.stages),
        "outputs": {
            "csv": str(result.csv) if result.csv else None,
            "bundle": str(result.bundle) if result.bundle else None,
            "report": str(result.report) if result.report else None,
        },
    }
    if result.diff is not None:
        summary = result.diff.summary()
        body.update({k: v for k, v in summary.items() if k not in ("run", "previous_run")})
        body["regressed"] = result.diff.regressed
    else:
        body.update({"regressed": False, "new_fails": 0, "fixed": 0, "indicator_drops": 0, "portals": {}})
    return body


def _exit_code(result: NightlyResult, options: NightlyOptions) -> int:
    if result.failed_stages:
        return EXIT_RUN_ERROR
    if options.fail_on_regression and result.diff is not None and result.diff.regressed:
        return EXIT_REGRESSION
    return EXIT_OK


def _record(sf: sessionmaker[Session], result: NightlyResult) -> None:
    """Keep the nightly stages and outputs in the run's summary (``zwaudit runs`` shows the run)."""
    with sf.begin() as session:
        run = session.get(models.Run, result.run_id)
        if run is None:
            return
        nightly = {
            "stages": dict(result.stages),
            "previous_run": result.previous_run,
            "regressed": bool(result.diff and result.diff.regressed),
            "outputs": webhook_payload(result)["outputs"],
        }
        run.summary = {**(run.summary or {}), "nightly": nightly}
        if run.status == RunStatus.RUNNING:  # not when found interrupted meanwhile (lock lost)
            run.status = RunStatus.FAILED if result.failed_stages else RunStatus.OK
            run.finished_at = utcnow()
