"""The YAML shape of an indicator framework (``config/frameworks/<id>.yaml``).

Indicators are a flat mapping of id → node whose ``children`` name other ids, so that the
validator can report a cycle, a node with two parents or an unreachable node by name instead of
YAML nesting hiding them. Everything numeric (weights, targets, deductions, bands) is data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,119}$"

Method = Literal["binary", "ratio", "count_target", "benchmark", "deduction", "score"]
AUTOMATIC_ONLY = frozenset({"ratio", "deduction"})  # need findings: a person cannot enter them
MANUAL_ONLY = frozenset({"score"})  # an auditor's value taken as is


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BandLimit(_Strict):
    """One band: values at or above ``min`` (strictly above when ``inclusive`` is false)."""

    band: str = Field(min_length=1)
    min: float | None = None  # None only on the last, catch-all band
    inclusive: bool = True


class BandSet(_Strict):
    """A named set of bands applied to the overall value (e.g. 非常高/高/中/低)."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    source: str = ""
    limits: list[BandLimit] = Field(min_length=1)


class Deduction(_Strict):
    """国办 2019 style: start from ``points``, deduct per failure, never more than ``cap``."""

    points: float = Field(default=100.0, gt=0)
    per_failure: float = Field(default=0.0, ge=0)
    per_code: dict[str, float] = Field(default_factory=dict)
    cap: float | None = Field(default=None, ge=0)


class Veto(_Strict):
    """单项否决: a fail with one of ``codes`` sets the ``scope`` ancestor to ``value``, state vetoed."""

    codes: list[str] = Field(min_length=1)
    scope: str | None = None  # an ancestor id; default the root
    value: float = 0.0


class Bonus(_Strict):
    """加分: bonus children add up to ``cap`` points, only when the base value is above ``threshold``."""

    threshold: float = 0.0
    cap: float = Field(gt=0)


class NodeSpec(_Strict):
    """One indicator: a parent (``children``) or a leaf (``method``)."""

    name: str = Field(min_length=1)
    note: str = ""
    children: list[str] = Field(default_factory=list)
    # parents
    weighting: Literal["equal", "explicit"] = "equal"
    weights_total: float = Field(default=1.0, gt=0)
    missing: Literal["renormalise", "incomplete"] | None = None
    min_present: float = Field(default=0.0, ge=0, le=1)
    bonus: Bonus | None = None
    # as a child
    weight: float | None = Field(default=None, ge=0)
    role: Literal["normal", "bonus"] = "normal"
    points: float | None = Field(default=None, gt=0)  # a bonus child's maximum contribution
    # leaves
    manual: bool = False
    method: Method | None = None
    probes: list[str] = Field(default_factory=list)
    codes: list[str] | None = None  # default: every reason code of the probes
    targets: str | None = None  # a glob over finding targets, e.g. "*@mobile"
    target: float | None = Field(default=None, gt=0)  # for count_target
    benchmark_of: Literal["pass_count", "pass_ratio"] = "pass_count"
    deduction: Deduction | None = None
    veto: Veto | None = None
    categories: list[str] = Field(default_factory=list)  # descriptive sub-items, not indicators


class FrameworkSpec(_Strict):
    """A whole framework file."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    description: str = ""
    sources: dict[str, str] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)
    root: str
    missing: Literal["renormalise", "incomplete"] = "renormalise"
    bands: list[BandSet] = Field(default_factory=list)
    veto_band: str | None = None
    indicators: dict[str, NodeSpec] = Field(min_length=1)
