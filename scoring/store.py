"""The thin layer between the database and the pure scorer: read findings and manual inputs,
replace a run's indicator values in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from scoring.model import FindingRow, ManualValue, PortalScore
from zwaudit.db import models
from zwaudit.findings import utcnow


@dataclass(frozen=True)
class ManualEntry:
    """A validated row of an auditor's CSV, ready to store."""

    portal_id: str
    framework: str
    indicator: str
    value: float
    source: str
    entered_by: str
    note: str = ""


def finding_rows(session: Session, run_id: int) -> dict[str, list[FindingRow]]:
    """The run's findings by portal: only the columns scoring needs (no evidence, no detail)."""
    stmt = (
        select(
            models.Finding.portal_id,
            models.Finding.id,
            models.Finding.probe,
            models.Finding.target,
            models.Finding.status,
            models.Finding.code,
        )
        .where(models.Finding.run_id == run_id)
        .order_by(models.Finding.portal_id, models.Finding.id)
    )
    out: dict[str, list[FindingRow]] = {}
    for portal_id, fid, probe, target, status, code in session.execute(stmt):
        out.setdefault(portal_id, []).append(FindingRow(fid, probe, target, status, code))
    return out


def manual_values(session: Session, run_id: int, framework: str) -> dict[str, dict[str, ManualValue]]:
    """Manual inputs that apply to ``run_id``: those entered for it, else the newest standing one.

    A standing input is one entered for an earlier run or for no run (registered users do not
    change every night); inputs entered for later runs never leak back into an older run, so
    rescoring a run gives the same values.
    """
    stmt = (
        select(models.ManualInput)
        .where(
            models.ManualInput.framework == framework,
            or_(models.ManualInput.run_id.is_(None), models.ManualInput.run_id <= run_id),
        )
        .order_by(models.ManualInput.id)
    )
    best: dict[tuple[str, str], tuple[tuple[bool, int], models.ManualInput]] = {}
    for row in session.scalars(stmt):
        rank = (row.run_id == run_id, row.id)
        key = (row.portal_id, row.indicator)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, row)
    out: dict[str, dict[str, ManualValue]] = {}
    for (portal_id, indicator), (_, row) in best.items():
        out.setdefault(portal_id, {})[indicator] = ManualValue(
            row.id, row.value, row.source, row.entered_by, row.entered_at
        )
    return out


def manual_portals(session: Session, run_id: int) -> set[str]:
    """Portals with manual inputs entered for this very run (scored even without findings)."""
    stmt = select(models.ManualInput.portal_id).where(models.ManualInput.run_id == run_id).distinct()
    return set(session.scalars(stmt))


def known_portals(session: Session) -> set[str]:
    return set(session.scalars(select(models.Portal.id)))


def store_manual(sf: sessionmaker[Session], run_id: int, entries: Sequence[ManualEntry]) -> list[int]:
    """Store auditor inputs for ``run_id``; entering the same (portal, framework, indicator) again
    for the same run replaces the earlier row, so importing one CSV twice changes nothing."""
    now = utcnow()
    ids: list[int] = []
    with sf.begin() as session:
        for entry in entries:
            row = session.scalars(
                select(models.ManualInput).where(
                    models.ManualInput.run_id == run_id,
                    models.ManualInput.portal_id == entry.portal_id,
                    models.ManualInput.framework == entry.framework,
                    models.ManualInput.indicator == entry.indicator,
                )
            ).first()
            if row is None:
                row = models.ManualInput(
                    run_id=run_id,
                    portal_id=entry.portal_id,
                    framework=entry.framework,
                    indicator=entry.indicator,
                )
                session.add(row)
            row.value = entry.value
            row.source = entry.source
            row.entered_by = entry.entered_by
            row.note = entry.note
            row.entered_at = now
            session.flush()
            ids.append(row.id)
    return ids


def replace_indicator_values(
    sf: sessionmaker[Session], run_id: int, framework: str, scores: Iterable[PortalScore]
) -> int:
    """Replace every value of (run, framework) in one transaction: rescoring is idempotent."""
    now = utcnow()
    count = 0
    with sf.begin() as session:
        session.execute(
            delete(models.IndicatorValue).where(
                models.IndicatorValue.run_id == run_id, models.IndicatorValue.framework == framework
            )
        )
        rows = []
        for score in scores:
            for value in score.values.values():
                rows.append(
                    models.IndicatorValue(
                        run_id=run_id,
                        portal_id=score.portal_id,
                        framework=framework,
                        indicator=value.indicator,
                        value=value.value,
                        state=value.state,
                        band=value.band,
                        inputs=value.inputs,
                        computed_at=now,
                    )
                )
        session.add_all(rows)
        count = len(rows)
    return count


def stored_values(
    session: Session, run_id: int, framework: str, portal_id: str | None = None
) -> list[models.IndicatorValue]:
    stmt = select(models.IndicatorValue).where(
        models.IndicatorValue.run_id == run_id, models.IndicatorValue.framework == framework
    )
    if portal_id is not None:
        stmt = stmt.where(models.IndicatorValue.portal_id == portal_id)
    return list(session.scalars(stmt.order_by(models.IndicatorValue.portal_id, models.IndicatorValue.id)))


def findings_by_id(session: Session, ids: Iterable[int]) -> dict[int, models.Finding]:
    wanted = sorted(set(ids))
    out: dict[int, models.Finding] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        out.update(
            {f.id: f for f in session.scalars(select(models.Finding).where(models.Finding.id.in_(chunk)))}
        )
    return out


def manual_by_id(session: Session, ids: Iterable[int]) -> dict[int, models.ManualInput]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    stmt = select(models.ManualInput).where(models.ManualInput.id.in_(wanted))
    return {m.id: m for m in session.scalars(stmt)}


def portal_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    stmt = select(models.Portal.id, models.Portal.name).where(models.Portal.id.in_(wanted))
    return {pid: name for pid, name in session.execute(stmt)}
