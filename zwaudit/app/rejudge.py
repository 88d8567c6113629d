"""``zwaudit rejudge``: the current judges applied to a past run's stored observations.

A new run (trigger ``rejudge``, ``summary.derived_from`` = the source run) whose findings are what
today's judges and rules (config, data files, portal options) conclude from the observations run N
stored — no browser, no network, no crawl. This is how a fixed rule reaches past runs, and how a
rule change is checked: ``zwaudit diff N M`` shows exactly what it changed.

Every (portal, check) of run N that is selected is either rejudged or listed as not rejudged with
its reason (a one-phase check, no stored observation, a portal no longer configured, a missing or
altered file, an observation the current check's type no longer reads); none is skipped silently.
The rejudged run records the same observation files (it does not copy them), so it can be
rejudged in turn.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import select

from zwaudit import observations
from zwaudit.app.check_runner import judge_stored, undeclared_as_internal
from zwaudit.checks import JudgeInput, TwoPhaseCheck, facts_of, is_two_phase, unmet_preconditions
from zwaudit.config.loader import Config
from zwaudit.db import models, store
from zwaudit.errors import RunError, UsageError
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import EvidenceRef, UndeclaredCodeError
from zwaudit.outcomes import RunStatus
from zwaudit.paths import evidence_root

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("zwaudit.app.rejudge")


@dataclass
class RejudgeResult:
    """The new run, its source, what was rejudged (findings by status) and what was not (why)."""

    run_id: int
    source_run: int
    rejudged: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    not_rejudged: dict[tuple[str, str], str] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "derived_from": self.source_run,
            "rejudged": [f"{p}/{c}" for p, c in sorted(self.rejudged)],
            "not_rejudged": [
                {"portal": p, "check": c, "reason": r} for (p, c), r in sorted(self.not_rejudged.items())
            ],
            "counts": dict(sum(self.rejudged.values(), Counter())),
        }


def _pairs(
    session: Session, run_id: int, portal_ids: Sequence[str], probes: Sequence[str]
) -> dict[tuple[str, str], models.Observation | None]:
    """Every (portal, check) run ``run_id`` examined (a finding or an observation), with its
    stored observation or None."""
    where_f = [models.Finding.run_id == run_id]
    where_o = [models.Observation.run_id == run_id]
    if portal_ids:
        where_f.append(models.Finding.portal_id.in_(portal_ids))
        where_o.append(models.Observation.portal_id.in_(portal_ids))
    if probes:
        where_f.append(models.Finding.probe.in_(probes))
        where_o.append(models.Observation.probe.in_(probes))
    pairs: dict[tuple[str, str], models.Observation | None] = {
        (str(p), str(c)): None
        for p, c in session.execute(
            select(models.Finding.portal_id, models.Finding.probe).where(*where_f).distinct()
        )
    }
    for row in session.scalars(select(models.Observation).where(*where_o)):
        session.expunge(row)
        pairs[(row.portal_id, row.probe)] = row
    return pairs


def rejudge(
    config: Config,
    sf: sessionmaker[Session],
    source: str | int | None,
    *,
    portal_ids: Sequence[str] = (),
    probes: Sequence[str] = (),
    root: Path | None = None,
) -> RejudgeResult:
    """Judge run ``source``'s stored observations again into a new run (see the module doc).

    Unknown ``probes`` are a :class:`UsageError`; a selection that matches nothing in the source
    run too (no run is created then)."""
    for name in probes:
        if name not in config.check_registry:
            known = ", ".join(sorted(config.check_registry))
            raise UsageError(f"unknown probe {name!r} (known: {known})")
    root = root or evidence_root()
    with sf() as session:
        source_id = store.resolve_run(session, source)
        pairs = _pairs(session, source_id, portal_ids, probes)
    if not pairs:
        raise UsageError(f"run {source_id} has no findings for this selection: nothing to rejudge")
    profiles = config.portals
    portals = [profiles[p] for p in sorted({p for p, _ in pairs}) if p in profiles]
    run_id = store.start_run(sf, "rejudge", config_dir=str(config.directory), portals=portals)
    result = RejudgeResult(run_id, source_id)
    run_dir = store.evidence_run_dir(sf, run_id)
    try:
        for (portal_id, name), row in sorted(pairs.items()):
            reason = _rejudge_one(config, sf, root, run_id, run_dir, portal_id, name, row, result)
            if reason is not None:
                result.not_rejudged[(portal_id, name)] = reason
                log.warning("%s/%s not rejudged: %s", portal_id, name, reason)
    except BaseException as exc:
        store.finish_run(sf, run_id, RunStatus.FAILED, {**result.summary(), "error": str(exc)[:500]})
        raise
    store.finish_run(sf, run_id, RunStatus.OK, result.summary())
    return result


def _rejudge_one(
    config: Config,
    sf: sessionmaker[Session],
    root: Path,
    run_id: int,
    run_dir: str,
    portal_id: str,
    name: str,
    row: models.Observation | None,
    result: RejudgeResult,
) -> str | None:
    """Rejudge one (portal, check) into ``run_id``; the reason it cannot be, else None."""
    if name not in config.check_registry:
        return "the check is no longer registered (config/checks.yaml)"
    cls = config.check_class(name)
    if not is_two_phase(cls):
        return "a one-phase check (no observe/judge): its findings cannot be rejudged"
    portal = config.portals.get(portal_id)
    if portal is None:
        return f"the portal is not configured in {config.directory} (give --config the run's profiles)"
    check = cls()
    assert isinstance(check, TwoPhaseCheck)
    where = JudgeInput(config=config, portal=portal, options=config.check_options(portal, name))
    unmet = unmet_preconditions(name, facts_of(portal, sf, result.source_run))  # as the runner does
    if row is None:
        if not _held_back(sf, result.source_run, portal_id, name):
            return f"no observation stored in run {result.source_run} (the check failed before observing)"
        if not unmet.skip:
            return f"a precondition held it back in run {result.source_run} and now holds: audit it again"
        findings = unmet.findings(check.subject(where, None))  # the runner's, again
        store.replace_findings(sf, run_id, portal_id, name, cls.version, findings, None)
        result.rejudged[(portal_id, name)] = Counter(f.status.value for f in findings)
        return None
    try:
        text = observations.read_text(sf, root, row.path, row.sha256)
    except RunError as exc:
        return str(exc)
    evidence = EvidenceWriter(run_id, portal_id, name, root=root, run_dir=run_dir)
    try:
        findings = judge_stored(check, text, where, evidence, row.observed_at, unmet)
    except ValidationError as exc:
        errors = exc.errors()
        what = errors[0]["msg"] if errors else str(exc)
        return f"the stored observation (check version {row.probe_version}) no longer fits the check: {what}"
    except UndeclaredCodeError:
        raise  # a judge and its declaration disagree: a programming error, loud
    findings = [undeclared_as_internal(cls, f) for f in findings]
    ref = EvidenceRef(kind=observations.KIND, media_type=row.media_type, path=row.path, sha256=row.sha256)
    stored = observations.StoredObservation(ref, row.probe_version, row.observed_at)
    store.replace_findings(sf, run_id, portal_id, name, cls.version, findings, stored)
    result.rejudged[(portal_id, name)] = Counter(f.status.value for f in findings)
    return None


def _held_back(sf: sessionmaker[Session], run_id: int, portal_id: str, name: str) -> bool:
    """Whether run ``run_id``'s findings of (portal, check) are all an unmet precondition's (the
    runner wrote them instead of observing)."""
    with sf() as session:
        details = session.scalars(
            select(models.Finding.detail).where(
                models.Finding.run_id == run_id,
                models.Finding.portal_id == portal_id,
                models.Finding.probe == name,
            )
        ).all()
    return bool(details) and all(isinstance(d, dict) and d.get("precondition") for d in details)
