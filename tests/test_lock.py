"""The nightly lock: exclusion, stale-lock recovery (old heartbeat, killed holder), races."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.db import models
from zwaudit.findings import utcnow
from zwaudit.lock import LockHeld, heartbeat, hold, read_lock, release, try_acquire

HOST = socket.gethostname()


def plant(sf: sessionmaker[Session], holder: str, age_s: float) -> None:
    then = utcnow() - timedelta(seconds=age_s)
    with sf.begin() as session:
        session.add(models.Lock(name="nightly", holder=holder, acquired_at=then, heartbeat_at=then))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_holder_is_refused_until_release(sessions: sessionmaker[Session]) -> None:
    first = try_acquire(sessions, "nightly")
    assert first.holder == f"{HOST}:{os.getpid()}"
    with pytest.raises(LockHeld, match="another run is in progress"):
        try_acquire(sessions, "nightly", holder="elsewhere:1")
    release(sessions, "nightly", "elsewhere:1")  # not the holder: must not free it
    assert read_lock(sessions, "nightly") is not None
    release(sessions, "nightly", first.holder)
    assert read_lock(sessions, "nightly") is None
    assert try_acquire(sessions, "nightly", holder="elsewhere:1").holder == "elsewhere:1"


def test_fresh_lock_of_other_host_is_respected(sessions: sessionmaker[Session]) -> None:
    plant(sessions, "other-machine:4242", age_s=60)
    with pytest.raises(LockHeld, match="other-machine:4242"):
        try_acquire(sessions, "nightly", stale_after_s=900)


def test_stale_heartbeat_is_taken_over(sessions: sessionmaker[Session]) -> None:
    plant(sessions, "other-machine:4242", age_s=3600)
    state = try_acquire(sessions, "nightly", stale_after_s=900)
    stored = read_lock(sessions, "nightly")
    assert stored is not None and stored.holder == state.holder == f"{HOST}:{os.getpid()}"
    # the old holder, if it wakes up, finds the lock is no longer its own
    assert heartbeat(sessions, "nightly", "other-machine:4242") is False


def test_dead_pid_on_this_host_is_taken_over(sessions: sessionmaker[Session]) -> None:
    plant(sessions, f"{HOST}:{dead_pid()}", age_s=5)
    assert try_acquire(sessions, "nightly", stale_after_s=900).holder == f"{HOST}:{os.getpid()}"


def test_killed_run_leaves_a_lock_that_is_recovered(db_url: str, tmp_path: Path) -> None:
    """A process holding the lock is killed with SIGKILL; the next run detects it and takes over."""
    from zwaudit.db.engine import make_engine, session_factory, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    sf = session_factory(engine)
    ready = tmp_path / "ready"
    script = textwrap.dedent(
        f"""
        import time, pathlib
        from zwaudit.db.engine import make_engine, session_factory
        from zwaudit.lock import hold
        sf = session_factory(make_engine({db_url!r}))
        with hold(sf, "nightly", heartbeat_s=0.2):
            pathlib.Path({str(ready)!r}).write_text("x")
            time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(600):
            if ready.exists() or proc.poll() is not None:
                break
            threading.Event().wait(0.05)
        assert ready.exists(), "the holder did not start"
        with pytest.raises(LockHeld):
            try_acquire(sf, "nightly")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    held = read_lock(sf, "nightly")
    assert held is not None and held.holder == f"{HOST}:{proc.pid}"  # the killed run left it behind
    assert try_acquire(sf, "nightly").holder == f"{HOST}:{os.getpid()}"
    engine.dispose()


def test_race_for_a_stale_lock_has_one_winner(sessions: sessionmaker[Session]) -> None:
    plant(sessions, "other-machine:1", age_s=3600)
    barrier = threading.Barrier(4)
    winners: list[str] = []
    losers: list[str] = []

    def contender(i: int) -> None:
        barrier.wait()
        try:
            winners.append(try_acquire(sessions, "nightly", holder=f"racer:{i}", stale_after_s=900).holder)
        except LockHeld:
            losers.append(f"racer:{i}")

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(losers) == 3
    stored = read_lock(sessions, "nightly")
    assert stored is not None and stored.holder == winners[0]


def test_hold_beats_and_releases(sessions: sessionmaker[Session]) -> None:
    with hold(sessions, "nightly", heartbeat_s=0.05) as held:
        first = read_lock(sessions, "nightly")
        assert first is not None
        threading.Event().wait(0.3)
        later = read_lock(sessions, "nightly")
        assert later is not None and later.heartbeat_at > first.heartbeat_at
        assert not held.lost.is_set()
    assert read_lock(sessions, "nightly") is None


def test_hold_notices_a_takeover(sessions: sessionmaker[Session]) -> None:
    with hold(sessions, "nightly", heartbeat_s=0.05) as held:
        with sessions.begin() as session:
            row = session.get(models.Lock, "nightly")
            assert row is not None
            row.holder = "usurper:1"
        assert held.lost.wait(5)
    stored = read_lock(sessions, "nightly")
    assert stored is not None and stored.holder == "usurper:1"  # not released by the old holder
