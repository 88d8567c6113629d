"""Finding runs whose process is gone, so they stop looking ``running`` forever.

A run is started by one process (``run.host`` is ``host:pid``, like a lock's holder). When that
process is killed (SIGKILL, OOM, a reboot) nothing closes the run. Two ways to notice:

- the nightly lock's holder is found stale and taken over (:func:`zwaudit.lock.try_acquire`):
  that holder's runs are marked ``interrupted``, on any host;
- :func:`reap_dead_runs`: a ``running`` run started on *this* host by a process that no longer
  exists is marked ``interrupted``. ``zwaudit runs``, ``zwaudit diff`` and ``zwaudit nightly`` call
  it. Runs of other hosts are left alone (their processes cannot be checked from here).
"""

from __future__ import annotations

import logging
import socket

from sqlalchemy.orm import Session, sessionmaker

from zwaudit.db.store import interrupt_runs, running_runs
from zwaudit.lock import pid_alive

log = logging.getLogger(__name__)


def reap_dead_runs(sf: sessionmaker[Session]) -> list[int]:
    """Mark this host's ``running`` runs whose process is gone ``interrupted``; their ids."""
    here = socket.gethostname()
    with sf.begin() as session:
        dead = []
        for _run_id, holder in running_runs(session):
            host, _, pid = holder.rpartition(":")
            if host == here and pid.isdigit() and not pid_alive(int(pid)):
                dead.append(holder)
        ids = interrupt_runs(session, sorted(set(dead)), "its process no longer exists")
    if ids:
        log.warning("run %s marked interrupted: its process no longer exists", ", ".join(map(str, ids)))
    return ids
