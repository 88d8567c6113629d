"""Hand-made runs for the operations tests (export, history, report, nightly): stored through the
same store functions the orchestrator uses, so the tests read what a real run would leave."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from zwaudit.config.schema import PortalProfile
from zwaudit.db import models
from zwaudit.db.store import finish_run, replace_findings, start_run
from zwaudit.findings import EvidenceRef, Finding, utcnow
from zwaudit.outcomes import Status

PORTALS = {
    "sbx-shu": PortalProfile(id="sbx-shu", name="蜀省政务服务网", home_url="https://127.0.0.1:28011/"),
    "sbx-zhe": PortalProfile(id="sbx-zhe", name="浙省政务服务网", home_url="https://127.0.0.1:28021/"),
}


@dataclass
class F:
    """A finding to store: portal + the finding itself."""

    portal: str
    probe: str
    target: str
    status: str
    code: str | None = None
    detail: dict[str, object] = field(default_factory=dict)
    evidence: list[EvidenceRef] = field(default_factory=list)

    def finding(self) -> Finding:
        return Finding(self.probe, self.target, Status(self.status), self.code, self.detail, self.evidence)


def store_run(
    sf: sessionmaker[Session],
    findings: Iterable[F],
    *,
    trigger: str = "nightly",
    indicators: Sequence[tuple[str, str, str, float | None, str | None]] = (),
    portals: Sequence[str] = ("sbx-shu", "sbx-zhe"),
    status: str = "ok",
) -> int:
    """Store a run (finished as ``status``; ``running`` leaves it open, as ``run_audit`` does for
    the nightly job); ``indicators`` are (portal, framework, indicator, value, band)."""
    run_id = start_run(sf, trigger, portals=[PORTALS[p] for p in portals])
    grouped: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        grouped[(f.portal, f.probe)].append(f.finding())
    for (portal, probe), items in grouped.items():
        replace_findings(sf, run_id, portal, probe, "1.0.0", items)
    with sf.begin() as session:
        for portal, framework, indicator, value, band in indicators:
            session.add(
                models.IndicatorValue(
                    run_id=run_id,
                    portal_id=portal,
                    framework=framework,
                    indicator=indicator,
                    value=value,
                    state="ok" if value is not None else "missing",
                    band=band,
                    inputs={},
                    computed_at=utcnow(),
                )
            )
    if status != "running":
        finish_run(sf, run_id, status)
    return run_id
