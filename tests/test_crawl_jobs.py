"""Crawl resume directories of runs that are over are pruned at the start of each crawl."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from crawl_site import CrawlSite
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from test_lock import dead_pid

from crawler.run import CLEAN_MARKER, jobdir_for
from zwaudit.app.crawl import crawl
from zwaudit.crawl_jobs import FOREIGN_MAX_AGE_S, crawl_jobs_dir, prune_crawl_jobs
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.db.store import database_identity, evidence_run_dir, finish_run, start_run
from zwaudit.paths import run_dir_name
from zwaudit.run_state import reap_dead_runs


def plant(name: str, age_s: float = 0) -> Path:
    path = crawl_jobs_dir() / name / "portal"
    path.mkdir(parents=True)
    (path / CLEAN_MARKER).write_text("shutdown")  # a cleanly stopped, resumable frontier
    if age_s:
        then = time.time() - age_s
        os.utime(path.parent, (then, then))
    return path.parent


def test_only_state_of_runs_still_running_or_of_other_databases_is_kept(
    sessions: sessionmaker[Session],
) -> None:
    def run(status: str, host: str | None = None) -> Path:
        run_id = start_run(sessions, "nightly")
        if status != "running":
            finish_run(sessions, run_id, status)
        if host is not None:
            with sessions.begin() as session:
                session.execute(update(models.Run).where(models.Run.id == run_id).values(host=host))
        return plant(evidence_run_dir(sessions, run_id))

    ok, failed, interrupted = run("ok"), run("failed"), run("interrupted")
    alive = run("running")  # this process
    killed = run("running", f"{socket.gethostname()}:{dead_pid()}")
    foreign_new = plant("run-1-0123456789ab")  # another database's run 1, maybe crawling now
    foreign_old = plant("run-2-0123456789ab", age_s=FOREIGN_MAX_AGE_S + 60)
    unrelated = crawl_jobs_dir() / "notes"
    unrelated.mkdir()

    reap_dead_runs(sessions)
    with sessions() as session:
        removed = set(prune_crawl_jobs(session))
    assert removed == {ok, failed, interrupted, killed, foreign_old}
    assert alive.exists() and foreign_new.exists() and unrelated.exists()


@pytest.fixture
def site() -> Iterator[CrawlSite]:
    running = CrawlSite().start()
    yield running
    running.stop()


def test_a_crawl_prunes_the_state_a_killed_run_left(site: CrawlSite, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    sf = session_factory(engine)
    killed = start_run(sf, "nightly")
    with sf.begin() as session:
        session.execute(
            update(models.Run)
            .where(models.Run.id == killed)
            .values(host=f"{socket.gethostname()}:{dead_pid()}")
        )
        run = session.get(models.Run, killed)
        assert run is not None
        left = jobdir_for(run_dir_name(database_identity(session), killed, run.started_at), "site")
    left.mkdir(parents=True)
    (left / "requests.queue").mkdir()

    fresh = start_run(sf, "crawl")
    summary = crawl(fresh, ["site"], config_dir=site.write_config(tmp_path / "config"), db_url=url)
    assert summary.portals["site"].finish_reason == "finished"
    assert not left.parent.exists()
    with sf() as session:
        stale = session.get(models.Run, killed)
        assert stale is not None and stale.status == "interrupted"
    engine.dispose()
