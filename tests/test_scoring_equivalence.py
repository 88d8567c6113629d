"""The optimised scorer gives exactly what the plain portal-by-portal one gives (values, states,
bands and every ``inputs`` entry, finding-id order included). The reference below is the scorer as
it was before the optimisation, kept deliberately naive."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from test_scoring_helpers import NINE, framework, nine_codes

from scoring.engine import _apply_veto, _band, _ParentPlan, _plan, score_portals
from scoring.framework import Framework, Node, load_framework_file
from scoring.methods import DIGITS, _value, benchmark, manual_leaf
from scoring.model import (
    INCOMPLETE,
    MISSING,
    OK,
    FindingRow,
    ManualValue,
    NodeValue,
    PortalInput,
    PortalScore,
)
from zwaudit.paths import DEFAULT_CONFIG_DIR


def ref_automatic_leaf(node: Node, by_probe: Mapping[str, Sequence[FindingRow]]) -> tuple[NodeValue, bool]:
    spec = node.spec
    used: list[int] = []
    ignored: list[int] = []
    concluded: set[tuple[str, str]] = set()
    failures: dict[tuple[str, str], list[str]] = {}
    veto_codes = frozenset(spec.veto.codes) if spec.veto else frozenset()
    veto = False
    counts = {"pass": 0, "fail": 0, "error": 0, "not_applicable": 0}
    for probe in spec.probes:
        for row in by_probe.get(probe, ()):
            if node.target_re is not None and not node.target_re.match(row.target):
                continue
            counts[row.status] += 1
            if row.status in ("pass", "fail"):
                used.append(row.id)
                concluded.add((probe, row.target))
            else:
                ignored.append(row.id)
            if row.status == "fail":
                code = row.code or ""
                if node.codes is None or code in node.codes:
                    failures.setdefault((probe, row.target), []).append(code)
                if code in veto_codes:
                    veto = True
    targets = len(concluded)
    failed = len(failures)
    inputs: dict[str, Any] = {
        "method": spec.method,
        "findings": used,
        "ignored": ignored,
        "counts": counts,
        "targets": targets,
        "failed_targets": failed,
    }
    if targets == 0:
        return _value(node.id, None, inputs), False
    if veto:
        inputs["veto"] = True
    passed = targets - failed
    if spec.method == "binary":
        value: float | None = 100.0 if failed == 0 else 0.0
    elif spec.method == "ratio":
        value = 100.0 * passed / targets
    elif spec.method == "count_target":
        assert spec.target is not None
        value = 100.0 * min(1.0, passed / spec.target)
    elif spec.method == "deduction":
        assert spec.deduction is not None
        rule = spec.deduction
        total = sum(rule.per_code.get(c, rule.per_failure) for cs in failures.values() for c in cs)
        cap = rule.points if rule.cap is None else min(rule.cap, rule.points)
        inputs["deducted"] = min(total, cap)
        inputs["deductions_before_cap"] = total
        value = 100.0 * (rule.points - min(total, cap)) / rule.points
    else:
        inputs["raw"] = float(passed) if spec.benchmark_of == "pass_count" else passed / targets
        return _value(node.id, None, inputs), veto
    return _value(node.id, value, inputs), veto


def ref_parent(plan: _ParentPlan, children: list[NodeValue], bonus_children: list[NodeValue]) -> NodeValue:
    weighted = 0.0
    present_weight = 0.0
    missing: list[str] = []
    incomplete_child = False
    child_values: dict[str, float | None] = {}
    for (child_id, weight), child in zip(plan.normal, children, strict=True):
        child_values[child_id] = child.value
        if child.value is None:
            missing.append(child_id)
            continue
        if child.state == INCOMPLETE:
            incomplete_child = True
        weighted += weight * child.value
        present_weight += weight
    for (child_id, _), child in zip(plan.bonus, bonus_children, strict=True):
        child_values[child_id] = child.value
    inputs: dict[str, Any] = {"children": child_values, "rule": plan.rule}
    if missing:
        inputs["missing"] = missing
    spec = plan.node.spec
    share = present_weight / plan.total_weight if plan.total_weight > 0 else 0.0
    if present_weight <= 0 or share < spec.min_present:
        if present_weight > 0:
            inputs["present_share"] = round(share, DIGITS)
        return NodeValue(plan.node.id, None, MISSING, None, inputs)
    value = weighted / present_weight
    if spec.bonus is not None:
        inputs["base"] = round(value, DIGITS)
        points = 0.0
        if value > spec.bonus.threshold:
            for (_, max_points), child in zip(plan.bonus, bonus_children, strict=True):
                if child.value is not None:
                    points += max_points * child.value / 100.0
            points = min(points, spec.bonus.cap)
        inputs["bonus"] = round(points, DIGITS)
        value += points
    state = INCOMPLETE if incomplete_child or (missing and plan.rule == "incomplete") else OK
    return NodeValue(plan.node.id, round(value, DIGITS), state, None, inputs)


def ref_score(fw: Framework, portals: Sequence[PortalInput]) -> list[PortalScore]:
    by_probe: list[dict[str, list[FindingRow]]] = []
    for p in portals:
        groups: dict[str, list[FindingRow]] = {}
        for row in p.findings:
            groups.setdefault(row.probe, []).append(row)
        by_probe.append(groups)
    values: dict[str, list[NodeValue]] = {}
    vetoes: list[dict[str, list[str]]] = [{} for _ in portals]
    root = fw.spec.root
    for node_id in fw.order:
        node = fw.nodes[node_id]
        if node.is_leaf and node.spec.manual:
            values[node_id] = [manual_leaf(node, p.manual.get(node_id)) for p in portals]
        elif node.is_leaf:
            judged = [ref_automatic_leaf(node, b) for b in by_probe]
            values[node_id] = [v for v, _ in judged]
            if node.spec.veto is not None:
                for i, (_, vetoed) in enumerate(judged):
                    if vetoed:
                        vetoes[i].setdefault(node.spec.veto.scope or root, []).append(node_id)
        else:
            plan = _plan(fw, node)
            values[node_id] = [
                ref_parent(
                    plan, [values[c][i] for c, _ in plan.normal], [values[c][i] for c, _ in plan.bonus]
                )
                for i in range(len(portals))
            ]
        if node.is_leaf and node.spec.method == "benchmark":
            benchmark(values[node_id])
        for i in range(len(portals)):
            if node_id in vetoes[i]:
                _apply_veto(fw, values[node_id][i], vetoes[i][node_id])
    scores = []
    for i, p in enumerate(portals):
        per_node = {node_id: values[node_id][i] for node_id in fw.order}
        _band(fw, per_node[root])
        scores.append(PortalScore(p.portal_id, fw.id, per_node, root))
    return scores


STATUSES = ["pass"] * 10 + ["fail"] * 6 + ["error", "not_applicable"]


def synthetic(fw: Framework, portals: int, seed: int) -> list[PortalInput]:
    """Random findings on recurring targets (some repeated per target, shuffled) and manual values."""
    rng = random.Random(seed)
    manual = [n for n in fw.manual_leaves()]
    out = []
    next_id = 1
    for p in range(portals):
        rows = []
        for probe, codes in NINE.items():
            for t in range(rng.randint(0, 25)):
                target = f"I{t % 9}@{'mobile' if t % 2 else 'dept:d' + str(t % 5)}" if t % 3 else f"t{t % 7}"
                status = rng.choice(STATUSES)
                code = rng.choice([*sorted(codes), None]) if status == "fail" else None
                rows.append(FindingRow(next_id, probe, target, status, code))
                next_id += 1
        rng.shuffle(rows)  # probes interleaved, as rows come from the database
        values = {
            n.id: ManualValue(
                i, float(rng.randint(0, 1)) if n.spec.method == "binary" else rng.uniform(0, 130)
            )
            for i, n in enumerate(manual)
            if rng.random() < 0.7
        }
        out.append(PortalInput(f"p{p:03d}", rows, values))
    return out


def edge_framework() -> Framework:
    """Multi-probe leaves, a probe listed twice, codes and target filters, vetoes, every method."""
    return framework(
        {
            "overall": {"name": "o", "children": ["a", "b", "bonus1"], "bonus": {"threshold": 10, "cap": 5}},
            "a": {"name": "a", "children": ["multi", "twice", "filtered", "coded"], "missing": "incomplete"},
            "b": {"name": "b", "children": ["ded", "bench", "count", "bin", "m"], "min_present": 0.5},
            "bonus1": {
                "name": "x",
                "role": "bonus",
                "points": 4,
                "method": "ratio",
                "probes": ["click_depth"],
            },
            "multi": {"name": "m", "method": "ratio", "probes": ["search_accuracy", "link_health"]},
            "twice": {
                "name": "t",
                "method": "deduction",
                "probes": ["guide_completeness", "cancelled_items", "guide_completeness"],
                "deduction": {"points": 10, "per_failure": 0.7, "cap": 9.3},
            },
            "filtered": {
                "name": "f",
                "method": "ratio",
                "probes": ["data_same_source", "duplicate_login"],
                "targets": "*@dept:*",
                "veto": {"codes": ["stale"], "value": 20, "scope": "a"},
            },
            "coded": {
                "name": "c",
                "method": "deduction",
                "probes": ["auth_https", "name_masking"],
                "codes": ["mixed_content", "hsts_missing", "phone_unmasked"],
                "deduction": {"points": 100, "per_failure": 3.3, "per_code": {"mixed_content": 12.1}},
            },
            "ded": {
                "name": "d",
                "method": "deduction",
                "probes": ["data_same_source"],
                "codes": ["stale", "item_missing"],
                "targets": "*@mobile",
                "deduction": {"points": 100, "per_failure": 0.1, "per_code": {"stale": 0.3}},
                "veto": {"codes": ["field_mismatch"], "value": 0},
            },
            "bench": {"name": "be", "method": "benchmark", "probes": ["search_accuracy"]},
            "count": {"name": "co", "method": "count_target", "target": 7, "probes": ["duplicate_login"]},
            "bin": {"name": "bi", "method": "binary", "probes": ["name_masking", "auth_https"]},
            "m": {"name": "mm", "manual": True, "method": "score"},
        }
    )


def cstc() -> Framework:
    return load_framework_file(DEFAULT_CONFIG_DIR / "frameworks" / "cstc2021.yaml", nine_codes)


def plain(score: PortalScore) -> dict[str, tuple[Any, ...]]:
    return {k: (v.indicator, v.value, v.state, v.band, v.inputs) for k, v in score.values.items()}


@pytest.mark.parametrize(("make", "seed"), [(cstc, 7), (cstc, 8), (edge_framework, 9), (edge_framework, 10)])
def test_optimised_scorer_equals_the_reference(make: Any, seed: int) -> None:
    fw = make()
    portals = synthetic(fw, 50, seed)
    fast = score_portals(fw, portals)
    slow = ref_score(fw, portals)
    assert [s.portal_id for s in fast] == [s.portal_id for s in slow]
    for f, s in zip(fast, slow, strict=True):
        assert plain(f) == plain(s)
        # repr tells -0.0 from 0.0 and 1 from 1.0, which == does not
        assert repr(plain(f)) == repr(plain(s))
    states = {v.state for s in fast for v in s.values.values()}
    assert {OK, MISSING} <= states  # the inputs exercise more than one path
