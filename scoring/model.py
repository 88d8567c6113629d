"""Plain values the scorer reads and writes: no database, no configuration, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OK = "ok"
MISSING = "missing"
INCOMPLETE = "incomplete"
VETOED = "vetoed"


@dataclass(frozen=True, slots=True)
class FindingRow:
    """The part of a stored finding that scoring uses."""

    id: int
    probe: str
    target: str
    status: str  # pass, fail, error, not_applicable
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ManualValue:
    """An auditor's value for a manual leaf, with where it came from."""

    id: int
    value: float
    source: str = ""
    entered_by: str = ""
    entered_at: datetime | None = None


@dataclass
class PortalInput:
    """Everything the scorer knows about one portal in one run."""

    portal_id: str
    findings: Sequence[FindingRow] = ()
    manual: Mapping[str, ManualValue] = field(default_factory=dict)  # leaf id → value

    def by_probe(self) -> dict[str, list[FindingRow]]:
        out: dict[str, list[FindingRow]] = {}
        for row in self.findings:
            out.setdefault(row.probe, []).append(row)
        return out


@dataclass(slots=True)
class NodeValue:
    """One indicator's value (None = missing), its state and what it was computed from."""

    indicator: str
    value: float | None
    state: str
    band: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class PortalScore:
    """All indicator values of one portal under one framework."""

    portal_id: str
    framework: str
    values: dict[str, NodeValue]
    root: str

    @property
    def overall(self) -> NodeValue:
        return self.values[self.root]
