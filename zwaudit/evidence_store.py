"""Where evidence files live so that the machine that exports a run can read them.

Checks write evidence to the local evidence root (:class:`~zwaudit.evidence.EvidenceWriter`), and
the export, the bundle and the report read it from there. One machine needs nothing more: that is
the ``filesystem`` store (a fleet may use it too, with the root on a shared mount).

The ``database`` store is the fleet's default: a worker *publishes* the files of a finished check
into the ``evidence_blob`` table (same relative path, sha256 checked against the bytes it sends),
and the coordinator *materialises* a run's blobs into its own evidence root before it exports,
checking each sha256 again. So workers on other machines need nothing but the database they
already write findings to; ``docs/deployment.md`` says why this beats an object store here.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.db import models
from zwaudit.errors import RunError
from zwaudit.findings import Finding, utcnow

log = logging.getLogger(__name__)

StoreKind = Literal["filesystem", "database"]


class EvidenceStore(Protocol):
    def publish(self, findings: Iterable[Finding]) -> int:
        """Make the evidence files of ``findings`` reachable by the exporting machine."""

    def materialise(self, run_dir: str) -> int:
        """Bring the run's evidence (``run_dir`` under the root) into the local evidence root."""


def _relative(path: str) -> PurePosixPath:
    rel = PurePosixPath(path.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise RunError(f"evidence path {path!r} escapes the evidence root")
    return rel


class FilesystemStore:
    """Evidence stays where the checks wrote it (one machine, or a root every machine mounts)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def publish(self, findings: Iterable[Finding]) -> int:
        return 0

    def materialise(self, run_dir: str) -> int:
        return 0


class DatabaseStore:
    """Evidence files as rows of ``evidence_blob`` in the run's own database."""

    def __init__(self, root: Path, sf: sessionmaker[Session]) -> None:
        self.root = root
        self.sf = sf

    def publish(self, findings: Iterable[Finding]) -> int:
        """Upload every file the findings reference; a file whose bytes no longer match the
        sha256 recorded when it was written is refused (the bundle must be able to prove it)."""
        rows = []
        for finding in findings:
            for ref in finding.evidence:
                if ref.path is None:
                    continue
                content = (self.root / _relative(ref.path)).read_bytes()
                digest = hashlib.sha256(content).hexdigest()
                if ref.sha256 is not None and digest != ref.sha256:
                    raise RunError(f"evidence {ref.path} changed after it was recorded")
                rows.append(
                    {
                        "path": ref.path,
                        "sha256": digest,
                        "size": len(content),
                        "content": content,
                        "stored_at": utcnow(),
                    }
                )
        if not rows:
            return 0
        table = models.EvidenceBlob.__table__
        assert isinstance(table, Table)
        with self.sf.begin() as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            for row in rows:  # one statement per file: screenshots are large, keep batches small
                stmt = insert(table).values(row)
                session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["path"],
                        set_={c: stmt.excluded[c] for c in ("sha256", "size", "content", "stored_at")},
                    )
                )
        return len(rows)

    def materialise(self, run_dir: str) -> int:
        """Write the run's blobs under the local root (skipping files already there, same bytes)."""
        prefix = f"{_relative(run_dir)}/"
        written = 0
        with self.sf() as session:
            paths = session.execute(
                select(models.EvidenceBlob.path, models.EvidenceBlob.sha256).where(
                    models.EvidenceBlob.path.startswith(prefix, autoescape=True)
                )
            ).all()
            for path, sha in paths:
                target = self.root / _relative(path)
                if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == sha:
                    continue
                content = session.scalar(
                    select(models.EvidenceBlob.content).where(models.EvidenceBlob.path == path)
                )
                if content is None or hashlib.sha256(content).hexdigest() != sha:
                    raise RunError(f"evidence blob {path} does not match its sha256")
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                tmp.write_bytes(content)
                tmp.replace(target)
                written += 1
        if written:
            log.info("evidence: %d files of %s fetched from the database", written, run_dir)
        return written


def make_store(kind: StoreKind, root: Path, sf: sessionmaker[Session]) -> EvidenceStore:
    if kind == "database":
        return DatabaseStore(root, sf)
    return FilesystemStore(root)
