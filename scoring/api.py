"""The library API the CLI and the nightly job call.

>>> scores = score_run(sf, run_id, ["ccps"], config)   # reads findings, stores values
>>> [s.portal_id for s in scores["ccps"]]               # ranked, best first

Scoring reads stored findings only, so rescoring a run needs no crawl and gives the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from scoring import store
from scoring.engine import score_portals
from scoring.framework import Framework, available_frameworks
from scoring.framework import load_framework as _load_framework
from scoring.manual import read_manual_csv
from scoring.model import PortalInput, PortalScore
from zwaudit.config import Config
from zwaudit.db import models
from zwaudit.errors import UsageError

__all__ = ["available_frameworks", "import_manual_csv", "load_framework", "rank", "score_run"]


def load_framework(config: Config, framework_id: str) -> Framework:
    """``frameworks/<id>.yaml`` along the config search path, validated against the check registry."""
    return _load_framework(config, framework_id)


def rank(scores: Sequence[PortalScore]) -> list[PortalScore]:
    """Best overall value first; portals without an overall value last; ties by portal id."""
    return sorted(
        scores,
        key=lambda s: (s.overall.value is None, -(s.overall.value or 0.0), s.portal_id),
    )


def score_run(
    sf: sessionmaker[Session],
    run_id: int,
    framework_ids: Sequence[str] | None,
    config: Config,
) -> dict[str, list[PortalScore]]:
    """Score every portal of ``run_id`` under each framework (all found when None), store the
    values (replacing those of an earlier scoring) and return them ranked."""
    ids = list(framework_ids) if framework_ids else available_frameworks(config)
    frameworks = [load_framework(config, f) for f in ids]
    with sf() as session:
        if session.get(models.Run, run_id) is None:
            raise UsageError(f"run {run_id} does not exist (see 'zwaudit runs')")
        findings = store.finding_rows(session, run_id)
        portal_ids = sorted(set(findings) | store.manual_portals(session, run_id))
        manual = {fw.id: store.manual_values(session, run_id, fw.id) for fw in frameworks}
    if not portal_ids:
        raise UsageError(f"run {run_id} has no findings and no manual inputs to score")
    out: dict[str, list[PortalScore]] = {}
    for fw in frameworks:
        inputs = [PortalInput(p, findings.get(p, ()), manual[fw.id].get(p, {})) for p in portal_ids]
        scores = score_portals(fw, inputs)
        store.replace_indicator_values(sf, run_id, fw.id, scores)
        out[fw.id] = rank(scores)
    return out


def import_manual_csv(sf: sessionmaker[Session], config: Config, path: Path, run_id: int) -> list[int]:
    """Validate an auditor's CSV and store it for ``run_id`` (all rows or none); returns row ids."""
    cache: dict[str, Framework] = {}

    def framework_of(framework_id: str) -> Framework:
        if framework_id not in cache:
            cache[framework_id] = load_framework(config, framework_id)
        return cache[framework_id]

    with sf() as session:
        portals = store.known_portals(session)  # a portal is known once a run has touched it
    entries = read_manual_csv(path, framework_of, portals)
    return store.store_manual(sf, run_id, entries)
