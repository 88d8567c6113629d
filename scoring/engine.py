"""The scorer: a pure function from (framework, per-portal inputs) to indicator values.

All portals of a run are scored together because the benchmark method (标杆法) compares each
portal with the best one. Parents are weighted means of the children that have a value; a missing
child is either left out with the weights renormalised, or also marks the parent ``incomplete`` —
the framework says which. Never is a missing value counted as zero.

The tree is walked node by node over all portals at once, so everything that depends only on the
framework (children, weights, rules) is looked up once per node, not once per portal.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scoring.framework import Framework, Node, band_of
from scoring.methods import DIGITS, LeafPlan, automatic_leaf, benchmark, digest, manual_leaves
from scoring.model import INCOMPLETE, MISSING, OK, VETOED, NodeValue, PortalInput, PortalScore


@dataclass(frozen=True, slots=True)
class _ParentPlan:
    node: Node
    rule: str
    normal: tuple[tuple[str, float], ...]  # (child id, weight)
    bonus: tuple[tuple[str, float], ...]  # (child id, points)
    total_weight: float


def _plan(framework: Framework, node: Node) -> _ParentPlan:
    spec = node.spec
    normal: list[tuple[str, float]] = []
    bonus: list[tuple[str, float]] = []
    for child in framework.children(node.id):
        if child.spec.role == "bonus":
            bonus.append((child.id, child.spec.points or 0.0))
        else:
            normal.append((child.id, 1.0 if spec.weighting == "equal" else (child.spec.weight or 0.0)))
    rule = spec.missing or framework.spec.missing
    return _ParentPlan(node, rule, tuple(normal), tuple(bonus), sum(w for _, w in normal))


def score_portals(framework: Framework, portals: Sequence[PortalInput]) -> list[PortalScore]:
    """Score every portal of a run under ``framework`` (order kept).

    The cyclic garbage collector is paused meanwhile: scoring builds hundreds of thousands of
    small, acyclic, long-lived containers (every value's ``inputs``), and the collector's passes
    over them cost about as much as the scoring itself while never finding garbage.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _score(framework, portals)
    finally:
        if paused:
            gc.enable()


def _score(framework: Framework, portals: Sequence[PortalInput]) -> list[PortalScore]:
    n = len(portals)
    leaf_plans = {
        node_id: LeafPlan(node)
        for node_id in framework.order
        if (node := framework.nodes[node_id]).is_leaf and not node.spec.manual
    }
    read = {probe for plan in leaf_plans.values() for probe in plan.probes}
    judged_by_leaf: dict[str, list[tuple[NodeValue, bool]]] = {node_id: [] for node_id in leaf_plans}
    for portal in portals:  # portal by portal, so one portal's digest is alive at a time
        found = digest(portal.findings, read)
        for node_id, plan in leaf_plans.items():
            judged_by_leaf[node_id].append(automatic_leaf(plan, found))
    values: dict[str, list[NodeValue]] = {}
    vetoes: list[dict[str, list[str]]] = [{} for _ in range(n)]
    root_id = framework.spec.root
    for node_id in framework.order:
        node = framework.nodes[node_id]
        if node.is_leaf:
            if node.spec.manual:
                leaf_values = manual_leaves(node, [p.manual.get(node_id) for p in portals])
            else:
                judged = judged_by_leaf[node_id]
                leaf_values = [v for v, _ in judged]
                if node.spec.veto is not None:
                    scope = node.spec.veto.scope or root_id
                    for i, (_, vetoed) in enumerate(judged):
                        if vetoed:
                            vetoes[i].setdefault(scope, []).append(node_id)
            if node.spec.method == "benchmark":
                benchmark(leaf_values)
            values[node_id] = leaf_values
        else:
            parent_plan = _plan(framework, node)
            values[node_id] = _parents(
                parent_plan,
                [values[c] for c, _ in parent_plan.normal],
                [values[c] for c, _ in parent_plan.bonus],
                n,
            )
        for i in range(n):
            if node_id in vetoes[i]:
                _apply_veto(framework, values[node_id][i], vetoes[i][node_id])
    order = framework.order
    columns = [values[node_id] for node_id in order]
    scores = []
    for i, portal in enumerate(portals):
        per_node = dict(zip(order, [column[i] for column in columns]))  # noqa: B905 - equal by construction
        _band(framework, per_node[root_id])
        scores.append(PortalScore(portal.portal_id, framework.id, per_node, root_id))
    return scores


def _band(framework: Framework, root: NodeValue) -> None:
    if root.value is None:
        return
    bands = {b.id: band_of(b, root.value) for b in framework.bands}
    if root.state == VETOED and framework.spec.veto_band:
        bands = dict.fromkeys(bands, framework.spec.veto_band)
    root.inputs["bands"] = bands
    if root.state == INCOMPLETE:  # a band on part of the tree would read as a verdict on the whole
        root.inputs["bands_provisional"] = True
        return
    root.band = next(iter(bands.values()), None)


def _apply_veto(framework: Framework, current: NodeValue, leaf_ids: list[str]) -> None:
    veto_values = [framework.nodes[i].spec.veto for i in leaf_ids]
    current.inputs["veto"] = {"by": leaf_ids, "value_without_veto": current.value}
    current.value = min(v.value for v in veto_values if v is not None)
    current.state = VETOED


def _parents(
    plan: _ParentPlan, children: list[list[NodeValue]], bonus_children: list[list[NodeValue]], n: int
) -> list[NodeValue]:
    """One parent for every portal: ``children[j][i]`` is child j of portal i (columns in, row out).

    Sums run child by child in the framework's order, so every value is bit-for-bit what a
    portal-by-portal walk gives.
    """
    node_id = plan.node.id
    spec = plan.node.spec
    rule = plan.rule
    min_present = spec.min_present
    total_weight = plan.total_weight
    bonus_rule = spec.bonus
    normal = plan.normal
    bonus_ids = [c for c, _ in plan.bonus]
    bonus_points = [p for _, p in plan.bonus]
    rule_incomplete = rule == "incomplete"
    out: list[NodeValue] = []
    for i in range(n):
        row = [c[i] for c in children]
        bonus_row = [b[i] for b in bonus_children]
        weighted = 0.0
        present_weight = 0.0
        missing: list[str] = []
        incomplete_child = False
        child_values: dict[str, float | None] = {}
        for (child_id, weight), child in zip(normal, row):  # noqa: B905 - equal by construction
            value = child.value
            child_values[child_id] = value
            if value is None:
                missing.append(child_id)
                continue
            if child.state == INCOMPLETE:
                incomplete_child = True
            weighted += weight * value
            present_weight += weight
        for child_id, child in zip(bonus_ids, bonus_row):  # noqa: B905 - equal by construction
            child_values[child_id] = child.value
        inputs: dict[str, Any] = {"children": child_values, "rule": rule}
        if missing:
            inputs["missing"] = missing
        share = present_weight / total_weight if total_weight > 0 else 0.0
        if present_weight <= 0 or share < min_present:
            if present_weight > 0:
                inputs["present_share"] = round(share, DIGITS)
            out.append(NodeValue(node_id, None, MISSING, None, inputs))
            continue
        value = weighted / present_weight
        if bonus_rule is not None:
            inputs["base"] = round(value, DIGITS)
            points = 0.0
            if value > bonus_rule.threshold:
                for max_points, child in zip(bonus_points, bonus_row):  # noqa: B905 - equal by construction
                    if child.value is not None:
                        points += max_points * child.value / 100.0
                points = min(points, bonus_rule.cap)
            inputs["bonus"] = round(points, DIGITS)
            value += points
        state = INCOMPLETE if incomplete_child or (missing and rule_incomplete) else OK
        out.append(NodeValue(node_id, round(value, DIGITS), state, None, inputs))
    return out
