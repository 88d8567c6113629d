"""What calibration counts on a hostile province besides findings: politeness and data safety.

Politeness is judged from the sandbox's request log (the server's view, as a real portal's access
log would show it), never from the auditor's account of itself:

* requests to ``Disallow`` paths of robots.txt;
* ``Retry-After`` violations: a request for the same resource (host and path) before the wait the
  server asked for had passed (less a small tolerance for clock granularity);
* ``Crawl-delay`` violations: successive page requests to the host closer than
  ``CRAWL_DELAY_SLACK`` × the delay (sub-resources a browser pulls in with a page do not count:
  ``Sec-Fetch-Dest`` tells them apart). A page that follows the redirect its predecessor answered
  with (the log keeps the ``Location``) is that same fetch routed on by the server, counted apart
  as a redirect hop: a browser follows a redirect before any script or route of the auditor sees
  it, and the auditor chose one fetch, not two;
* pages fetched from each trap, against the bound the ground truth states.

Data safety is judged from the run's outputs: CSV cells a spreadsheet would evaluate, scraped
HTML/JS payloads unescaped in the report, and the test account's personal data (and password)
anywhere: the database rows of the run, the CSV, the evidence files, the log.
The ground truth's ``notes.hostile`` says where the log is and what the bounds are.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from sandbox.web.reqlog import Logged, read
from zwaudit.app.export import FORMULA_TRIGGERS
from zwaudit.db import models
from zwaudit.secrets import Secrets

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from zwaudit.config.loader import Config

CRAWL_DELAY_SLACK = 0.75  # a gap under 0.75 × Crawl-delay is a violation (1.5 s for 2 s)
RETRY_AFTER_TOLERANCE_S = 0.25


@dataclass
class HostileCounters:
    """The counters the issue wants at 0 (traps: at most the bound)."""

    portal_id: str
    requests: int = 0
    disallowed_requests: int = 0
    retry_after_violations: int = 0
    crawl_delay_violations: int = 0
    crawl_delay_pages: int = 0
    crawl_delay_redirect_hops: int = 0  # close pairs that are one redirect followed: not violations
    trap_pages: dict[str, int] = field(default_factory=dict)
    trap_bound: int = 0
    csv_unneutralised: int = -1  # -1: not measured
    report_unescaped: int = -1
    personal_data: dict[str, int] = field(default_factory=dict)  # where -> places holding it

    @property
    def traps_over_bound(self) -> int:
        return sum(1 for n in self.trap_pages.values() if n > self.trap_bound)

    def problems(self) -> list[str]:
        out = []
        for name in ("disallowed_requests", "retry_after_violations", "crawl_delay_violations"):
            if getattr(self, name):
                out.append(f"{name}={getattr(self, name)}")
        out += [
            f"trap {t}: {n} pages > {self.trap_bound}"
            for t, n in self.trap_pages.items()
            if n > self.trap_bound
        ]
        if self.csv_unneutralised > 0:
            out.append(f"csv_unneutralised={self.csv_unneutralised}")
        if self.report_unescaped > 0:
            out.append(f"report_unescaped={self.report_unescaped}")
        out += [f"personal data in {where}: {n}" for where, n in self.personal_data.items() if n]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "disallowed_requests": self.disallowed_requests,
            "retry_after_violations": self.retry_after_violations,
            "crawl_delay_violations": self.crawl_delay_violations,
            "crawl_delay_pages": self.crawl_delay_pages,
            "crawl_delay_redirect_hops": self.crawl_delay_redirect_hops,
            "trap_pages": dict(self.trap_pages),
            "trap_bound": self.trap_bound,
            "csv_unneutralised": self.csv_unneutralised,
            "report_unescaped": self.report_unescaped,
            "personal_data": dict(self.personal_data),
        }


def _path(raw: str) -> str:
    """``/a/b;jsessionid=X?q=1`` → ``/a/b``: the resource, without session ids or query."""
    return raw.split("?", 1)[0].split(";", 1)[0]


def politeness(rows: Sequence[Logged], hostile: dict[str, Any], counters: HostileCounters) -> None:
    """Fill the request-log counters of ``counters`` from ``rows`` (arrival order)."""
    counters.requests = len(rows)
    disallow: dict[str, list[str]] = hostile.get("disallow", {})
    counters.disallowed_requests = sum(
        1 for r in rows if any(_path(r.path).startswith(p) for p in disallow.get(r.site, []))
    )
    for i, asked in enumerate(rows):
        if asked.retry_after is None:
            continue
        until = asked.t + asked.retry_after - RETRY_AFTER_TOLERANCE_S
        counters.retry_after_violations += sum(
            1
            for later in rows[i + 1 :]
            if later.t < until and later.site == asked.site and _path(later.path) == _path(asked.path)
        )
    # a redirect followed is a server routing one fetch on, not a second fetch the auditor chose
    # (browsers follow redirects before any script or route sees them): the request came straight
    # after a 3xx answer pointing at it, from this host or another (a login host sending the
    # browser back with its ticket)
    redirected = {
        i for i in range(1, len(rows)) if rows[i - 1].location and rows[i - 1].location == rows[i].path
    }
    for site, delay in hostile.get("crawl_delay_s", {}).items():
        pages = [(i, r) for i, r in enumerate(rows) if r.site == site and r.is_page]
        counters.crawl_delay_pages += len(pages)
        close = [j for (_, a), (j, b) in pairwise(pages) if b.t - a.t < CRAWL_DELAY_SLACK * float(delay)]
        hops = sum(1 for j in close if j in redirected)
        counters.crawl_delay_redirect_hops += hops
        counters.crawl_delay_violations += len(close) - hops
    traps = Counter(r.tag.removeprefix("trap:") for r in rows if r.tag.startswith("trap:"))
    counters.trap_pages = dict(sorted(traps.items()))
    counters.trap_bound = int(hostile.get("trap_bound", 0))


def unneutralised_cells(csv_path: Path) -> int:
    """Cells a spreadsheet would evaluate as a formula (the export must prefix them with ')."""
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        return sum(1 for row in csv.reader(fh) for cell in row if cell and cell[0] in FORMULA_TRIGGERS)


def unescaped_payloads(html: str, payloads: Iterable[str]) -> int:
    """Occurrences of scraped markup payloads verbatim in the report (escaped ones do not match)."""
    return sum(html.count(p) for p in payloads if "<" in p or ">" in p)


def _holds(text: str, values: Sequence[str]) -> bool:
    return any(v in text for v in values)


def personal_data_in_db(sf: sessionmaker[Session], run_id: int, values: Sequence[str]) -> int:
    """Rows of the run (findings, evidence, pages, items) whose text holds any of ``values``."""
    hits = 0
    with sf() as session:
        for f in session.scalars(select(models.Finding).where(models.Finding.run_id == run_id)):
            text = json.dumps([f.target, f.detail], ensure_ascii=False)
            hits += _holds(text, values)
            hits += sum(_holds(f"{e.path} {e.url}", values) for e in f.evidence)
        pages = select(models.CrawledPage.url, models.CrawledPage.error).where(
            models.CrawledPage.run_id == run_id
        )
        hits += sum(_holds(f"{u} {e}", values) for u, e in session.execute(pages))
        items = select(models.ServiceItem.name, models.ServiceItem.fields).where(
            models.ServiceItem.run_id == run_id
        )
        hits += sum(
            _holds(json.dumps([n, fl], ensure_ascii=False), values) for n, fl in session.execute(items)
        )
    return hits


def personal_data_in_files(paths: Iterable[Path], values: Sequence[str]) -> int:
    """Files (walked recursively) whose bytes hold any of ``values`` in UTF-8."""
    needles = [v.encode() for v in values if v]
    hits = 0
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            data = path.read_bytes()
            hits += any(n in data for n in needles)
    return hits


def request_rows(sandbox_dir: Path, hostile: dict[str, Any], since: float, until: float) -> list[Logged]:
    return list(read(sandbox_dir / str(hostile["request_log"]), since, until))


def hostile_counters(
    config: Config,
    sf: sessionmaker[Session],
    portal_id: str,
    run_id: int,
    notes_of: dict[str, Any],
    sandbox_dir: Path,
    window: tuple[float, float],
    scratch: Path,
    log_file: Path | None,
) -> HostileCounters:
    """Politeness from the sandbox's request log, data safety from the run's CSV, report,
    evidence, database rows and log (:mod:`zwaudit.app.calibration_hostile`)."""
    from zwaudit.app.export import ExportFilter, export_csv, redactors_for
    from zwaudit.app.report.render import write_report
    from zwaudit.db.store import evidence_run_dir
    from zwaudit.paths import evidence_root

    counters = HostileCounters(portal_id)
    politeness(request_rows(sandbox_dir, notes_of, *window), notes_of, counters)
    redactors = redactors_for(config)
    csv_path = scratch / f"{portal_id}.csv"
    export_csv(sf, ExportFilter(run_id, portal_ids=(portal_id,)), csv_path, redactors=redactors)
    counters.csv_unneutralised = unneutralised_cells(csv_path)
    html = write_report(sf, run_id, scratch / f"report-{portal_id}", config=config, redactors=redactors)
    counters.report_unescaped = unescaped_payloads(
        html.read_text(encoding="utf-8"), notes_of.get("payloads", [])
    )
    portal = config.portal(portal_id)
    values: list[str] = []
    if portal.account is not None:
        secrets = Secrets.for_config_dir(config.directory)
        values = list(secrets.personal_data(portal.account).values())
        if portal.account.password is not None:
            values.append(secrets.resolve(portal.account.password))
    values = [v for v in values if v]
    evidence_dir = evidence_root() / evidence_run_dir(sf, run_id) / portal_id
    counters.personal_data = {
        "database": personal_data_in_db(sf, run_id, values),
        "csv": personal_data_in_files([csv_path], values),
        "report": personal_data_in_files([html.parent], values),
        "evidence": personal_data_in_files([evidence_dir] if evidence_dir.exists() else [], values),
        "log": personal_data_in_files([log_file] if log_file and log_file.exists() else [], values),
    }
    return counters
