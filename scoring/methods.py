"""Leaf methods: from a portal's findings (or an auditor's value) to a 0–100 leaf value.

Only ``pass`` and ``fail`` findings are usable: an ``error`` or ``not_applicable`` finding never
counts as a failure. The unit is the target (a keyword, a department system, an item on a
channel): a target is failed when it has a ``fail`` with one of the leaf's codes, and passed when
the check concluded on it (a pass, or only fails with other codes) without such a fail. A leaf
with no usable target is missing, never zero.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from scoring.framework import Node
from scoring.model import MISSING, OK, FindingRow, ManualValue, NodeValue
from zwaudit.outcomes import Status

# the statuses as plain strings, for the hot loop (a row's status is stored as the enum's value)
PASS, FAIL, ERROR, NOT_APPLICABLE = (
    s.value for s in (Status.PASS, Status.FAIL, Status.ERROR, Status.NOT_APPLICABLE)
)

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


def manual_leaves(node: Node, entries: Sequence[ManualValue | None]) -> list[NodeValue]:
    """:func:`manual_leaf` for every portal of a run (the node is looked up once, not per portal)."""
    spec = node.spec
    if spec.method != "score":
        return [manual_leaf(node, entry) for entry in entries]
    node_id = node.id
    out: list[NodeValue] = []
    for entry in entries:
        if entry is None:
            out.append(NodeValue(node_id, None, MISSING, None, {"method": "score", "manual": []}))
        else:
            value = entry.value
            inputs = {"method": "score", "manual": [entry.id], "entered": value}
            out.append(NodeValue(node_id, round(value, DIGITS), OK, None, inputs))
    return out


class ProbeFindings:
    """One portal's findings of one probe, digested once for every leaf the probe feeds.

    Targets are keyed by name alone: within one probe the probe is fixed, so no (probe, target)
    tuple is built per row. Ids keep the findings' order, as ``inputs`` shows them.
    """

    __slots__ = ("concluded", "counts", "fail_codes", "fail_seq", "failures", "ignored", "rows", "used")

    def __init__(self, rows: Sequence[FindingRow]) -> None:
        used: list[int] = []
        ignored: list[int] = []
        concluded: set[str] = set()
        fail_seq: list[tuple[str, str]] = []  # (target, code) of every fail, in row order
        failures: dict[str, list[str]] = {}  # target → every fail code, keyed in first-fail order
        passes = fails = errors = not_applicable = 0
        for row in rows:  # the hot loop of scoring: keep it plain
            status = row.status
            if status == PASS:
                passes += 1
                used.append(row.id)
                concluded.add(row.target)
            elif status == FAIL:
                fails += 1
                used.append(row.id)
                target = row.target
                concluded.add(target)
                code = row.code or ""
                fail_seq.append((target, code))
                codes = failures.get(target)
                if codes is None:
                    failures[target] = [code]
                else:
                    codes.append(code)
            else:
                if status == ERROR:
                    errors += 1
                else:
                    not_applicable += 1
                ignored.append(row.id)
        self.rows = rows
        self.used = used
        self.ignored = ignored
        self.counts = (passes, fails, errors, not_applicable)
        self.concluded = concluded
        self.fail_seq = fail_seq
        self.fail_codes = frozenset(code for _, code in fail_seq)
        self.failures = failures

    def failures_for(self, codes: frozenset[str] | None) -> dict[str, list[str]]:
        """Target → the fail codes among ``codes`` (None: all), keyed in first-relevant-fail order."""
        if codes is None:
            return self.failures
        out: dict[str, list[str]] = {}
        for target, code in self.fail_seq:
            if code in codes:
                out.setdefault(target, []).append(code)
        return out


NO_FINDINGS = ProbeFindings(())


def digest(findings: Iterable[FindingRow], probes: Collection[str]) -> dict[str, ProbeFindings]:
    """A portal's findings grouped per probe and digested, for the probes some leaf reads."""
    groups: dict[str, list[FindingRow]] = {}
    for row in findings:
        group = groups.get(row.probe)
        if group is None:
            groups[row.probe] = [row]
        else:
            group.append(row)
    return {probe: ProbeFindings(rows) for probe, rows in groups.items() if probe in probes}


class LeafPlan:
    """What an automatic leaf needs from the framework, looked up once per scoring of a run."""

    __slots__ = ("codes", "matches", "node", "probes", "target_re", "veto_codes")

    def __init__(self, node: Node) -> None:
        spec = node.spec
        self.node = node
        self.probes = tuple(spec.probes)
        self.codes = node.codes
        self.target_re = node.target_re
        self.veto_codes = frozenset(spec.veto.codes) if spec.veto else frozenset()
        self.matches: dict[str, bool] = {}  # target → matches ``targets`` (targets recur across portals)

    def select(self, found: ProbeFindings) -> ProbeFindings:
        """The findings on the targets this leaf looks at."""
        target_re = self.target_re
        if target_re is None or not found.rows:
            return found
        matches = self.matches
        kept: list[FindingRow] = []
        for row in found.rows:
            target = row.target
            hit = matches.get(target)
            if hit is None:
                hit = matches[target] = target_re.match(target) is not None
            if hit:
                kept.append(row)
        return ProbeFindings(kept)


def automatic_leaf(plan: LeafPlan, found: Mapping[str, ProbeFindings]) -> tuple[NodeValue, bool]:
    """An automatic leaf from the portal's digested findings, and whether it raises its veto.

    A target is keyed by (probe, target): the same target name under two probes counts twice.
    """
    node = plan.node
    spec = node.spec
    codes = plan.codes
    veto_codes = plan.veto_codes
    probes = plan.probes
    parts = [plan.select(found.get(probe, NO_FINDINGS)) for probe in probes]
    failures: Mapping[Any, list[str]]
    if len(parts) == 1:
        part = parts[0]
        used = list(part.used)
        ignored = list(part.ignored)
        passes, fails, errors, not_applicable = part.counts
        targets = len(part.concluded)
        failures = part.failures_for(codes)
        veto = not veto_codes.isdisjoint(part.fail_codes)
    else:
        used = []
        ignored = []
        passes = fails = errors = not_applicable = 0
        targets = 0
        merged: dict[tuple[str, str], list[str]] = {}
        veto = False
        seen: set[str] = set()
        for probe, part in zip(probes, parts):  # noqa: B905 - equal by construction
            used.extend(part.used)
            ignored.extend(part.ignored)
            p, f, e, n = part.counts
            passes += p
            fails += f
            errors += e
            not_applicable += n
            if probe not in seen:  # a probe listed twice reads the same targets twice
                seen.add(probe)
                targets += len(part.concluded)
            for target, found_codes in part.failures_for(codes).items():
                merged.setdefault((probe, target), []).extend(found_codes)
            if not veto_codes.isdisjoint(part.fail_codes):
                veto = True
        failures = merged
    counts = {PASS: passes, FAIL: fails, ERROR: errors, NOT_APPLICABLE: not_applicable}
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
