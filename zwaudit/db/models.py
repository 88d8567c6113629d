"""The tables. Typed ORM models only: the queries live in :mod:`zwaudit.db.store`.

Times are stored timezone-aware (UTC). JSON columns are ``JSONB`` on PostgreSQL and JSON text on
SQLite. Ids are integers so that an auditor can type ``--run 12``; nothing relies on one process
allocating them, so several machines can write to one PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from zwaudit.outcomes import RunStatus, Status

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use zwaudit.findings.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _ts() -> Mapped[datetime]:
    return mapped_column(UTCDateTime())


class Portal(Base):
    """A configured portal, mirrored from its profile when a run first touches it."""

    __tablename__ = "portal"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    home_url: Mapped[str] = mapped_column(String(2000))
    level: Mapped[str] = mapped_column(String(20), default="province")
    updated_at: Mapped[datetime] = _ts()


class Run(Base):
    """One audit run: a nightly job, a manual rerun, a crawl or a calibration."""

    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s.value) for s in RunStatus)})", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(20))  # nightly, audit, crawl, calibrate, score
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.RUNNING.value)  # a RunStatus
    started_at: Mapped[datetime] = _ts()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    host: Mapped[str] = mapped_column(String(200), default="")
    config_dir: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    findings: Mapped[list[Finding]] = relationship(back_populates="run", cascade="all, delete-orphan")

    @validates("status")
    def _closed_status(self, _key: str, value: str) -> str:
        return RunStatus(value).value  # an unknown status is a ValueError here, not a stored row


class Finding(Base):
    """What one check concluded about one target; ``code`` is a reason code or an error kind."""

    __tablename__ = "finding"
    __table_args__ = (
        Index("ix_finding_run_portal_probe", "run_id", "portal_id", "probe"),
        CheckConstraint(f"status IN ({', '.join(repr(s.value) for s in Status)})", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    portal_id: Mapped[str] = mapped_column(ForeignKey("portal.id"))
    probe: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    probe_version: Mapped[str] = mapped_column(String(32))
    observed_at: Mapped[datetime] = _ts()

    run: Mapped[Run] = relationship(back_populates="findings")
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="Evidence.id"
    )

    @validates("status")
    def _closed_status(self, _key: str, value: str) -> str:
        return Status(value).value  # an unknown status is a ValueError here, not a stored row


class Evidence(Base):
    """A file (path relative to the evidence root) or URL that proves a finding."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    media_type: Mapped[str] = mapped_column(String(100))

    finding: Mapped[Finding] = relationship(back_populates="evidence")


class Observation(Base):
    """What a two-phase check observed on one portal in one run: a JSON file beside its evidence
    (path relative to the evidence root, sha256 of its bytes), the version of the check that wrote
    it and when. ``zwaudit rejudge`` applies the current judges to these; a rejudged run records
    the same file (it does not copy it)."""

    __tablename__ = "observation"
    __table_args__ = (UniqueConstraint("run_id", "portal_id", "probe"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    portal_id: Mapped[str] = mapped_column(ForeignKey("portal.id"))
    probe: Mapped[str] = mapped_column(String(64))
    probe_version: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(100))
    observed_at: Mapped[datetime] = _ts()


class ServiceItem(Base):
    """A snapshot of one service item on one channel in one run, with normalised guide fields."""

    __tablename__ = "service_item"
    __table_args__ = (UniqueConstraint("run_id", "portal_id", "channel", "item_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    portal_id: Mapped[str] = mapped_column(ForeignKey("portal.id"))
    channel: Mapped[str] = mapped_column(String(100))  # portal, dept:<id>, mobile
    item_key: Mapped[str] = mapped_column(String(300))  # the code, or the normalised name
    code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    name: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(Text, nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    source_url: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = _ts()


class CrawledPage(Base):
    """A page fetched by the crawler: for link health and click depth."""

    __tablename__ = "crawled_page"
    __table_args__ = (UniqueConstraint("run_id", "portal_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    portal_id: Mapped[str] = mapped_column(ForeignKey("portal.id"))
    channel: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    depth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    referrer: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fetched_at: Mapped[datetime] = _ts()


class IndicatorValue(Base):
    """An indicator's value for a portal in a run, with what it was computed from."""

    __tablename__ = "indicator_value"
    __table_args__ = (UniqueConstraint("run_id", "portal_id", "framework", "indicator"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    portal_id: Mapped[str] = mapped_column(ForeignKey("portal.id"))
    framework: Mapped[str] = mapped_column(String(64))
    indicator: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)  # None = missing
    state: Mapped[str] = mapped_column(String(20), default="ok")  # ok, missing, incomplete, vetoed
    band: Mapped[str | None] = mapped_column(String(20), nullable=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    computed_at: Mapped[datetime] = _ts()


class ManualInput(Base):
    """A value entered by an auditor for a leaf that cannot be observed from outside."""

    __tablename__ = "manual_input"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), nullable=True)
    portal_id: Mapped[str] = mapped_column(ForeignKey("portal.id"))
    framework: Mapped[str] = mapped_column(String(64))
    indicator: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[datetime] = _ts()
    note: Mapped[str] = mapped_column(Text, default="")


class Lock(Base):
    """A named lock (the nightly job's), held by host+pid, refreshed by a heartbeat."""

    __tablename__ = "lock"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(300))
    acquired_at: Mapped[datetime] = _ts()
    heartbeat_at: Mapped[datetime] = _ts()


class Meta(Base):
    """Facts about the database itself; ``database_id`` (a UUID written by the first upgrade)
    names its runs on disk, whatever URL a client reaches it by."""

    __tablename__ = "zwaudit_meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class EvidenceBlob(Base):
    """An evidence file kept in the database (the fleet's shared evidence store), keyed by the
    same relative path the ``evidence`` rows store."""

    __tablename__ = "evidence_blob"

    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = _ts()


class CrawlOutcome(Base):
    """How a queued crawl of one portal ended (``error`` None = ok): the crawl-based check jobs
    that follow it read this instead of judging an empty snapshot."""

    __tablename__ = "crawl_outcome"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    portal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime] = _ts()
