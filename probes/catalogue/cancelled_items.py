"""cancelled_items: is an item the State Council cancelled still listed (事项动态管理)?

The reference list (``config/cancelled_items.yaml``) carries each decision's 文号. The name match
forgives only what editors vary — bracket and punctuation width, spaces — never a loose fuzzy
match: ``still_listed`` accuses a department of ignoring a State Council decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from probes.catalogue.common import (
    CatalogueObservation,
    ItemSnapshot,
    compare_key,
    link_source_pages,
    observe_catalogue,
)
from zwaudit.checks import CheckContext, CheckOptions, JudgeInput, Observation, Requires, TwoPhaseCheck
from zwaudit.config.yamlfile import validation_error
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import Finding
from zwaudit.outcomes import Status
from zwaudit.registry import declared_codes
from zwaudit.targets import item_target


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CancelledEntry(_Strict):
    name: str = Field(min_length=2)
    department: str | None = None


class Decision(_Strict):
    source: str = Field(min_length=1)
    copies: list[str] = Field(default_factory=list)  # where the text was copied from
    items: list[CancelledEntry] = Field(min_length=1)


class CancelledFile(_Strict):
    decisions: list[Decision] = Field(min_length=1)


class Options(CheckOptions):
    extra_names: list[str] = Field(default_factory=list)  # a province's own cancellations


@dataclass(frozen=True)
class Cancelled:
    name: str
    department: str | None
    source: str


def reference_list(data: Any, extra: list[str] | None = None) -> list[Cancelled]:
    parsed = CancelledFile.model_validate(data)
    out = [Cancelled(e.name, e.department, d.source) for d in parsed.decisions for e in d.items]
    out += [Cancelled(n, None, "probes.cancelled_items.extra_names") for n in extra or []]
    return out


def judge(items: list[ItemSnapshot], cancelled: list[Cancelled]) -> list[Finding]:
    """One fail per listed cancelled item; one pass on ``catalogue@portal`` when there is none."""
    by_key = {compare_key(c.name): c for c in cancelled}
    out = []
    for item in items:
        hit = by_key.get(compare_key(item.name))
        if hit is None:
            continue
        detail = {
            "listed_name": item.name,
            "cancelled_name": hit.name,
            "department": hit.department,
            "decision": hit.source,
            "source_url": item.source_url,
        }
        out.append(Finding(CancelledItems.name, item.target("portal"), Status.FAIL, "still_listed", detail))
    if not out:
        counts: dict[str, object] = {"items_checked": len(items), "reference_entries": len(cancelled)}
        out.append(
            Finding(CancelledItems.name, item_target("catalogue", "portal"), Status.PASS, None, counts)
        )
    return out


class CancelledItems(TwoPhaseCheck):
    name: ClassVar[str] = "cancelled_items"
    version: ClassVar[str] = "1.0.0"
    codes: ClassVar[frozenset[str]] = declared_codes("cancelled_items")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.CRAWL
    Options: ClassVar[type[CheckOptions]] = Options
    observation_type: ClassVar[type[Observation]] = CatalogueObservation

    @classmethod
    def check_data(cls, config: Any) -> None:
        try:
            reference_list(config.read_data("cancelled_items.yaml"))
        except ValidationError as exc:
            raise validation_error(config.data_file("cancelled_items.yaml"), exc) from exc

    async def observe(self, ctx: CheckContext) -> CatalogueObservation:
        return observe_catalogue(ctx, ("portal",))

    def rules(self, where: JudgeInput) -> list[Cancelled]:
        """The reference list (``cancelled_items.yaml``) and the portal's ``extra_names``."""
        options = where.options
        assert isinstance(options, Options)
        config = where.config
        try:
            return reference_list(config.read_data("cancelled_items.yaml"), options.extra_names)
        except ValidationError as exc:
            raise validation_error(config.data_file("cancelled_items.yaml"), exc) from exc

    def judge(self, observation: CatalogueObservation, rules: list[Cancelled]) -> list[Finding]:
        # no portal items: precondition portal_catalogue, written by the runner (config/checks.yaml)
        return judge(observation.items.get("portal", []), rules)

    def document(
        self, findings: list[Finding], observation: CatalogueObservation, evidence: EvidenceWriter
    ) -> None:
        link_source_pages(evidence, findings)
