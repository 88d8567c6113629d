"""The scorer: a pure function from (framework, per-portal inputs) to indicator values.

All portals of a run are scored together because the benchmark method (标杆法) compares each
portal with the best one. Parents are weighted means of the children that have a value; a missing
child is either left out with the weights renormalised, or also marks the parent ``incomplete`` —
the framework says which. Never is a missing value counted as zero.

The tree is walked node by node over all portals at once, so everything that depends only on the
framework (children, weights, rules) is looked up once per node, not once per portal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scoring.framework import Framework, Node, band_of
from scoring.methods import DIGITS, automatic_leaf, benchmark, manual_leaf
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
    """Score every portal of a run under ``framework`` (order kept)."""
    n = len(portals)
    by_probe = [p.by_probe() for p in portals]
    values: dict[str, list[NodeValue]] = {}
    vetoes: list[dict[str, list[str]]] = [{} for _ in range(n)]
    root_id = framework.spec.root
    for node_id in framework.order:
        node = framework.nodes[node_id]
        if node.is_leaf:
            if node.spec.manual:
                leaf_values = [manual_leaf(node, p.manual.get(node_id)) for p in portals]
            else:
                judged = [automatic_leaf(node, b) for b in by_probe]
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
            plan = _plan(framework, node)
            children = [values[c] for c, _ in plan.normal]
            bonus_children = [values[c] for c, _ in plan.bonus]
            values[node_id] = [
                _parent(plan, [c[i] for c in children], [b[i] for b in bonus_children]) for i in range(n)
            ]
        for i in range(n):
            if node_id in vetoes[i]:
                _apply_veto(framework, values[node_id][i], vetoes[i][node_id])
    order = framework.order
    scores = []
    for i, portal in enumerate(portals):
        per_node = {node_id: values[node_id][i] for node_id in order}
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


def _parent(plan: _ParentPlan, children: list[NodeValue], bonus_children: list[NodeValue]) -> NodeValue:
    weighted = 0.0
    present_weight = 0.0
    missing: list[str] = []
    incomplete_child = False
    child_values: dict[str, float | None] = {}
    for (child_id, weight), child in zip(plan.normal, children):  # noqa: B905 - equal by construction
        value = child.value
        child_values[child_id] = value
        if value is None:
            missing.append(child_id)
            continue
        if child.state == INCOMPLETE:
            incomplete_child = True
        weighted += weight * value
        present_weight += weight
    for (child_id, _), child in zip(plan.bonus, bonus_children):  # noqa: B905 - equal by construction
        child_values[child_id] = child.value
    node_id = plan.node.id
    inputs: dict[str, Any] = {"children": child_values, "rule": plan.rule}
    if missing:
        inputs["missing"] = missing
    spec = plan.node.spec
    share = present_weight / plan.total_weight if plan.total_weight > 0 else 0.0
    if present_weight <= 0 or share < spec.min_present:
        if present_weight > 0:
            inputs["present_share"] = round(share, DIGITS)
        return NodeValue(node_id, None, MISSING, None, inputs)
    value = weighted / present_weight
    if spec.bonus is not None:
        inputs["base"] = round(value, DIGITS)
        points = 0.0
        if value > spec.bonus.threshold:
            for (_, max_points), child in zip(plan.bonus, bonus_children):  # noqa: B905 - equal by construction
                if child.value is not None:
                    points += max_points * child.value / 100.0
            points = min(points, spec.bonus.cap)
        inputs["bonus"] = round(points, DIGITS)
        value += points
    state = INCOMPLETE if incomplete_child or (missing and plan.rule == "incomplete") else OK
    return NodeValue(node_id, round(value, DIGITS), state, None, inputs)
