"""Findings of a run grouped by probe, for the report: counts, and the fails and errors with
their screenshots copied next to the HTML (relative links, so the folder works offline and can be
zipped and mailed).

Passes are counted, not listed; each probe lists at most ``limit`` fails/errors (the CSV has them
all), so a run with a million findings still gives a report a browser can open.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from zwaudit.db import models
from zwaudit.redact import Redactor
from zwaudit.report import labels
from zwaudit.report.coverage import coverage_lines

SUMMARY_CHARS = 240


@dataclass
class FindingView:
    portal_id: str
    portal_name: str
    target: str
    status: str
    code: str | None
    summary: str
    url: str
    observed_at: datetime
    screenshots: list[str] = field(default_factory=list)


@dataclass
class ProbeSection:
    probe: str
    label: str
    counts: dict[str, int] = field(default_factory=dict)
    by_portal: dict[str, dict[str, int]] = field(default_factory=dict)
    findings: list[FindingView] = field(default_factory=list)
    hidden: int = 0
    coverage: dict[str, str] = field(default_factory=dict)  # portal id → how far the check looked


def summarise(detail: Any, redact: Sequence[Redactor] = ()) -> str:
    """A short human line from a finding's ``detail`` (its URL is shown separately)."""
    if not isinstance(detail, dict) or not detail:
        return ""
    parts = [str(detail["error"])] if isinstance(detail.get("error"), str) else []
    if isinstance(detail.get("not_offered"), list) and detail["not_offered"]:
        parts.append("not_offered=" + "、".join(str(n) for n in detail["not_offered"]))
    coverage = detail.get("coverage")
    if isinstance(coverage, dict):
        shown = {k: v for k, v in coverage.items() if v is not None and not isinstance(v, dict | list)}
        parts.append("coverage: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    for key, value in detail.items():
        # scalars only: nested structures and URLs are technical (the CSV keeps them whole)
        if key in ("error", "url") or key.endswith("_url") or isinstance(value, dict | list):
            continue
        if value is None or value == "":
            continue
        parts.append(f"{key}={value}")
    text = "；".join(parts)
    for r in redact:
        text = r(text)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _safe(path: str) -> PurePosixPath | None:
    rel = PurePosixPath(path.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        return None
    return rel


def copy_screenshot(path: str, evidence_root: Path, report_dir: Path) -> str | None:
    """Copy one evidence image next to the report; its relative link, or None if unavailable."""
    rel = _safe(path)
    if rel is None:
        return None
    source = evidence_root / rel
    if not source.is_file():
        return None
    target = report_dir / "evidence" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, target)
    return f"evidence/{rel}"


def _counts(session: Session, run_id: int) -> dict[str, dict[str, dict[str, int]]]:
    """probe → portal → status → count."""
    f = models.Finding
    out: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    stmt = (
        select(f.probe, f.portal_id, f.status, func.count())
        .where(f.run_id == run_id)
        .group_by(f.probe, f.portal_id, f.status)
    )
    for probe, portal, status, n in session.execute(stmt):
        out[probe][portal][status] = int(n)
    return out


def probe_sections(
    session: Session,
    run_id: int,
    portal_names: dict[str, str],
    *,
    report_dir: Path,
    evidence_root: Path,
    limit: int = 200,
    redactors: Sequence[Redactor] = (),
) -> list[ProbeSection]:
    """One section per probe (in the order of :data:`labels.PROBES`, then by name)."""
    counts = _counts(session, run_id)
    covered = coverage_lines(session, run_id)
    order = {name: i for i, name in enumerate(labels.PROBES)}
    sections: dict[str, ProbeSection] = {}
    for probe in sorted(counts, key=lambda p: (order.get(p, len(order)), p)):
        lines = covered.get(probe, {})
        section = ProbeSection(
            probe, labels.probe(probe), coverage={portal_names.get(p, p): t for p, t in lines.items()}
        )
        for portal, by_status in sorted(counts[probe].items()):
            section.by_portal[portal] = dict(by_status)
            for status, n in by_status.items():
                section.counts[status] = section.counts.get(status, 0) + n
        sections[probe] = section

    def clean(text: str) -> str:
        for r in redactors:
            text = r(text)
        return text

    f = models.Finding
    stmt = (
        select(f)
        .where(f.run_id == run_id, f.status.in_(("fail", "error")))
        .order_by(f.probe, case((f.status == "fail", 0), else_=1), f.portal_id, f.id)
        .options(selectinload(f.evidence))
        .execution_options(yield_per=500)
    )
    for row in session.scalars(stmt):
        section = sections[row.probe]
        if len(section.findings) >= limit:
            section.hidden += 1
            continue
        detail = row.detail if isinstance(row.detail, dict) else {}
        url = detail.get("url") if isinstance(detail.get("url"), str) else None
        url = url or next((e.url for e in row.evidence if e.kind == "url" and e.url), "")
        shots = [
            link
            for e in row.evidence
            if e.path and e.media_type.startswith("image/")
            for link in [copy_screenshot(e.path, evidence_root, report_dir)]
            if link is not None
        ]
        section.findings.append(
            FindingView(
                row.portal_id,
                portal_names.get(row.portal_id, row.portal_id),
                clean(row.target),
                row.status,
                row.code,
                summarise(detail, redactors),
                clean(url or ""),
                row.observed_at,
                shots,
            )
        )
    return list(sections.values())
