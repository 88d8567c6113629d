"""Indicator values of a run, arranged for the report: rankings and per-portal scorecards.

Everything comes from stored ``indicator_value`` rows, so a report can be rendered for any past
run without rescoring. The tree (root and first-level indicators) is read from the framework file
when it is available (for names and order) and otherwise recovered from the stored ``inputs``
(each parent stores its children's values). The file is parsed by scoring's own parser.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring.framework import load_framework
from zwaudit.config import Config
from zwaudit.db import models
from zwaudit.errors import ZwauditError


@dataclass(frozen=True)
class Outline:
    """What the report needs of a framework: its name, root, and names/children of indicators."""

    id: str
    name: str
    root: str | None
    names: dict[str, str] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Stored:
    value: float | None
    state: str
    band: str | None
    inputs: dict[str, Any]


@dataclass(frozen=True)
class Bar:
    id: str
    name: str
    value: float | None
    state: str


@dataclass
class FrameworkScore:
    framework: str
    name: str
    overall: float | None
    state: str
    band: str | None
    bands: dict[str, str]
    first_level: list[Bar]
    previous: float | None = None

    @property
    def delta(self) -> float | None:
        if self.overall is None or self.previous is None:
            return None
        return self.overall - self.previous

    def axes(self) -> list[tuple[str, float | None]]:
        """(name, value) of the first-level indicators, for the charts."""
        return [(b.name, b.value) for b in self.first_level]


@dataclass(frozen=True)
class RankRow:
    rank: int | None
    portal_id: str
    portal_name: str
    score: FrameworkScore


def read_outline(config: Config | None, framework: str) -> Outline:
    """The framework's outline, read with scoring's own parser; a bare one when the file is gone
    or no longer valid (a past run's values still render, named by their ids)."""
    if config is None:
        return Outline(framework, framework, None)
    try:
        parsed = load_framework(config, framework)
    except ZwauditError:
        return Outline(framework, framework, None)
    names = {node_id: node.name for node_id, node in parsed.nodes.items()}
    children = {node_id: list(node.spec.children) for node_id, node in parsed.nodes.items()}
    return Outline(framework, parsed.spec.name, parsed.spec.root, names, children)


def _stored_tree(rows: dict[str, Stored]) -> tuple[str | None, list[str]]:
    """Root and first level recovered from the stored inputs (``inputs.children`` of parents)."""
    parents = {k: list(v.inputs.get("children", {}) or {}) for k, v in rows.items()}
    is_child = {c for kids in parents.values() for c in kids}
    roots = [k for k, kids in parents.items() if kids and k not in is_child]
    if not roots:
        return None, []
    root = next((r for r in roots if "bands" in rows[r].inputs), roots[0])
    return root, sorted(parents[root])


def _score(framework: Outline, rows: dict[str, Stored]) -> FrameworkScore | None:
    root = framework.root if framework.root in rows else None
    first: list[str] = framework.children.get(root, []) if root else []
    if root is None:
        root, first = _stored_tree(rows)
    if root is None:
        return None
    top = rows[root]
    bars = [
        Bar(
            i,
            framework.names.get(i, i),
            rows[i].value if i in rows else None,
            rows[i].state if i in rows else "missing",
        )
        for i in first
    ]
    bands = top.inputs.get("bands")
    return FrameworkScore(
        framework.id,
        framework.name,
        top.value,
        top.state,
        top.band,
        {str(k): str(v) for k, v in bands.items()} if isinstance(bands, dict) else {},
        bars,
    )


def _load(session: Session, run_id: int) -> dict[str, dict[str, dict[str, Stored]]]:
    """framework → portal → indicator → stored value."""
    iv = models.IndicatorValue
    out: dict[str, dict[str, dict[str, Stored]]] = defaultdict(lambda: defaultdict(dict))
    stmt = select(iv.framework, iv.portal_id, iv.indicator, iv.value, iv.state, iv.band, iv.inputs).where(
        iv.run_id == run_id
    )
    for fw, portal, indicator, value, state, band, inputs in session.execute(stmt):
        out[fw][portal][indicator] = Stored(value, state, band, inputs if isinstance(inputs, dict) else {})
    return out


def run_scores(
    session: Session, run_id: int, config: Config | None, previous_run: int | None = None
) -> dict[str, dict[str, FrameworkScore]]:
    """framework → portal → score (with the previous run's overall value for the trend)."""
    stored = _load(session, run_id)
    before = _load(session, previous_run) if previous_run is not None else {}
    result: dict[str, dict[str, FrameworkScore]] = {}
    for fw in sorted(stored):
        outline = read_outline(config, fw)
        per_portal: dict[str, FrameworkScore] = {}
        for portal, rows in stored[fw].items():
            score = _score(outline, rows)
            if score is None:
                continue
            old_rows = before.get(fw, {}).get(portal)
            old = _score(outline, old_rows) if old_rows else None
            score.previous = old.overall if old else None
            per_portal[portal] = score
        if per_portal:
            result[fw] = per_portal
    return result


def ranking_bars(rows: list[RankRow]) -> list[tuple[str, float | None]]:
    return [(r.portal_name, r.score.overall) for r in rows]


def ranking(scores: dict[str, FrameworkScore], names: dict[str, str]) -> list[RankRow]:
    """Portals by overall value, best first; unscored (missing) portals last, unranked."""
    ranked = sorted(scores.items(), key=lambda kv: (kv[1].overall is None, -(kv[1].overall or 0.0), kv[0]))
    rows: list[RankRow] = []
    rank = 0
    last: float | None = None
    for i, (portal, score) in enumerate(ranked, start=1):
        if score.overall is None:
            rows.append(RankRow(None, portal, names.get(portal, portal), score))
            continue
        if last is None or abs(score.overall - last) > 1e-9:
            rank = i
        last = score.overall
        rows.append(RankRow(rank, portal, names.get(portal, portal), score))
    return rows
