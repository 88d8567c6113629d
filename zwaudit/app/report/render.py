"""Rendering the static HTML report of a run: one ``index.html`` with its CSS and charts inline
and the screenshots copied beside it — no external URL, so it opens offline, from a USB stick or
an e-mail attachment, exactly as it was generated. No JavaScript either: screenshots are
thumbnails that open large on a click (CSS ``:target``), and the findings are filtered by portal,
check and code with ``<select>`` boxes and CSS ``:has()`` rules over generated keys (``p1``,
``c2``, ``k3``), so no scraped value reaches the stylesheet; scraped text is only ever autoescaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit import __version__
from zwaudit.app.history import RunDiff, RunInfo, comparison_run, diff_runs, run_infos
from zwaudit.app.report import charts, labels
from zwaudit.app.report.findings import FilterOptions, ProbeSection, filter_options, probe_sections
from zwaudit.app.report.scores import FrameworkScore, RankRow, ranking, ranking_bars, run_scores
from zwaudit.config import Config
from zwaudit.db import models
from zwaudit.errors import UsageError
from zwaudit.findings import utcnow
from zwaudit.paths import evidence_root
from zwaudit.redact import Redactor
from zwaudit.text_safety import safe_href, shown

TEMPLATES = Path(__file__).resolve().parent / "templates"
DIFF_LIMIT = 300


@dataclass
class PortalCard:
    portal_id: str
    name: str
    home_url: str
    counts: dict[str, int]
    scores: list[FrameworkScore] = field(default_factory=list)
    fails_by_probe: dict[str, int] = field(default_factory=dict)


@dataclass
class ReportData:
    run: RunInfo
    generated_at: datetime
    previous: int | None
    portals: list[PortalCard]
    rankings: dict[str, list[RankRow]]
    framework_names: dict[str, str]
    probes: list[ProbeSection]
    diff: RunDiff | None
    filters: FilterOptions
    version: str = __version__


def _run_info(session: Session, run_id: int) -> RunInfo:
    for info in run_infos(session, run_id=run_id):
        return info
    raise UsageError(f"run {run_id} does not exist (see 'zwaudit runs')")


def collect(
    session: Session,
    run_id: int,
    *,
    config: Config | None,
    report_dir: Path,
    limit: int = 200,
    redactors: Sequence[Redactor] = (),
) -> ReportData:
    """Everything the template shows, read from the database (no network, no rescoring)."""
    run = _run_info(session, run_id)
    previous = comparison_run(session, run_id)
    portal_rows = {
        p.id: p
        for p in session.scalars(
            select(models.Portal).where(
                models.Portal.id.in_(select(models.Finding.portal_id).where(models.Finding.run_id == run_id))
                | models.Portal.id.in_(
                    select(models.IndicatorValue.portal_id).where(models.IndicatorValue.run_id == run_id)
                )
            )
        )
    }
    names = {pid: p.name for pid, p in portal_rows.items()}
    scores = run_scores(session, run_id, config, previous)
    sections = probe_sections(
        session,
        run_id,
        names,
        report_dir=report_dir,
        evidence_root=evidence_root(),
        limit=limit,
        redactors=redactors,
    )
    cards: list[PortalCard] = []
    for pid in sorted(portal_rows):
        row = portal_rows[pid]
        counts: dict[str, int] = {}
        fails: dict[str, int] = {}
        for section in sections:
            for status, n in section.by_portal.get(pid, {}).items():
                counts[status] = counts.get(status, 0) + n
            if section.by_portal.get(pid, {}).get("fail"):
                fails[section.probe] = section.by_portal[pid]["fail"]
        card = PortalCard(pid, row.name, row.home_url, counts, fails_by_probe=fails)
        card.scores = [scores[fw][pid] for fw in scores if pid in scores[fw]]
        cards.append(card)
    diff = diff_runs(session, previous, run_id) if previous is not None else None
    return ReportData(
        run=run,
        generated_at=utcnow(),
        previous=previous,
        portals=cards,
        rankings={fw: ranking(per_portal, names) for fw, per_portal in scores.items()},
        framework_names={fw: next(iter(pp.values())).name for fw, pp in scores.items()},
        probes=sections,
        diff=diff,
        filters=filter_options(sections),
    )


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(charts=charts, labels=labels, DIFF_LIMIT=DIFF_LIMIT, ranking_bars=ranking_bars)
    env.filters["num"] = lambda v, digits=1: "缺失" if v is None else f"{v:.{digits}f}"
    env.filters["signed"] = lambda v: "" if v is None else f"{v:+.1f}"
    env.filters["ts"] = lambda v: "" if v is None else v.strftime("%Y-%m-%d %H:%M UTC")
    # scraped text: hidden direction/width controls made visible, long names cut (stored whole)
    env.filters["shown"] = shown
    env.filters["href"] = safe_href  # only http(s) links are clickable
    return env


def render_html(data: ReportData) -> str:
    return environment().get_template("report.html.j2").render(data=data)


def write_report(
    sf: sessionmaker[Session],
    run_id: int,
    out: Path,
    *,
    config: Config | None = None,
    limit: int = 200,
    redactors: Sequence[Redactor] = (),
) -> Path:
    """Write ``out/index.html`` (+ ``out/evidence/…``) for ``run_id``; returns the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
    with sf() as session:
        data = collect(session, run_id, config=config, report_dir=out, limit=limit, redactors=redactors)
    html = render_html(data)
    target = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(html, encoding="utf-8", errors="replace")  # a stray surrogate never loses the report
    tmp.replace(target)
    return target
