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

from zwaudit.app.report import labels
from zwaudit.app.report.coverage import coverage_lines
from zwaudit.db import models
from zwaudit.explain import explain
from zwaudit.redact import Redactor

SUMMARY_CHARS = 400


@dataclass
class FindingView:
    probe: str
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


@dataclass(frozen=True)
class Choice:
    """One option of a report filter: ``key`` (generated, ``p1``/``c2``/``k3``) is all the CSS
    rules see, so no scraped value ever reaches the stylesheet."""

    key: str
    value: str
    label: str


@dataclass(frozen=True)
class FilterOptions:
    """The choices of the report's filters (portal, check, code): only values a listed finding has."""

    portals: list[Choice]
    checks: list[Choice]
    codes: list[Choice]

    def key(self, kind: str, value: str | None) -> str:
        """The key of ``value`` among the ``kind`` choices (``portals``, ``checks``, ``codes``)."""
        for choice in getattr(self, kind):
            if choice.value == (value or ""):
                return str(choice.key)
        return ""


def filter_options(sections: Sequence[ProbeSection]) -> FilterOptions:
    portals: dict[str, str] = {}
    codes: dict[str, str] = {}
    for section in sections:
        for f in section.findings:
            portals.setdefault(f.portal_id, f.portal_name)
            if f.code:
                codes.setdefault(f.code, labels.code(f.code))
    return FilterOptions(
        [Choice(f"p{i}", pid, name) for i, (pid, name) in enumerate(sorted(portals.items()), 1)],
        [Choice(f"c{i}", s.probe, s.label) for i, s in enumerate((s for s in sections if s.findings), 1)],
        [
            Choice(f"k{i}", code, label)
            for i, (code, label) in enumerate(sorted(codes.items(), key=lambda kv: (kv[1], kv[0])), 1)
        ],
    )


def summarise(
    probe: str, target: str, status: str, code: str | None, detail: Any, redact: Sequence[Redactor] = ()
) -> str:
    """The finding's one Chinese sentence (:func:`zwaudit.explain.explain`, the CSV's ``detail``),
    plus the services the portal does not offer when the check set some aside."""
    text = explain(probe, target, status, code, detail)
    if isinstance(detail, dict) and isinstance(detail.get("not_offered"), list) and detail["not_offered"]:
        text += "；本门户未提供：" + "、".join(str(n) for n in detail["not_offered"])
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
                row.probe,
                row.portal_id,
                portal_names.get(row.portal_id, row.portal_id),
                clean(row.target),
                row.status,
                row.code,
                summarise(row.probe, row.target, row.status, row.code, detail, redactors),
                clean(url or ""),
                row.observed_at,
                shots,
            )
        )
    return list(sections.values())
