"""Text output of scores: the ranking table and the explanation of one portal's values.

Both render to a string (rich, no colour when not a terminal) so the CLI only echoes them and
tests read them as text.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from scoring.framework import Framework
from scoring.model import MISSING, NodeValue, PortalScore
from zwaudit.db import models
from zwaudit.outcomes import Status

STATE_LABELS = {
    "ok": "",
    "missing": "缺失/missing",
    "incomplete": "不完整/incomplete",
    "vetoed": "否决/vetoed",
}
PASSES_SHOWN = 5


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _render(renderable: Any, width: int = 160) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, highlight=False, soft_wrap=False).print(renderable)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def ranking_table(
    framework: Framework, run_id: int, scores: Sequence[PortalScore], names: Mapping[str, str]
) -> str:
    """Rank, portal, overall value and state, every band set, then the first-level values."""
    table = Table(title=f"{framework.spec.name} — run {run_id}", title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("portal", no_wrap=True)
    table.add_column("overall", justify="right", no_wrap=True)
    table.add_column("state", no_wrap=True)
    for band_set in framework.bands:
        table.add_column(band_set.name, no_wrap=True)
    first_level = framework.at_level(1)
    for node in first_level:
        table.add_column(node.name, justify="right", no_wrap=True)
    for i, score in enumerate(scores, start=1):
        root = score.overall
        bands = root.inputs.get("bands", {})
        label = f"{score.portal_id} {names.get(score.portal_id, '')}".strip()
        table.add_row(
            str(i),
            label,
            fmt(root.value),
            root.state,
            *[
                _band_cell(bands.get(b.id), root.inputs.get("bands_provisional", False))
                for b in framework.bands
            ],
            *[_cell(score.values[n.id]) for n in first_level],
        )
    footer = (
        "*: incomplete (a missing indicator below); 缺失: missing (no usable finding or input); "
        "(band): provisional, the overall value is incomplete"
    )
    return _render(table, width=400).rstrip() + "\n" + footer + "\n"


def _band_cell(band: str | None, provisional: bool) -> str:
    if band is None:
        return "—"
    return f"({band})" if provisional else band


def _cell(value: NodeValue) -> str:
    if value.state == MISSING:
        return "缺失"
    return fmt(value.value) + ("*" if value.state == "incomplete" else "")


def explain(
    framework: Framework,
    run_id: int,
    portal_id: str,
    values: Mapping[str, models.IndicatorValue],
    findings: Mapping[int, models.Finding],
    manual: Mapping[int, models.ManualInput],
) -> str:
    """The tree of one portal's stored values with the findings and inputs behind each leaf."""

    def label(node_id: str) -> str:
        node = framework.nodes[node_id]
        row = values.get(node_id)
        if row is None:
            return f"{node.name} [{node_id}]  (not scored)"
        parts = [f"{node.name} [{node_id}]", fmt(row.value)]
        if row.state != "ok":
            parts.append(STATE_LABELS.get(row.state, row.state))
        if row.band:
            parts.append(f"band {row.band}")
        elif row.inputs.get("bands_provisional"):
            parts.append("provisional band " + "/".join(row.inputs.get("bands", {}).values()))
        if node.is_leaf:
            parts.append(f"({node.spec.method}{', manual' if node.spec.manual else ''})")
        return "  ".join(parts)

    tree = Tree(f"{portal_id} — {framework.spec.name} — run {run_id}")
    stack: list[tuple[str, Tree]] = [(framework.spec.root, tree)]
    while stack:
        node_id, parent = stack.pop()
        branch = parent.add(label(node_id))
        node = framework.nodes[node_id]
        row = values.get(node_id)
        if node.is_leaf and row is not None:
            for line in _leaf_lines(row.inputs, findings, manual):
                branch.add(line)
        elif row is not None:
            for line in _parent_lines(row.inputs):
                branch.add(line)
        stack.extend((c, branch) for c in reversed(node.spec.children))
    return _render(tree)


def _parent_lines(inputs: Mapping[str, Any]) -> list[str]:
    lines = []
    if inputs.get("missing"):
        lines.append(f"missing children ({inputs.get('rule')}): {', '.join(inputs['missing'])}")
    if "bonus" in inputs:
        lines.append(f"base {fmt(inputs.get('base'))} + bonus {fmt(inputs['bonus'])}")
    if "veto" in inputs:
        veto = inputs["veto"]
        lines.append(
            f"vetoed by {', '.join(veto['by'])} (value without veto {fmt(veto['value_without_veto'])})"
        )
    return lines


def _leaf_lines(
    inputs: Mapping[str, Any],
    findings: Mapping[int, models.Finding],
    manual: Mapping[int, models.ManualInput],
) -> list[str]:
    lines: list[str] = []
    if "targets" in inputs:
        lines.append(
            f"{inputs['targets']} targets concluded, {inputs['failed_targets']} failed; findings "
            + ", ".join(f"{status} {n}" for status, n in inputs["counts"].items())
        )
    if "deducted" in inputs:
        lines.append(
            f"deducted {fmt(inputs['deducted'])} (before cap {fmt(inputs['deductions_before_cap'])})"
        )
    if inputs.get("raw") is not None:
        lines.append(f"benchmark: {fmt(inputs.get('raw'))} against the run's best {fmt(inputs['best'])}")
    passes = 0
    for fid in [*inputs.get("findings", []), *inputs.get("ignored", [])]:
        row = findings.get(fid)
        if row is None:
            lines.append(f"finding #{fid} (no longer stored)")
            continue
        if row.status == Status.PASS:
            passes += 1
            if passes > PASSES_SHOWN:
                continue
        code = f" {row.code}" if row.code else ""
        lines.append(f"finding #{fid}: {row.probe} {row.target} {row.status}{code}")
    if passes > PASSES_SHOWN:
        lines.append(f"… and {passes - PASSES_SHOWN} more pass findings")
    for mid in inputs.get("manual", []):
        entry = manual.get(mid)
        if entry is None:
            lines.append(f"manual input #{mid} (no longer stored)")
            continue
        when = entry.entered_at.strftime("%Y-%m-%d %H:%M UTC")
        run = f"run {entry.run_id}" if entry.run_id is not None else "no run"
        lines.append(
            f"manual input #{mid}: {entry.value:g} from {entry.source!r} by {entry.entered_by} at {when} ({run})"
        )
    if not inputs.get("findings") and not inputs.get("manual") and "targets" not in inputs:
        lines.append("no manual input entered")
    elif inputs.get("targets") == 0:
        lines.append("no usable finding (errors and not_applicable never count as failures)")
    return lines
