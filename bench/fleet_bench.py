"""The fleet on the sandbox with real politeness: 1 worker vs 2, a SIGKILL, and the queue at 100k jobs.

    .venv/bin/python bench/fleet_bench.py [--province sbx-shu ...] [--max-pages 40] [--delay 1.0]

Needs PostgreSQL (``ZWAUDIT_TEST_PG``, default postgres@127.0.0.1:5432; a scratch database per
measurement, dropped after) and nothing else: workers and coordinator are ``zwaudit worker`` and
``zwaudit nightly`` processes started here. Printed side by side, from one run:

* wall time of the nightly run with 1 worker and with 2 (crawl + two crawl-based checks per portal,
  every profile at ``delay_seconds`` per request, AutoThrottle off so the delay is the delay);
* each run against its *politeness bound*: a portal's requests (counted by the sandbox) × the
  delay is the least time politeness allows that portal (its jobs run one at a time, and in the
  sandbox all its sites share the host 127.0.0.1, one Scrapy slot); with W workers the bound is
  ``max(longest portal, sum of portals / W)``. wall / bound says how close the fleet gets;
* a 2-worker run where one worker is SIGKILLed during a crawl: jobs lost (expected jobs minus
  succeeded) and the time from the kill until the killed job runs again (the heartbeat timeout,
  ``queue.stalled_after_s`` = 5 s here, plus the coordinator's poll);
* the time a worker takes to pick a job (``fetch_job``) with 100,000 jobs queued.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "tests"))

from fleet_harness import (  # noqa: E402
    doing,
    fleet_config,
    job_rows,
    scratch_database,
    start_coordinator,
    start_worker,
    stop,
    wait_for,
    workers_alive,
)

from sandbox.server import Sandbox, start  # noqa: E402

CHECKS = ["guide_completeness", "link_health"]
DEFAULT_PROVINCES = ["sbx-shu", "sbx-jin", "sbx-yun", "sbx-rong"]
QUEUE = {"heartbeat_s": 1, "stalled_after_s": 5, "poll_s": 0.5}


def bench_config(sb: Sandbox, dest: Path, portals: list[str], delay: float, max_pages: int) -> Path:
    cfg: Path = fleet_config(sb.config_dir, dest, portals=portals, checks=CHECKS, delay_s=delay, queue=QUEUE)
    for pid in portals:
        path = cfg / "portals" / f"{pid}.yaml"
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
        profile["politeness"]["autothrottle"] = False
        profile.setdefault("crawl", {})["max_pages"] = max_pages
        path.write_text(yaml.safe_dump(profile, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return cfg


def portal_seconds(sb: Sandbox, requests: dict[str, int], delay: float) -> dict[str, float]:
    """Per portal: requests its listeners served × the delay (the least time politeness allows)."""
    out = {}
    for pid, sites in sb.urls.items():
        hosts = {f"127.0.0.1:{urlsplit(u).port}" for u in sites.values()}
        out[pid] = sum(requests.get(h, 0) for h in hosts) * delay
    return out


def fleet_run(sb: Sandbox, cfg: Path, workers: int, home: Path, *, kill: bool = False) -> dict[str, Any]:
    """One nightly run with ``workers`` worker processes; optionally SIGKILL one mid-crawl."""
    sb.concurrency.reset()
    with scratch_database("zwaudit_bench") as db:
        procs = [start_worker(cfg, db, home / f"w{i}") for i in range(workers)]
        assert wait_for(lambda: workers_alive(db) == workers, 120), "workers did not start"
        started = time.monotonic()
        coordinator = start_coordinator(cfg, db, home / "coord")
        out: dict[str, Any] = {}
        try:
            if kill:
                assert wait_for(lambda: any(j["task"] == "zwaudit:crawl_portal" for j in doing(db)), 120)
                job = next(j for j in doing(db) if j["task"] == "zwaudit:crawl_portal")
                victim = next(
                    p for p, h in zip(procs, range(workers), strict=True) if _runs(home / f"w{h}", job)
                )
                os.kill(victim.pid, signal.SIGKILL)
                killed_at = time.monotonic()

                def state() -> dict[str, Any]:
                    return next(j for j in job_rows(db) if j["id"] == job["id"])

                requeued = wait_for(
                    lambda: state()["status"] == "todo" or state()["attempts"] >= 2, 600, 0.05
                )
                out["requeued_s"] = time.monotonic() - killed_at if requeued else float("nan")
                again = wait_for(lambda: state()["attempts"] >= 2, 600, 0.05)
                out["recover_s"] = time.monotonic() - killed_at if again else float("nan")
            rc = coordinator.wait(timeout=3600)
            out["wall_s"] = time.monotonic() - started
        finally:
            stop([coordinator, *procs])
        jobs = job_rows(db)
        out.update(
            rc=rc,
            jobs=len(jobs),
            succeeded=sum(j["status"] == "succeeded" for j in jobs),
            retried=sum(j["attempts"] >= 2 for j in jobs),  # attempts counts every start
        )
    out["requests"] = sb.concurrency.requests()
    out["peak"] = max(sb.concurrency.peaks().values(), default=0)
    return out


def _runs(home: Path, job: dict[str, Any]) -> bool:
    text = (home / "worker.log").read_text(errors="replace")
    return f"job {job['id']} (" in text


async def pick_time(db: str, queued: int, picks: int = 50) -> tuple[float, float]:
    """(median, max) milliseconds of ``fetch_job`` with ``queued`` jobs waiting."""
    from zwaudit.app.fleet.app import QUEUE as QNAME
    from zwaudit.app.fleet.app import ensure_queue_schema, make_app

    ensure_queue_schema(db)
    app = make_app(db)
    async with app.open_async():
        await app.connector.execute_query_async(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, args) "
            "SELECT 'zwaudit', 'zwaudit:run_check', 'zwaudit:portal:p' || (i %% 14000), 'bench:' || i, "
            "jsonb_build_object('run_id', 1, 'portal_id', 'p' || (i %% 14000), 'check', 'link_health') "
            "FROM generate_series(1, %(n)s) AS i",
            n=queued,
        )
        await app.connector.execute_query_async("ANALYZE procrastinate_jobs")
        worker_id = await app.job_manager.register_worker()
        times = []
        for _ in range(picks):
            begin = time.perf_counter()
            job = await app.job_manager.fetch_job(queues=[QNAME], worker_id=worker_id)
            times.append((time.perf_counter() - begin) * 1000)
            assert job is not None and job.id is not None
            await app.job_manager.finish_job(job, status=_succeeded(), delete_job=False)
    return statistics.median(times), max(times)


def _succeeded() -> Any:
    from procrastinate.jobs import Status

    return Status.SUCCEEDED


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--province",
        action="append",
        help="sandbox province (repeatable; default the four server-rendered ones, whose crawl needs no browser)",
    )
    parser.add_argument("--max-pages", type=int, default=40, help="pages crawled per portal")
    parser.add_argument("--delay", type=float, default=1.0, help="politeness delay per request (s)")
    parser.add_argument("--queued", type=int, default=100_000, help="jobs queued for the pick time")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    load_before = os.getloadavg()[0]
    sb = start(args.province or DEFAULT_PROVINCES, base_port=0, directory=tmp / "sandbox")
    portals = sb.portal_ids
    try:
        cfg = bench_config(sb, tmp / "cfg", portals, args.delay, args.max_pages)
        runs = {w: fleet_run(sb, cfg, w, tmp / f"run{w}") for w in (1, 2)}
        killed = fleet_run(sb, cfg, 2, tmp / "kill", kill=True)
    finally:
        sb.stop()
    with scratch_database("zwaudit_bench_q") as db:
        pick_median, pick_max = asyncio.run(pick_time(db, args.queued))

    print(
        f"fleet on {len(portals)} sandbox portals ({', '.join(portals)}), checks {', '.join(CHECKS)} + crawl,"
    )
    print(
        f"  crawls capped at {args.max_pages} pages per portal, politeness delay {args.delay:.1f} s, AutoThrottle off"
    )
    print(
        f"  machine: {os.cpu_count()} cores, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"{'':28}{'1 worker':>12}{'2 workers':>12}")
    bounds = {}
    for w, run in runs.items():
        per_portal = portal_seconds(sb, run["requests"], args.delay)
        bounds[w] = max(max(per_portal.values()), sum(per_portal.values()) / w)
    print(f"{'wall time (s)':28}{runs[1]['wall_s']:>12.1f}{runs[2]['wall_s']:>12.1f}")
    print(f"{'politeness bound (s)':28}{bounds[1]:>12.1f}{bounds[2]:>12.1f}")
    print(f"{'wall / bound':28}{runs[1]['wall_s'] / bounds[1]:>12.2f}{runs[2]['wall_s'] / bounds[2]:>12.2f}")
    print(
        f"{'requests served':28}{sum(runs[1]['requests'].values()):>12}{sum(runs[2]['requests'].values()):>12}"
    )
    print(f"{'peak in flight per host':28}{runs[1]['peak']:>12}{runs[2]['peak']:>12}")
    print(
        f"{'jobs succeeded / planned':28}{runs[1]['succeeded']:>7}/{runs[1]['jobs']:<4}{runs[2]['succeeded']:>7}/{runs[2]['jobs']:<4}"
    )
    print(f"speed-up 2 workers vs 1: {runs[1]['wall_s'] / runs[2]['wall_s']:.2f}x")
    lost = killed["jobs"] - killed["succeeded"]
    print(
        f"SIGKILL of a worker mid-crawl (2 workers): jobs lost {lost} of {killed['jobs']}, "
        f"retried {killed['retried']}; the killed job back in the queue {killed['requeued_s']:.1f} s after the "
        f"kill (heartbeat timeout {QUEUE['stalled_after_s']} s + the coordinator's poll), running again on "
        f"the surviving worker after {killed['recover_s']:.1f} s (once that worker was free); "
        f"run wall time {killed['wall_s']:.1f} s, exit {killed['rc']}"
    )
    print(
        f"queue pick time with {args.queued:,} jobs queued: median {pick_median:.1f} ms, max {pick_max:.1f} ms (50 picks)"
    )


if __name__ == "__main__":
    main()
