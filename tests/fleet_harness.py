"""Running a fleet on the sandbox: a PostgreSQL database, worker processes and the coordinator.

Shared by ``tests/test_fleet.py`` and ``bench/fleet_bench.py``: both start real processes
(``zwaudit worker``, ``zwaudit nightly``) so that a SIGKILL hits a worker as it would in production.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import yaml

PROJECT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("ZWAUDIT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def scratch_database(prefix: str = "zwaudit_fleet") -> Iterator[str]:
    """A new, empty PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(libpq(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(libpq(PG_ADMIN), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def fleet_config(
    source: Path,
    dest: Path,
    *,
    portals: list[str],
    checks: list[str],
    delay_s: float | None = None,
    queue: dict[str, Any] | None = None,
    portal_channel_only: bool = False,
    render: bool | None = None,
) -> Path:
    """A copy of the sandbox's config with only ``portals``, ``checks`` and a fast-reacting queue
    (``delay_s``: the profiles' politeness delay, e.g. 1.0 as on real portals).

    ``portal_channel_only`` leaves the department sites and the mobile channel out of each
    profile: a test of the fleet's mechanics (a killed worker, a lost job) needs crawl jobs, not
    the breadth of each crawl, which costs about half the test's CPU. ``render=False`` (the
    profiles' ``crawl.render``) keeps the crawl out of the browser: sbx-shu's portal channel has
    one page its crawl would render, and the crawl process's Chromium for it costs more than the
    rest of that crawl."""
    (dest / "portals").mkdir(parents=True, exist_ok=True)
    for pid in portals:
        profile = yaml.safe_load((source / "portals" / f"{pid}.yaml").read_text(encoding="utf-8"))
        if delay_s is not None:
            profile["politeness"]["delay_seconds"] = delay_s
        if portal_channel_only:
            profile.pop("departments", None)
            profile.pop("mobile", None)
        if render is not None:
            profile.setdefault("crawl", {})["render"] = render
        (dest / "portals" / f"{pid}.yaml").write_text(
            yaml.safe_dump(profile, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    shutil.copy2(source / "secrets.yaml", dest / "secrets.yaml")
    (dest / "secrets.yaml").chmod(0o600)
    settings = {
        "checks": checks,
        "queue": queue or {"heartbeat_s": 1, "stalled_after_s": 5, "poll_s": 0.5},
    }
    (dest / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return dest


def _env(evidence: Path, var: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    env["ZWAUDIT_EVIDENCE"] = str(evidence)
    env["ZWAUDIT_VAR"] = str(var)
    return env


def zwaudit_cmd(config: Path, db_url: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from zwaudit.app.cli import main; main()",
        "--config",
        str(config),
        "--db",
        db_url,
        *args,
    ]


def start_worker(config: Path, db_url: str, home: Path, concurrency: int = 1) -> subprocess.Popen[bytes]:
    """A ``zwaudit worker`` with its own evidence root and var/ (as on its own machine)."""
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "worker.log").open("wb")
    return subprocess.Popen(
        zwaudit_cmd(config, db_url, "-v", "worker", "--concurrency", str(concurrency)),
        env=_env(home / "evidence", home / "var"),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )


def start_coordinator(config: Path, db_url: str, home: Path, *extra: str) -> subprocess.Popen[bytes]:
    """``zwaudit nightly`` (the coordinator) with its own evidence root, var/ and out/."""
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "nightly.log").open("wb")
    return subprocess.Popen(
        zwaudit_cmd(config, db_url, "-v", "nightly", "--out", str(home / "out"), *extra),
        env=_env(home / "evidence", home / "var"),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )


def stop(procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    """SIGTERM (a worker's graceful stop), then SIGKILL what is still alive after ``timeout``."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def job_rows(db_url: str) -> list[dict[str, Any]]:
    """Every job of the queue: id, status, attempts, worker, queueing lock."""
    with psycopg.connect(libpq(db_url)) as conn:
        cur = conn.execute(
            "SELECT id, status::text, attempts, worker_id, queueing_lock, task_name FROM procrastinate_jobs ORDER BY id"
        )
        return [
            {"id": r[0], "status": r[1], "attempts": r[2], "worker_id": r[3], "key": r[4], "task": r[5]}
            for r in cur.fetchall()
        ]


def doing(db_url: str) -> list[dict[str, Any]]:
    try:
        return [j for j in job_rows(db_url) if j["status"] == "doing"]
    except psycopg.errors.UndefinedTable:
        return []


def wait_for(predicate: Any, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def workers_alive(db_url: str) -> int:
    """Workers registered with the queue (they register on start, unregister on a clean stop)."""
    try:
        with psycopg.connect(libpq(db_url)) as conn:
            row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
            return int(row[0]) if row else 0
    except psycopg.errors.UndefinedTable:
        return 0
