"""Query functions over the models: the only place that writes findings and runs.

The unit of work is *one check on one portal in one run*: :func:`replace_findings` deletes what
that check stored before and inserts the new findings in one transaction, so a crash loses only
the work in flight and a rerun replaces instead of duplicating.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, Table, case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload, sessionmaker

from zwaudit.config.schema import PortalProfile
from zwaudit.db import models
from zwaudit.errors import UsageError
from zwaudit.findings import Finding, utcnow
from zwaudit.outcomes import RunStatus
from zwaudit.paths import run_dir_name
from zwaudit.text_safety import storable, storable_value

if TYPE_CHECKING:
    from zwaudit.observations import StoredObservation


def host_id() -> str:
    """``host:pid``, recorded on runs and locks so several machines can share one database."""
    return f"{socket.gethostname()}:{os.getpid()}"


def sync_portal(session: Session, profile: PortalProfile) -> None:
    """Create or update the portal row mirrored from its profile."""
    row = session.get(models.Portal, profile.id)
    if row is None:
        row = models.Portal(id=profile.id)
        session.add(row)
    row.name = profile.name
    row.home_url = str(profile.home_url)
    row.level = profile.level
    row.updated_at = utcnow()


def start_run(
    sf: sessionmaker[Session], trigger: str, *, config_dir: str = "", portals: Sequence[PortalProfile] = ()
) -> int:
    """Insert a ``running`` run and mirror its portals; returns the run id."""
    with sf.begin() as session:
        for profile in portals:
            sync_portal(session, profile)
        run = models.Run(
            trigger=trigger,
            status=RunStatus.RUNNING,
            started_at=utcnow(),
            host=host_id(),
            config_dir=config_dir,
        )
        session.add(run)
        session.flush()
        return run.id


def sync_portals(sf: sessionmaker[Session], run_id: int, portals: Sequence[PortalProfile]) -> None:
    """Mirror ``portals`` for an existing run (a rerun into ``run_id``); unknown run → UsageError."""
    with sf.begin() as session:
        if session.get(models.Run, run_id) is None:
            raise UsageError(f"run {run_id} does not exist (see 'zwaudit runs')")
        for profile in portals:
            sync_portal(session, profile)


def database_identity(session: Session) -> str:
    """What names this database's runs on disk: the UUID its first upgrade stored
    (``zwaudit_meta.database_id``), so two workers that reach one PostgreSQL through different
    host names agree on every run directory; the masked URL only for a schema older than that."""
    row = session.get(models.Meta, "database_id")
    if row is not None:
        return f"db:{row.value}"
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def evidence_run_dir(sf: sessionmaker[Session], run_id: int) -> str:
    """The directory of a run's evidence under the evidence root (:func:`zwaudit.paths.run_dir_name`),
    so databases sharing one root never overwrite each other."""
    with sf() as session:
        run = session.get(models.Run, run_id)
        identity = database_identity(session)
    if run is None:
        raise UsageError(f"run {run_id} does not exist")
    return run_dir_name(identity, run_id, run.started_at)


def finish_run(
    sf: sessionmaker[Session], run_id: int, status: RunStatus | str, summary: dict[str, Any] | None = None
) -> None:
    """Close a run as ``status``. A run already found ``interrupted`` (its lock was taken over
    while it hung) stays so: another run overlapped it, so it is not a complete run."""
    with sf.begin() as session:
        run = session.get(models.Run, run_id)
        if run is None:
            raise UsageError(f"run {run_id} does not exist")
        if run.status != RunStatus.INTERRUPTED:
            run.status = RunStatus(status)
        run.finished_at = utcnow()
        if summary is not None:
            run.summary = {**(run.summary or {}), **summary}


def update_summary(sf: sessionmaker[Session], run_id: int, summary: dict[str, Any]) -> None:
    """Merge ``summary`` into a run's summary, leaving its status alone."""
    with sf.begin() as session:
        run = session.get(models.Run, run_id)
        if run is None:
            raise UsageError(f"run {run_id} does not exist")
        run.summary = {**(run.summary or {}), **summary}


def interrupt_runs(session: Session, hosts: Sequence[str], reason: str) -> list[int]:
    """Mark the ``running`` runs of these ``host:pid`` holders ``interrupted`` (their process is
    gone); returns their ids. Findings they stored stay, for the record; no diff uses them."""
    if not hosts:
        return []
    stmt = select(models.Run).where(models.Run.status == RunStatus.RUNNING, models.Run.host.in_(hosts))
    ids = []
    for run in session.scalars(stmt):
        run.status = RunStatus.INTERRUPTED
        run.finished_at = utcnow()
        run.summary = {**(run.summary or {}), "interrupted": reason}
        ids.append(run.id)
    return ids


def running_runs(session: Session) -> list[tuple[int, str]]:
    """``(id, host)`` of the runs still marked ``running``."""
    stmt = select(models.Run.id, models.Run.host).where(models.Run.status == RunStatus.RUNNING)
    return [(int(i), str(h)) for i, h in session.execute(stmt)]


def replace_findings(
    sf: sessionmaker[Session],
    run_id: int,
    portal_id: str,
    probe: str,
    probe_version: str,
    findings: Iterable[Finding],
    observation: StoredObservation | None = None,
) -> int:
    """Atomically replace the findings of ``probe`` on ``portal_id`` in ``run_id``, and its stored
    observation (none when ``observation`` is None: a one-phase check, or one that failed)."""
    with sf.begin() as session:
        session.execute(
            delete(models.Finding).where(
                models.Finding.run_id == run_id,
                models.Finding.portal_id == portal_id,
                models.Finding.probe == probe,
            )
        )
        session.execute(
            delete(models.Observation).where(
                models.Observation.run_id == run_id,
                models.Observation.portal_id == portal_id,
                models.Observation.probe == probe,
            )
        )
        if observation is not None:
            assert observation.ref.path is not None and observation.ref.sha256 is not None
            session.add(
                models.Observation(
                    run_id=run_id,
                    portal_id=portal_id,
                    probe=probe,
                    probe_version=observation.check_version,
                    path=observation.ref.path,
                    sha256=observation.ref.sha256,
                    media_type=observation.ref.media_type,
                    observed_at=observation.observed_at,
                )
            )
        count = 0
        for finding in findings:
            if finding.probe != probe:
                raise ValueError(f"finding of {finding.probe!r} stored as {probe!r}")
            row = models.Finding(
                run_id=run_id,
                portal_id=portal_id,
                probe=probe,
                target=storable(finding.target),
                status=finding.status.value,
                code=finding.code,
                detail=storable_value(finding.detail),
                probe_version=probe_version,
                observed_at=finding.observed_at,
                evidence=[
                    models.Evidence(
                        kind=e.kind,
                        path=e.path,
                        url=storable(e.url) if e.url is not None else None,
                        sha256=e.sha256,
                        media_type=e.media_type,
                    )
                    for e in finding.evidence
                ],
            )
            session.add(row)
            count += 1
        return count


def resolve_run(session: Session, run: str | int | None, *, trigger: str | None = None) -> int:
    """A run id from ``latest`` (the newest run), an integer, or its string form."""
    if run is None or run == "latest":
        stmt = select(func.max(models.Run.id))
        if trigger:
            stmt = stmt.where(models.Run.trigger == trigger)
        latest = session.scalar(stmt)
        if latest is None:
            raise UsageError("no runs stored yet; run 'zwaudit audit' or 'zwaudit nightly' first")
        return int(latest)
    try:
        run_id = int(run)
    except ValueError:
        raise UsageError(f"--run: expected a run id or 'latest', got {run!r}") from None
    if session.get(models.Run, run_id) is None:
        raise UsageError(f"run {run_id} does not exist (see 'zwaudit runs')")
    return run_id


def findings_query(
    run_id: int,
    *,
    portal_ids: Sequence[str] = (),
    probes: Sequence[str] = (),
    statuses: Sequence[str] = (),
) -> Select[tuple[models.Finding]]:
    stmt = select(models.Finding).where(models.Finding.run_id == run_id)
    if portal_ids:
        stmt = stmt.where(models.Finding.portal_id.in_(portal_ids))
    if probes:
        stmt = stmt.where(models.Finding.probe.in_(probes))
    if statuses:
        stmt = stmt.where(models.Finding.status.in_(statuses))
    return stmt.order_by(models.Finding.portal_id, models.Finding.probe, models.Finding.id)


def iter_findings(
    session: Session, run_id: int, *, batch: int = 1000, **filters: Sequence[str]
) -> Iterator[models.Finding]:
    """Stream a run's findings with their evidence, ``batch`` rows at a time (flat memory)."""
    stmt = findings_query(run_id, **filters).options(selectinload(models.Finding.evidence))
    yield from session.scalars(stmt.execution_options(yield_per=batch))


def list_runs(session: Session, limit: int = 20) -> list[models.Run]:
    return list(session.scalars(select(models.Run).order_by(models.Run.id.desc()).limit(limit)))


def upsert_service_items(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert item snapshots, replacing one with the same (run, portal, channel, item_key).

    Batched and idempotent, so a resumed crawl that sees an item again does not duplicate it.
    """
    if not rows:
        return
    table = models.ServiceItem.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(table).values([storable_value(r) for r in rows])  # NUL-laden pages, stored whole
    keys = ["run_id", "portal_id", "channel", "item_key"]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={
            c: stmt.excluded[c] for c in ("code", "name", "department", "fields", "source_url", "fetched_at")
        },
    )
    session.execute(stmt)


def upsert_crawled_pages(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert crawled-page rows, keeping the shallowest depth seen for a URL.

    A page read again that failed (a page fetched, then rendered in the browser, whose rendering
    timed out) keeps its row and gains the error: its content was not read, whatever its server
    answered first (``crawler.pipelines`` merges rows of one batch the same way).
    """
    if not rows:
        return
    table = models.CrawledPage.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(table).values([storable_value(r) for r in rows])
    new = stmt.excluded
    replaces = (table.c.depth.is_(None)) | (new.depth < table.c.depth) | (table.c.status_code.is_(None))
    failed_again = new.error.is_not(None) & table.c.error.is_(None)
    columns = ("status_code", "content_type", "fetched_at", "channel", "depth", "referrer")
    set_: dict[str, Any] = {c: case((replaces, new[c]), else_=table.c[c]) for c in columns}
    set_["error"] = case((replaces, new.error), else_=func.coalesce(table.c.error, new.error))
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "portal_id", "url"], set_=set_, where=replaces | failed_again
    )
    session.execute(stmt)


def item_counts(session: Session, run_id: int, portal_id: str) -> dict[str, int]:
    """Snapshot counts per channel for one portal in one run."""
    stmt = (
        select(models.ServiceItem.channel, func.count())
        .where(models.ServiceItem.run_id == run_id, models.ServiceItem.portal_id == portal_id)
        .group_by(models.ServiceItem.channel)
    )
    return {channel: int(n) for channel, n in session.execute(stmt)}


def aware(value: datetime) -> datetime:
    """Guard for callers that build datetimes by hand."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value


def latest_catalogue(
    session: Session, portal_id: str, up_to_run: int, channel: str = "portal"
) -> tuple[int, datetime | None, list[tuple[str, str | None]]] | None:
    """The newest run (≤ ``up_to_run``) whose crawl stored items of ``portal_id`` on ``channel``:
    ``(run id, newest fetch time, [(name, code), …])``; None when no run stored any."""
    item = models.ServiceItem
    where = (item.portal_id == portal_id, item.channel == channel, item.run_id <= up_to_run)
    run_id = session.scalar(select(func.max(item.run_id)).where(*where))
    if run_id is None:
        return None
    mine = (item.portal_id == portal_id, item.channel == channel, item.run_id == run_id)
    fetched = session.scalar(select(func.max(item.fetched_at)).where(*mine))
    rows = session.execute(select(item.name, item.code).where(*mine).order_by(item.item_key))
    return int(run_id), fetched, [(str(name), code) for name, code in rows]


def has_items(sf: sessionmaker[Session], run_id: int, portal_id: str, channel: str = "portal") -> bool:
    """Whether run ``run_id``'s crawl stored items of ``portal_id`` on ``channel`` (precondition
    ``portal_catalogue``)."""
    item = models.ServiceItem
    where = (item.run_id == run_id, item.portal_id == portal_id, item.channel == channel)
    with sf() as session:
        return session.scalar(select(item.id).where(*where).limit(1)) is not None
