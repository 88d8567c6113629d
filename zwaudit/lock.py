"""A named lock in the database, so two nightly runs never overlap — even on two machines.

The lock is a row of the ``lock`` table (works on a PostgreSQL shared by several machines),
held by ``host:pid`` and kept alive by a heartbeat thread. It is *stale* when its heartbeat is
older than the timeout (the holder hung or its machine died), or when the holder is a process of
this host that no longer exists (killed with ``kill -9``): a stale lock is taken over, and the
runs its holder left ``running`` are marked ``interrupted`` in the same transaction.

Acquisition is transaction-safe without ``SELECT … FOR UPDATE``: an ``INSERT … ON CONFLICT DO
NOTHING`` creates a free lock; a stale one is taken with a compare-and-swap ``UPDATE`` that only
matches the exact holder and heartbeat seen, so of two processes racing for a stale lock exactly
one wins.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.db import models
from zwaudit.db.engine import driver_message
from zwaudit.db.store import host_id, interrupt_runs
from zwaudit.errors import RunError
from zwaudit.findings import utcnow

log = logging.getLogger(__name__)

DEFAULT_STALE_AFTER_S = 900.0
DEFAULT_HEARTBEAT_S = 30.0


class LockHeld(RunError):
    """Another live process holds the lock (exit 3: the scheduler retries next time)."""


@dataclass(frozen=True)
class LockState:
    name: str
    holder: str
    acquired_at: datetime
    heartbeat_at: datetime


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (signal 0 checks without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def stale_reason(state: LockState, now: datetime, stale_after_s: float, *, this_host: str) -> str | None:
    """Why a lock may be taken over (``None`` if its holder must be presumed alive)."""
    age = (now - state.heartbeat_at).total_seconds()
    if age > stale_after_s:
        return f"heartbeat {age:.0f}s old (timeout {stale_after_s:.0f}s)"
    host, _, pid_text = state.holder.rpartition(":")
    if host == this_host and pid_text.isdigit() and not pid_alive(int(pid_text)):
        return f"holder process {pid_text} no longer exists on this host"
    return None


def read_lock(sf: sessionmaker[Session], name: str) -> LockState | None:
    with sf() as session:
        row = session.get(models.Lock, name)
        if row is None:
            return None
        return LockState(row.name, row.holder, row.acquired_at, row.heartbeat_at)


def try_acquire(
    sf: sessionmaker[Session],
    name: str,
    *,
    holder: str | None = None,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> LockState:
    """Take lock ``name`` for ``holder`` (default this process) or raise :class:`LockHeld`."""
    me = holder or host_id()
    now = utcnow()
    table = models.Lock.__table__
    assert isinstance(table, Table)
    with sf.begin() as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(table).values(name=name, holder=me, acquired_at=now, heartbeat_at=now)
        # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT
        created = session.execute(
            stmt.on_conflict_do_nothing(index_elements=["name"]).returning(table.c.name)
        )
        if created.first() is not None:
            return LockState(name, me, now, now)
        row = session.execute(
            select(models.Lock.holder, models.Lock.acquired_at, models.Lock.heartbeat_at).where(
                models.Lock.name == name
            )
        ).one()
        seen = LockState(name, row.holder, row.acquired_at, row.heartbeat_at)
        reason = stale_reason(seen, now, stale_after_s, this_host=socket.gethostname())
        if reason is None:
            raise LockHeld(
                f"lock {name!r} is held by {seen.holder} since {seen.acquired_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(heartbeat {seen.heartbeat_at:%H:%M:%S}); another run is in progress"
            )
        swapped = session.execute(
            update(models.Lock)
            .where(
                models.Lock.name == name,
                models.Lock.holder == seen.holder,
                models.Lock.heartbeat_at == seen.heartbeat_at,
            )
            .values(holder=me, acquired_at=now, heartbeat_at=now)
            .returning(models.Lock.name)
        )
        if swapped.first() is None:
            raise LockHeld(f"lock {name!r} was taken over by another process at the same moment")
        # the holder's runs will never finish: say so, so no diff compares with them
        interrupted = interrupt_runs(session, [seen.holder], f"lock {name!r} taken over: {reason}")
    log.warning(
        "took over stale lock %r from %s: %s%s",
        name,
        seen.holder,
        reason,
        f"; run {', '.join(map(str, interrupted))} marked interrupted" if interrupted else "",
    )
    return LockState(name, me, now, now)


def heartbeat(sf: sessionmaker[Session], name: str, holder: str) -> bool:
    """Refresh the heartbeat; ``False`` if the lock is no longer ours (taken over as stale)."""
    with sf.begin() as session:
        result = session.execute(
            update(models.Lock)
            .where(models.Lock.name == name, models.Lock.holder == holder)
            .values(heartbeat_at=utcnow())
            .returning(models.Lock.name)
        )
        return result.first() is not None


def release(sf: sessionmaker[Session], name: str, holder: str) -> None:
    """Drop the lock if it is still ours (never someone else's that took it over)."""
    with sf.begin() as session:
        session.execute(delete(models.Lock).where(models.Lock.name == name, models.Lock.holder == holder))


class HeldLock:
    """A lock held by this process, refreshed by a daemon thread until released."""

    def __init__(self, sf: sessionmaker[Session], state: LockState, heartbeat_s: float) -> None:
        self.sf = sf
        self.state = state
        self.heartbeat_s = heartbeat_s
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lock-{state.name}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                if not heartbeat(self.sf, self.state.name, self.state.holder):
                    log.error("lock %r was taken over by another process", self.state.name)
                    self.lost.set()
                    return
            except DBAPIError as exc:  # a database hiccup must not kill the run; the next beat retries
                log.warning("lock %r heartbeat failed: %s", self.state.name, driver_message(exc))
            except Exception:
                log.warning("lock %r heartbeat failed", self.state.name, exc_info=True)

    def start(self) -> None:
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        try:
            release(self.sf, self.state.name, self.state.holder)
        except DBAPIError as exc:  # the database is gone: keep the run's own error, not this one
            log.warning(
                "lock %r not released (%s); the next run takes it over as stale",
                self.state.name,
                driver_message(exc),
            )


@contextmanager
def hold(
    sf: sessionmaker[Session],
    name: str = "nightly",
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    heartbeat_s: float | None = None,
) -> Iterator[HeldLock]:
    """``with hold(sf, "nightly"):`` — acquire (or raise :class:`LockHeld`), beat, release."""
    interval = heartbeat_s if heartbeat_s is not None else min(DEFAULT_HEARTBEAT_S, stale_after_s / 3)
    held = HeldLock(sf, try_acquire(sf, name, stale_after_s=stale_after_s), interval)
    held.start()
    try:
        yield held
    finally:
        held.release()
