"""The crawl subprocess: ``python -m crawler --run-id N --portal ID … --config DIR --db URL``.

One Scrapy process crawls the portals named (one crawler each, all channels of a portal in one
spider); the launcher (:mod:`zwaudit.app.crawl`) runs it in a subprocess because Twisted's reactor
cannot be restarted and must not share the audit's event loop. As each portal's spider closes, a
JSON line ``{"portal_done": ID, "finish_reason": …}`` is printed; the last line on stdout is a
JSON summary; a failure is one line on stderr and exit status 3.

Resuming: each (run, portal) has a ``JOBDIR`` under ``var/crawl-jobs/`` (named by the run's id
and a digest of its database and start time, so a new database's run 1 never resumes another's). A crawl stopped cleanly
(SIGINT/SIGTERM) resumes from it; a crawl that was killed (no clean-stop marker) cannot trust its
on-disk queue, so that portal is crawled again from its home page — the storage upserts make the
second pass rewrite, never duplicate, the rows already stored. The directories of runs that are
over are pruned at the start of each crawl (:mod:`zwaudit.crawl_jobs`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import shutil
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crawler.config import PortalCrawl
from crawler.spiders.portal import PortalSpider
from zwaudit.config import load_config
from zwaudit.crawl_jobs import crawl_jobs_dir, prune_crawl_jobs
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory
from zwaudit.db.store import database_identity, item_counts, sync_portal
from zwaudit.errors import RunError, UsageError, ZwauditError
from zwaudit.paths import run_dir_name
from zwaudit.run_state import reap_dead_runs

CLEAN_MARKER = "zwaudit-clean-stop"
PORTAL_DONE = "portal_done"  # key of the stdout line printed as each portal's spider closes
PARENT_ENV = "ZWAUDIT_CRAWL_PARENT"  # the launcher's pid (set by zwaudit.app.crawl)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def jobdir_for(run_dir: str, portal_id: str) -> Path:
    """The resumable state of one portal's crawl in one run.

    ``run_dir`` (:func:`zwaudit.paths.run_dir_name`) tells runs apart beyond their id: run ids
    restart at 1 in every new database, and resuming another database's frontier would crawl
    URLs of a sandbox or portal that is gone.
    """
    return crawl_jobs_dir() / run_dir / portal_id


def prepare_jobdir(path: Path) -> str:
    """``resume`` after a clean stop, ``restart`` after a kill (state discarded), else ``new``."""
    if not path.exists():
        return "new"
    if (path / CLEAN_MARKER).exists():
        (path / CLEAN_MARKER).unlink()
        return "resume"
    shutil.rmtree(path)
    return "restart"


def stop_with_parent() -> None:
    """Ask Linux to send SIGTERM when the launching process dies, so a killed ``nightly`` or
    ``audit`` leaves no orphan crawl writing into a run that is over (SIGTERM is Scrapy's clean
    stop, so the JOBDIR stays resumable). Elsewhere, or without a launcher pid, nothing changes.
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):  # the launcher died before the request above took effect
        os.kill(os.getpid(), signal.SIGTERM)


def base_settings() -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    return settings


def build_crawler(
    crawl: PortalCrawl, run_id: int, db_url: str, jobdir: Path | None, *, init_reactor: bool
) -> Crawler:
    settings = base_settings()
    settings.update(crawl.scrapy_settings(jobdir), priority="cmdline")
    settings.set("ZWAUDIT_DB_URL", db_url, priority="cmdline")
    crawler = Crawler(PortalSpider, settings, init_reactor=init_reactor)
    outcome: dict[str, Any] = {}

    def closed(spider: Any, reason: str) -> None:
        outcome["reason"] = reason
        # the launcher learns at once that this portal's items are all stored (the pipeline has
        # flushed before spider_closed), so its checks need not wait for the slowest portal
        line = {PORTAL_DONE: crawl.portal_id, "finish_reason": reason}
        print(json.dumps(line, ensure_ascii=False), flush=True)
        if jobdir is not None and jobdir.exists() and reason != "finished":
            (jobdir / CLEAN_MARKER).write_text(reason)

    def stopped() -> None:
        """A finished portal's resume state is of no more use. Removed once the engine stopped:
        on spider_closed, Scrapy's SpiderState still writes into it (removing it there logged an
        ERROR at the end of every finished crawl)."""
        if jobdir is not None and outcome.get("reason") == "finished":
            shutil.rmtree(jobdir, ignore_errors=True)
            with contextlib.suppress(OSError):  # the run's folder, once its last portal is done
                jobdir.parent.rmdir()

    crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)
    crawler.signals.connect(stopped, signal=signals.engine_stopped, weak=False)
    crawler.zwaudit_outcome = outcome  # type: ignore[attr-defined]
    return crawler


def _run_started(session: Session, run_id: int) -> datetime | None:
    """When the run started, or None when it does not exist (the caller creates the run, and so
    the schema); an unmigrated database is one clear error."""
    try:
        run = session.get(models.Run, run_id)
        return None if run is None else run.started_at
    except OperationalError as exc:
        raise RunError(f"database not initialised (run 'zwaudit db upgrade'): {exc.orig}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler", description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--portal", action="append", default=[], help="portal id (repeatable; default all)")
    parser.add_argument("--config", required=True, help="config directory")
    parser.add_argument("--db", required=True, help="database URL")
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        help="crawl only this channel: portal, mobile, dept or dept:<id> (repeatable; default all)",
    )
    parser.add_argument("--no-jobdir", action="store_true", help="do not keep resumable state")
    args = parser.parse_args(argv)
    stop_with_parent()
    try:
        config = load_config(args.config, validate_probes=False)
        profiles = config.select_portals(args.portal)
        crawls = [PortalCrawl.from_profile(p, config) for p in profiles]
        if args.channel:
            crawls = [c.only(args.channel) for c in crawls]
        engine = make_engine(args.db)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            started = _run_started(session, args.run_id)
            if started is None:
                raise UsageError(f"run {args.run_id} does not exist (the caller creates the run)")
            run_dir = run_dir_name(database_identity(session), args.run_id, started)
            for profile in profiles:
                sync_portal(session, profile)
        reap_dead_runs(sessions)  # a killed run's state is of no use to anyone: prune it below
        with sessions() as session:
            prune_crawl_jobs(session, keep=run_dir)
    except ZwauditError as exc:
        print(f"crawl: {exc}", file=sys.stderr)
        return exc.exit_code
    process = CrawlerProcess(base_settings())  # LOG_INSTALL_ROOT_HANDLER: True by default
    crawlers: list[tuple[PortalCrawl, Crawler, str]] = []
    for index, crawl in enumerate(crawls):
        jobdir = None if args.no_jobdir else jobdir_for(run_dir, crawl.portal_id)
        state = prepare_jobdir(jobdir) if jobdir is not None else "new"
        crawler = build_crawler(crawl, args.run_id, args.db, jobdir, init_reactor=index == 0)
        process.crawl(crawler, crawl=crawl, run_id=args.run_id)
        crawlers.append((crawl, crawler, state))
    # everything built so far (modules, settings, ORM metadata, the profiles) lives until exit:
    # move it out of the cyclic collector's reach so that its passes during the crawl scan only
    # what the crawl allocates (measured by bench/crawl_bench.py)
    gc.freeze()
    process.start()
    summary: dict[str, Any] = {"run_id": args.run_id, "portals": {}}
    failed: list[str] = []
    with sessions() as session:
        for crawl, crawler, state in crawlers:
            reason = crawler.zwaudit_outcome.get("reason", "not started")  # type: ignore[attr-defined]
            stats = crawler.stats.get_stats() if crawler.stats else {}
            summary["portals"][crawl.portal_id] = {
                "finish_reason": reason,
                "state": state,
                "item_counts": item_counts(session, args.run_id, crawl.portal_id),
                "pages": int(stats.get("response_received_count", 0)),
                "errors": int(stats.get("log_count/ERROR", 0)),
            }
            if reason == "closespider_pagecount":
                # a truncated catalogue would turn unread items into "missing" accusations
                failed.append(f"{crawl.portal_id}: stopped at crawl.max_pages={crawl.max_pages}; raise it")
            elif reason == "closespider_timeout":
                failed.append(f"{crawl.portal_id}: crawl deadline of {crawl.timeout_s:.0f}s reached")
            elif reason != "finished":
                failed.append(f"{crawl.portal_id}: {reason}")
    engine.dispose()
    print(json.dumps(summary, ensure_ascii=False))
    if failed:
        print(f"crawl: did not finish: {'; '.join(failed)}", file=sys.stderr)
        return 3
    return 0
