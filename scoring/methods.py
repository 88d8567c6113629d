"""Leaf methods: from a portal's findings (or an auditor's value) to a 0–100 leaf value.

Only ``pass`` and ``fail`` findings are usable: an ``error`` or ``not_applicable`` finding never
counts as a failure. The unit is the target (a keyword, a department system, an item on a
channel): a target is failed when it has a ``fail`` with one of the leaf's codes, and passed when
the check concluded on it (a pass, or only fails with other codes) without such a fail. A leaf
with no usable target is missing, never zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scoring.framework import Node
from scoring.model import MISSING, OK, FindingRow, ManualValue, NodeValue

DIGITS = 4  # stored precision: identical on SQLite and PostgreSQL, and plenty for 0–100 values


def _value(node_id: str, value: float | None, inputs: dict[str, Any]) -> NodeValue:
    if value is None:
        return NodeValue(node_id, None, MISSING, None, inputs)
    return NodeValue(node_id, round(value, DIGITS), OK, None, inputs)


def manual_leaf(node: Node, entry: ManualValue | None) -> NodeValue:
    """A manual leaf from the auditor's value (benchmark leaves get ``inputs["raw"]`` only)."""
    spec = node.spec
    if entry is None:
        return NodeValue(node.id, None, MISSING, None, {"method": spec.method, "manual": []})
    value = entry.value
    inputs: dict[str, Any] = {"method": spec.method, "manual": [entry.id], "entered": value}
    if spec.method == "score":
        return _value(node.id, value, inputs)
    if spec.method == "binary":
        return _value(node.id, 100.0 if value >= 1 else 0.0, inputs)
    if spec.method == "count_target":
        assert spec.target is not None
        return _value(node.id, 100.0 * min(1.0, value / spec.target), inputs)
    inputs["raw"] = value  # benchmark: valued once every portal is known
    return _value(node.id, None, inputs)


def automatic_leaf(node: Node, by_probe: Mapping[str, Sequence[FindingRow]]) -> tuple[NodeValue, bool]:
    """An automatic leaf from the portal's findings, and whether it raises its veto."""
    spec = node.spec
    used: list[int] = []
    ignored: list[int] = []
    concluded: set[tuple[str, str]] = set()
    failures: dict[tuple[str, str], list[str]] = {}  # (probe, target) → relevant fail codes
    codes = node.codes
    target_re = node.target_re
    veto_codes = frozenset(spec.veto.codes) if spec.veto else frozenset()
    veto = False
    passes = fails = errors = not_applicable = 0
    for probe in spec.probes:
        for row in by_probe.get(probe, ()):  # the hot loop of scoring: keep it plain
            if target_re is not None and not target_re.match(row.target):
                continue
            status = row.status
            if status == "pass":
                passes += 1
                used.append(row.id)
                concluded.add((probe, row.target))
            elif status == "fail":
                fails += 1
                used.append(row.id)
                key = (probe, row.target)
                concluded.add(key)
                code = row.code or ""
                if codes is None or code in codes:
                    failures.setdefault(key, []).append(code)
                if code in veto_codes:
                    veto = True
            else:
                if status == "error":
                    errors += 1
                else:
                    not_applicable += 1
                ignored.append(row.id)
    counts = {"pass": passes, "fail": fails, "error": errors, "not_applicable": not_applicable}
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
    method = spec.method
    if method == "binary":
        value: float | None = 100.0 if failed == 0 else 0.0
    elif method == "ratio":
        value = 100.0 * passed / targets
    elif method == "count_target":
        assert spec.target is not None
        value = 100.0 * min(1.0, passed / spec.target)
    elif method == "deduction":
        assert spec.deduction is not None
        rule = spec.deduction
        total = sum(rule.per_code.get(c, rule.per_failure) for cs in failures.values() for c in cs)
        cap = rule.points if rule.cap is None else min(rule.cap, rule.points)
        inputs["deducted"] = min(total, cap)
        inputs["deductions_before_cap"] = total
        value = 100.0 * (rule.points - min(total, cap)) / rule.points
    else:  # benchmark
        inputs["raw"] = float(passed) if spec.benchmark_of == "pass_count" else passed / targets
        return _value(node.id, None, inputs), veto
    return _value(node.id, value, inputs), veto


def benchmark(values: Sequence[NodeValue]) -> None:
    """标杆法: each value relative to the best of the run (100 = the best; 0 when the best is 0)."""
    raws = [v.inputs["raw"] for v in values if v.inputs.get("raw") is not None]
    if not raws:
        return
    best = max(raws)
    for value in values:
        raw = value.inputs.get("raw")
        if raw is None:
            continue
        value.inputs["best"] = best
        value.value = round(100.0 * raw / best, DIGITS) if best > 0 else 0.0
        value.state = OK
