"""guide_completeness: does every guide, on every channel, show the elements (办事指南准确度)?

Required = the national exchange schema's NOT NULL columns (``config/guide_elements.yaml``); an
element shown with a placeholder (``暂无``, ``-``) counts as missing, as an evaluator would count it.

Every channel's guides are judged — the portal's, the mobile channel's and each department
site's — and one more rule makes the channels one service network (数据同源): an element of the
national schema that another channel's guide of the same item publishes is expected here too.
So an element one channel publishes and another lacks is reported once, by this check, as
``element_missing`` on the channel that lacks it (``detail.published_elsewhere`` names where it
is published); ``data_same_source`` compares only elements both channels show. Copies are matched
to portal items as ``data_same_source`` matches them, and targets are the portal item's
``item_target(code, channel)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from crawler.labels import GuideElements
from probes.catalogue.common import (
    CatalogueObservation,
    ItemSnapshot,
    fold,
    link_source_pages,
    observe_catalogue,
)
from probes.catalogue.data_same_source import Matcher, rules_file
from zwaudit.checks import CheckContext, CheckOptions, JudgeInput, Observation, Requires, TwoPhaseCheck
from zwaudit.errors import ConfigError
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import Finding
from zwaudit.outcomes import Status
from zwaudit.registry import declared_codes
from zwaudit.targets import item_target

PLACEHOLDERS = ["", "-", "--", "—", "/", "暂无", "null", "none", "undefined", "n/a", "待定"]


class Options(CheckOptions):
    required: list[str] | None = None  # overrides guide_elements.yaml's required set
    placeholders: list[str] = Field(default_factory=lambda: list(PLACEHOLDERS))
    channels: list[str] | None = None  # judge only these channels (default: every one crawled)
    cross_channel: bool = True  # an element another channel publishes is expected here too


def is_blank(value: Any, placeholders: frozenset[str]) -> bool:
    if value is None:
        return True
    if isinstance(value, list):
        return not any(not is_blank(v, placeholders) for v in value)
    return fold(str(value)).lower() in placeholders


def _finding(item: ItemSnapshot, target: str, missing: list[str], elsewhere: dict[str, list[str]]) -> Finding:
    if missing:
        detail: dict[str, Any] = {"missing": missing, "name": item.name, "source_url": item.source_url}
        if elsewhere:
            detail["published_elsewhere"] = elsewhere
        return Finding(GuideCompleteness.name, target, Status.FAIL, "element_missing", detail)
    return Finding(GuideCompleteness.name, target, Status.PASS, None, {"name": item.name})


def judge(
    items: list[ItemSnapshot],
    required: list[str],
    placeholders: list[str],
    channel: str = "portal",
    others: Mapping[str, list[tuple[ItemSnapshot, ItemSnapshot]]] | None = None,
    schema: frozenset[str] = frozenset(),
    targets: Mapping[int, str] | None = None,
) -> list[Finding]:
    """One finding per guide of ``channel``: ``element_missing`` listing the absent elements.

    ``others``: channel → (this guide, the same item's guide there) pairs; an element of
    ``schema`` shown there and absent here is missing here too. ``targets``: id(item) → target.
    """
    blank = frozenset(fold(p).lower() for p in placeholders)
    elsewhere: dict[int, dict[str, list[str]]] = {}
    for other, pairs in sorted((others or {}).items()):
        for mine, theirs in pairs:
            for element in sorted(schema):
                if not is_blank(theirs.fields.get(element), blank) and is_blank(
                    mine.fields.get(element), blank
                ):
                    elsewhere.setdefault(id(mine), {}).setdefault(element, []).append(other)
    out = []
    for item in items:
        extra = elsewhere.get(id(item), {})
        missing = [e for e in required if is_blank(item.fields.get(e), blank)]
        missing += [e for e in extra if e not in missing]
        target = (targets or {}).get(id(item)) or item.target(channel)
        out.append(_finding(item, target, missing, extra))
    return out


def required_elements(data: Any) -> list[str]:
    """The required elements, in file order (the one loader: a malformed file raises)."""
    vocabulary = GuideElements.from_data(data)
    return [name for name in vocabulary.names if name in vocabulary.required]


def schema_elements(data: Any) -> frozenset[str]:
    """The elements the national exchange schema defines (``schema`` set): compared across channels."""
    return GuideElements.from_data(data).schema


def _elements_file(config: Any) -> Any:
    """``guide_elements.yaml`` parsed and checked; a malformed file is a ConfigError naming it."""
    data = config.read_data("guide_elements.yaml")
    try:
        GuideElements.from_data(data)
    except ValueError as exc:
        raise ConfigError(
            config.data_file("guide_elements.yaml"), "elements", str(exc).split(": ", 1)[-1]
        ) from exc
    return data


def judge_channels(
    stored: Mapping[str, list[ItemSnapshot]],
    required: list[str],
    placeholders: list[str],
    schema: frozenset[str],
    name_threshold: float,
) -> list[Finding]:
    """Every channel's guides; copies matched to portal items (code, then name) as data_same_source
    does, and each guide compared with the same item's guide on every other channel."""
    portal = stored.get("portal", [])
    copies: dict[str, dict[int, ItemSnapshot]] = {
        "portal": {id(i): i for i in portal}
    }  # channel → item → copy
    for channel, listed in stored.items():
        if channel != "portal":
            matcher = Matcher(listed, name_threshold)
            copies[channel] = {id(i): c for i in portal for c in [matcher.find(i)[0]] if c is not None}

    def others(channel: str) -> dict[str, list[tuple[ItemSnapshot, ItemSnapshot]]]:
        mine = copies[channel]
        return {
            other: [(mine[k], theirs[k]) for k in mine if k in theirs]
            for other, theirs in copies.items()
            if other != channel
        }

    findings = judge(portal, required, placeholders, "portal", others("portal"), schema)
    by_id = {id(i): i for i in portal}
    for channel, listed in sorted(stored.items()):
        if channel == "portal":
            continue
        targets = {id(c): item_target(by_id[k].ident, channel) for k, c in copies[channel].items()}
        findings += judge(listed, required, placeholders, channel, others(channel), schema, targets)
    return findings


@dataclass(frozen=True)
class Rules:
    """What guide_completeness judges by: the required elements, the placeholder values, the
    schema elements compared across channels (empty: no cross-channel comparison), the name
    threshold channel copies are matched with (data_same_source's) and the channels judged."""

    required: list[str]
    placeholders: list[str]
    schema: frozenset[str]
    name_threshold: float
    channels: list[str] | None


class GuideCompleteness(TwoPhaseCheck):
    name: ClassVar[str] = "guide_completeness"
    version: ClassVar[str] = "1.1.0"
    codes: ClassVar[frozenset[str]] = declared_codes("guide_completeness")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.CRAWL
    Options: ClassVar[type[CheckOptions]] = Options
    observation_type: ClassVar[type[Observation]] = CatalogueObservation

    @classmethod
    def check_data(cls, config: Any) -> None:
        _elements_file(config)

    async def observe(self, ctx: CheckContext) -> CatalogueObservation:
        return observe_catalogue(ctx)

    def rules(self, where: JudgeInput) -> Rules:
        options = where.options
        assert isinstance(options, Options)
        data = _elements_file(where.config)
        return Rules(
            required=options.required or required_elements(data),
            placeholders=list(options.placeholders),
            schema=schema_elements(data) if options.cross_channel else frozenset(),
            name_threshold=rules_file(where.config).name_match_threshold,
            channels=options.channels,
        )

    def judge(self, observation: CatalogueObservation, rules: Rules) -> list[Finding]:
        stored = observation.items
        # no portal items: precondition portal_catalogue, written by the runner (config/checks.yaml)
        if rules.channels is not None:
            stored = {ch: v for ch, v in stored.items() if ch == "portal" or ch in rules.channels}
        return judge_channels(stored, rules.required, rules.placeholders, rules.schema, rules.name_threshold)

    def document(
        self, findings: list[Finding], observation: CatalogueObservation, evidence: EvidenceWriter
    ) -> None:
        link_source_pages(evidence, findings)
