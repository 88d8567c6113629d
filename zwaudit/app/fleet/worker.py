"""``zwaudit worker``: a long-lived process that runs the fleet's jobs until SIGTERM.

SIGTERM (systemd's stop) and SIGINT stop it gracefully: it takes no new job and waits for the
jobs it is running to finish; SIGKILL or a lost machine loses nothing either, since the
coordinator retries the jobs of a worker whose heartbeat stopped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.fleet import jobs
from zwaudit.app.fleet.app import QUEUE, ensure_queue_schema, make_app
from zwaudit.config import Config
from zwaudit.config.schema import QueueSettings

log = logging.getLogger(__name__)


async def _serve(env: jobs.WorkerEnv, concurrency: int, *, wait: bool) -> None:
    app = make_app(env.db_url)
    jobs.install(env)
    try:
        async with app.open_async():
            await app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                wait=wait,
                update_heartbeat_interval=env.queue.heartbeat_s,
                stalled_worker_timeout=env.queue.stalled_after_s,
                install_signal_handlers=True,
                listen_notify=True,
            )
    finally:
        jobs.install(None)
        await env.close()


def run_worker(
    config: Config,
    sf: sessionmaker[Session],
    *,
    db_url: str,
    evidence_root: Path,
    concurrency: int = 1,
    wait: bool = True,
) -> None:
    """Run jobs until stopped (``wait=False``: until the queue is empty, for tests and benches)."""
    queue = config.settings.queue or QueueSettings()
    ensure_queue_schema(db_url)
    env = jobs.WorkerEnv(config=config, sf=sf, db_url=db_url, evidence_root=evidence_root, queue=queue)
    log.info("worker: %d at a time, evidence to %s (%s)", concurrency, evidence_root, queue.evidence)
    asyncio.run(_serve(env, concurrency, wait=wait))


def worker_command(config_dir: Path | str, concurrency: int = 1) -> list[str]:
    """The command line of one worker process (``zwaudit --config … worker``); the database URL
    goes in its environment (``ZWAUDIT_DB``), never on a command line other users can read."""
    return [
        sys.executable,
        "-c",
        "from zwaudit.app.cli import main; main()",
        "--config",
        str(config_dir),
        "worker",
        "--concurrency",
        str(concurrency),
    ]


@contextmanager
def local_workers(count: int, config_dir: Path | str, db_url: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``nightly --workers N``: N worker processes on this machine for the length of the block,
    stopped with SIGTERM (graceful) at its end."""
    env = {**os.environ, "ZWAUDIT_DB": db_url}
    procs = [subprocess.Popen(worker_command(config_dir), env=env) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
