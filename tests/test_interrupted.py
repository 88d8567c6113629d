"""Runs whose process died: marked ``interrupted`` (stale lock taken over, or a dead pid on this
host), shown by ``zwaudit runs``, and never compared with by ``diff``, ``--fail-on-regression``
or the webhook. Run status is a closed set, in the ORM and in the database."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from ops_data import store_run
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from test_lock import dead_pid
from test_nightly import GOOD, WORSE, Receiver, ind, make_config, stand_ins

from zwaudit.app.cli import cli
from zwaudit.app.nightly import NightlyOptions, run_nightly
from zwaudit.config import load_config
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.db.store import finish_run, start_run
from zwaudit.findings import utcnow
from zwaudit.lock import try_acquire
from zwaudit.run_state import reap_dead_runs

HOST = socket.gethostname()


def set_host(sf: sessionmaker[Session], run_id: int, host: str) -> None:
    with sf.begin() as session:
        session.execute(update(models.Run).where(models.Run.id == run_id).values(host=host))


def status_of(sf: sessionmaker[Session], run_id: int) -> tuple[str, dict[str, object]]:
    with sf() as session:
        run = session.get(models.Run, run_id)
        assert run is not None
        return run.status, run.summary


def test_run_status_is_a_closed_set(sessions: sessionmaker[Session]) -> None:
    run_id = start_run(sessions, "audit")
    with pytest.raises(ValueError, match="'finished' is not a valid RunStatus"):
        finish_run(sessions, run_id, "finished")
    with pytest.raises(IntegrityError), sessions.begin() as session:  # the database refuses it too
        session.execute(text("UPDATE run SET status = 'done' WHERE id = :i"), {"i": run_id})
    finish_run(sessions, run_id, "interrupted")
    assert status_of(sessions, run_id)[0] == "interrupted"


def test_taking_over_a_stale_lock_marks_its_holders_runs_interrupted(sessions: sessionmaker[Session]) -> None:
    killed = start_run(sessions, "nightly")
    set_host(sessions, killed, "other-machine:4242")
    elsewhere = start_run(sessions, "audit")  # another live holder's run: not touched
    set_host(sessions, elsewhere, "third-machine:7")
    then = utcnow() - timedelta(hours=1)
    with sessions.begin() as session:
        session.add(
            models.Lock(name="nightly", holder="other-machine:4242", acquired_at=then, heartbeat_at=then)
        )
    try_acquire(sessions, "nightly", stale_after_s=900)
    status, summary = status_of(sessions, killed)
    assert status == "interrupted" and "taken over" in str(summary["interrupted"])
    assert status_of(sessions, elsewhere)[0] == "running"
    # a hung holder that wakes up and finishes does not turn its overlapped run back into "ok"
    finish_run(sessions, killed, "ok")
    assert status_of(sessions, killed)[0] == "interrupted"


def test_a_run_whose_process_is_gone_is_reaped_and_listed_as_interrupted(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    sf = session_factory(engine)
    dead = start_run(sf, "audit")
    set_host(sf, dead, f"{HOST}:{dead_pid()}")
    alive = start_run(sf, "audit")  # this very process: alive
    other_host = start_run(sf, "audit")
    set_host(sf, other_host, "far-away:1")  # cannot be checked from here: left alone
    engine.dispose()
    result = CliRunner().invoke(cli, ["--config", str(make_config(tmp_path)), "--db", db_url, "runs"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 5}
    assert "interrupted" in rows[str(dead)] and "its process no longer exists" in rows[str(dead)]
    assert "running" in rows[str(alive)] and "running" in rows[str(other_host)]
    engine = make_engine(db_url)
    assert reap_dead_runs(session_factory(engine)) == []  # done once
    engine.dispose()


@pytest.fixture
def sqlite_sf(tmp_path: Path) -> tuple[str, sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'i.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    return url, session_factory(engine)


def test_nightly_regression_check_and_webhook_skip_interrupted_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_sf: tuple[str, sessionmaker[Session]]
) -> None:
    url, sf = sqlite_sf
    with Receiver() as receiver:
        config = load_config(make_config(tmp_path, f"http://127.0.0.1:{receiver.port}/hook"))
        options = NightlyOptions(out=tmp_path / "out", fail_on_regression=True)
        stand_ins(monkeypatch, [(GOOD, ind(80.0, 90.0))])
        first = run_nightly(config, sf, db_url=url, options=options)
        # a nightly run killed half-way: only some of its findings, none of its indicators
        half = store_run(sf, WORSE[:1], trigger="nightly", status="running")
        set_host(sf, half, f"{HOST}:{dead_pid()}")
        stand_ins(monkeypatch, [(WORSE, ind(85.0, 70.0))])
        third = run_nightly(config, sf, db_url=url, options=options)
    assert status_of(sf, half)[0] == "interrupted"
    assert third.previous_run == first.run_id  # not the interrupted run just before it
    assert third.exit_code == 1 and third.diff is not None
    assert [(c.portal_id, c.code) for c in third.diff.regressions[0]] == [("sbx-zhe", "hsts_missing")]
    assert receiver.received[-1]["previous_run"] == first.run_id
    assert status_of(sf, third.run_id)[0] == "ok"
    stand_ins(monkeypatch, [(WORSE, ind(85.0, 70.0))])
    res = CliRunner().invoke(cli, ["--config", str(tmp_path / "cfg"), "--db", url, "nightly"])
    assert f"compared with run {third.run_id} (the last completed nightly run)" in res.output


def test_diff_defaults_to_the_last_two_completed_runs_and_warns_on_partial_ones(
    tmp_path: Path, sqlite_sf: tuple[str, sessionmaker[Session]]
) -> None:
    url, sf = sqlite_sf
    a = store_run(sf, GOOD)
    b = store_run(sf, WORSE)
    failed = store_run(sf, GOOD[:1], status="failed")
    interrupted = store_run(sf, [], status="interrupted")
    cfg = str(make_config(tmp_path))
    res = CliRunner().invoke(cli, ["--config", cfg, "--db", url, "diff"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"run {a} → run {b}:") and res.stderr == ""
    res = CliRunner().invoke(cli, ["--config", cfg, "--db", url, "diff", str(b), str(failed)])
    assert res.stdout.startswith(f"run {b} → run {failed}:")
    assert f"warning: run {failed} is failed, not complete" in res.stderr
    assert str(interrupted) not in res.stderr
    with sf.begin() as session:  # only one completed run left: nothing to compare by default
        session.execute(update(models.Run).where(models.Run.id == a).values(status="interrupted"))
    res = CliRunner().invoke(cli, ["--config", cfg, "--db", url, "diff"])
    assert res.exit_code == 2 and "two completed (ok) runs" in res.stderr


def test_migration_0002_closes_the_status_of_an_existing_database(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        for status in ("ok", "running", "finished"):  # "finished": a hand edit
            conn.execute(
                text(
                    "INSERT INTO run (trigger, status, started_at, host, config_dir, summary) "
                    "VALUES ('audit', :s, CURRENT_TIMESTAMP, 'h:1', '', '{}')"
                ),
                {"s": status},
            )
    upgrade(engine)
    with engine.begin() as conn:
        assert [r[0] for r in conn.execute(text("SELECT status FROM run ORDER BY id"))] == [
            "ok",
            "running",
            "failed",
        ]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO run (trigger, status, started_at, host, config_dir, summary) "
                "VALUES ('audit', 'done', CURRENT_TIMESTAMP, 'h:1', '', '{}')"
            )
        )
    engine.dispose()
