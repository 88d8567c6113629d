"""The evidence CSV auditors hand over, and the zip bundle with the evidence files.

Three properties matter more than anything else here:

* **Chinese Excel opens it correctly**: UTF-8 *with* BOM (``utf-8-sig``), which Excel needs to
  stop guessing GBK.
* **Scraped text cannot run as a formula** (CSV injection): a cell starting with ``=``, ``+``,
  ``-``, ``@``, tab or CR — or their full-width forms, which Chinese input methods produce — is
  prefixed with ``'`` as OWASP recommends; the csv module quotes the rest.
* **A person can read it**: ``detail`` is one Chinese sentence naming what was seen
  (:mod:`zwaudit.explain`, from the templates in ``config/checks.yaml``); the machine facts stay
  in the database's detail JSON and the evidence files the row names.
* **Memory stays flat**: rows are streamed from the database ``yield_per`` at a time with one
  outer join (finding ⟕ evidence) grouped on the fly, never loaded as a whole.

Personal data was redacted when the evidence was written; every cell passes through the
configured accounts' redactors again anyway (defence in depth).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.export_columns import KEYS, headers
from zwaudit.config import Config
from zwaudit.db import models
from zwaudit.errors import UsageError, ZwauditError
from zwaudit.explain import explain
from zwaudit.redact import Redactor
from zwaudit.secrets import Secrets

log = logging.getLogger(__name__)

#: First characters that make Excel/LibreOffice treat a cell as a formula (OWASP CSV injection),
#: with the full-width forms a Chinese IME types.
FORMULA_TRIGGERS = frozenset("=+-@\t\r＝＋－＠")


def neutralise(cell: str) -> str:
    """``'``-prefix a cell that a spreadsheet would evaluate as a formula."""
    if cell and cell[0] in FORMULA_TRIGGERS:
        return "'" + cell
    return cell


@dataclass(frozen=True)
class ExportFilter:
    """Which findings to export: one run, optionally narrowed (empty = all)."""

    run_id: int
    portal_ids: tuple[str, ...] = ()
    probes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()


@dataclass
class ExportResult:
    path: Path
    rows: int
    #: evidence files referenced (relative path → stored sha256), only when asked to collect
    evidence: dict[str, str | None] = field(default_factory=dict)


@dataclass
class _Row:
    finding_id: int
    values: dict[str, Any]
    files: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


def redactors_for(config: Config) -> list[Redactor]:
    """One redactor per configured test account whose personal data can be resolved.

    An account whose secrets are unavailable here (an auditor's laptop without the secrets file)
    is skipped with a warning: the data was already redacted when written.
    """
    secrets = Secrets.for_config_dir(config.directory)
    out: list[Redactor] = []
    for profile in config.select_portals(None):
        if profile.account is None:
            continue
        try:
            personal = secrets.personal_data(profile.account, where=str(profile.source_file or profile.id))
        except ZwauditError as exc:
            log.warning("export: cannot re-redact %s's account data: %s", profile.id, exc)
            continue
        if personal:
            out.append(Redactor(personal))
    return out


def _statement(flt: ExportFilter) -> Any:
    f, e = models.Finding, models.Evidence
    stmt = (
        select(
            f.id,
            f.run_id,
            f.observed_at,
            f.portal_id,
            f.probe,
            f.target,
            f.status,
            f.code,
            f.detail,
            f.probe_version,
            e.kind,
            e.path,
            e.url,
            e.sha256,
        )
        .outerjoin(e, e.finding_id == f.id)
        .where(f.run_id == flt.run_id)
    )
    if flt.portal_ids:
        stmt = stmt.where(f.portal_id.in_(flt.portal_ids))
    if flt.probes:
        stmt = stmt.where(f.probe.in_(flt.probes))
    if flt.statuses:
        stmt = stmt.where(f.status.in_(flt.statuses))
    return stmt.order_by(f.portal_id, f.probe, f.id, e.id)


def _iter_rows(session: Session, flt: ExportFilter, batch: int) -> Iterator[_Row]:
    """Findings with their evidence, one :class:`_Row` per finding, streamed."""
    current: _Row | None = None
    result = session.execute(_statement(flt).execution_options(yield_per=batch))
    for fid, run_id, observed_at, portal_id, probe, target, status, code, detail, version, *ev in result:
        if current is None or current.finding_id != fid:
            if current is not None:
                yield current
            current = _Row(
                fid,
                {
                    "run_id": run_id,
                    "observed_at": observed_at,
                    "portal_id": portal_id,
                    "probe": probe,
                    "target": target,
                    "status": status,
                    "code": code,
                    "detail": detail,
                    "probe_version": version,
                },
            )
        kind, path, url, sha = ev
        if path:
            current.files.append(path)
            current.hashes.append(sha or "")
        if url and kind == "url":
            current.urls.append(url)
    if current is not None:
        yield current


def _finding_url(detail: Any, urls: Sequence[str]) -> str:
    """The finding's URL: ``detail.url`` when the check gave one, else its ``url`` evidence."""
    if isinstance(detail, dict) and isinstance(detail.get("url"), str) and detail["url"]:
        return str(detail["url"])
    return ";".join(dict.fromkeys(urls))


def _cells(row: _Row, portal_names: dict[str, str]) -> dict[str, str]:
    v = row.values
    observed: datetime | None = v["observed_at"]
    detail = v["detail"] if v["detail"] is not None else {}
    return {
        "run_id": str(v["run_id"]),
        "observed_at": observed.isoformat(timespec="seconds") if observed else "",
        "portal_id": v["portal_id"],
        "portal_name": portal_names.get(v["portal_id"], ""),
        "probe": v["probe"],
        "target": v["target"],
        "status": v["status"],
        "code": v["code"] or "",
        "detail": explain(v["probe"], v["target"], v["status"], v["code"], detail),
        "evidence_url": _finding_url(detail, row.urls),
        "evidence_files": ";".join(row.files),
        "evidence_sha256": ";".join(row.hashes),
        "probe_version": v["probe_version"],
    }


def export_csv(
    sf: sessionmaker[Session],
    flt: ExportFilter,
    out: Path,
    *,
    zh: bool = False,
    redactors: Sequence[Redactor] = (),
    collect_evidence: bool = False,
    batch: int = 2000,
) -> ExportResult:
    """Write the findings selected by ``flt`` to ``out`` (atomically: a temp file renamed).

    Returns the row count and, with ``collect_evidence``, the evidence files referenced (for the
    bundle).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    result = ExportResult(path=out, rows=0)
    try:
        with sf() as session, tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            names = dict(session.execute(select(models.Portal.id, models.Portal.name)).tuples().all())
            writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
            writer.writerow(headers(zh=zh))
            for row in _iter_rows(session, flt, batch):
                cells = _cells(row, names)
                line = []
                for key in KEYS:
                    text = cells[key]
                    for redact in redactors:
                        text = redact(text)
                    line.append(neutralise(text))
                writer.writerow(line)
                result.rows += 1
                if collect_evidence:
                    for path, sha in zip(row.files, row.hashes, strict=True):
                        result.evidence.setdefault(path, sha or None)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def check_filter(sf: sessionmaker[Session], flt: ExportFilter) -> None:
    """A portal or probe that the run never touched is a typo, not an empty export."""
    f = models.Finding
    with sf() as session:
        for name, column, wanted in (
            ("--portal", f.portal_id, flt.portal_ids),
            ("--probe", f.probe, flt.probes),
        ):
            if not wanted:
                continue
            present = set(session.scalars(select(column).where(f.run_id == flt.run_id).distinct()))
            unknown = [w for w in wanted if w not in present]
            if unknown:
                have = ", ".join(sorted(present)) or "no findings at all"
                raise UsageError(f"{name} {', '.join(unknown)}: not in run {flt.run_id} (it has: {have})")
