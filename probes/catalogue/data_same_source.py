"""data_same_source: do the portal, the department sites and the mobile channel show the same items?

数据同源 / "一张网": the portal is the reference. Each portal item is looked up on every channel
where it is expected (``mobile`` always; ``dept:<id>`` for the items of that department) — by
实施编码 first, then by name (width-insensitive punctuation, equal bracketed qualifiers, a strict
rapidfuzz ratio) — and judged ``item_missing``, ``field_mismatch`` (which field, both values;
compared by meaning, :mod:`probes.catalogue.meaning`) or ``stale`` (更新时间 further apart than
``stale_days``). An element one channel publishes and another lacks is not compared here: it is
``guide_completeness``'s ``element_missing`` on the channel that lacks it (reported once).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz

from probes.catalogue.common import (
    CatalogueObservation,
    ItemSnapshot,
    UnreadPage,
    compare_key,
    fold,
    observe_catalogue,
    qualifiers,
)
from probes.catalogue.meaning import same_value
from zwaudit.checks import CheckContext, CheckOptions, JudgeInput, Observation, Requires, TwoPhaseCheck
from zwaudit.config.yamlfile import validation_error
from zwaudit.evidence import EvidenceWriter, safe_name
from zwaudit.findings import Finding, error_finding
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.registry import declared_codes
from zwaudit.targets import item_target

FieldKind = Literal["time_limit", "phone", "yes_no", "list", "text"]
DEFAULT_KINDS: dict[str, FieldKind] = {
    "法定办结时限": "time_limit",
    "承诺办结时限": "time_limit",
    "咨询电话": "phone",
    "监督电话": "phone",
    "是否收费": "yes_no",
    "申请材料": "list",
}
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")


class Rules(BaseModel):
    """``config/data_same_source.yaml``; every key can be overridden per portal in Options."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    stale_days: int = Field(default=30, ge=0)
    name_match_threshold: float = Field(default=92.0, ge=50.0, le=100.0)
    compared_fields: list[str] = Field(default_factory=lambda: ["申请材料", "承诺办结时限", "收费标准"])
    update_field: str = "更新时间"
    # pages of a channel the crawl may leave unread (timeouts, failed renderings, 5xx) before an
    # item not found there stops being item_missing and becomes error: it may be on one of them
    unread_pages_allowed: int = Field(default=0, ge=0)
    field_kinds: dict[str, FieldKind] = Field(default_factory=lambda: dict(DEFAULT_KINDS))
    text_match_threshold: float = Field(default=90.0, ge=50.0, le=100.0)


class Options(CheckOptions):
    text_match_threshold: float | None = Field(default=None, ge=50.0, le=100.0)
    stale_days: int | None = Field(default=None, ge=0)
    name_match_threshold: float | None = Field(default=None, ge=50.0, le=100.0)
    compared_fields: list[str] | None = None
    channels: list[str] | None = None  # compare only these channels (default: every one crawled)
    unread_pages_allowed: int | None = Field(default=None, ge=0)


def parse_date(value: Any) -> date | None:
    match = _DATE.search(fold(str(value or "")))
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


class Matcher:
    """Finds a portal item's copy on one channel: code, exact normalised name, strict fuzzy name."""

    def __init__(self, copies: list[ItemSnapshot], threshold: float) -> None:
        self.threshold = threshold
        self.by_code = {c.code: c for c in copies if c.code}
        self.by_name: dict[str, ItemSnapshot] = {}
        for c in copies:
            self.by_name.setdefault(compare_key(c.name), c)
        self.unclaimed = {id(c): c for c in copies}

    def find(self, item: ItemSnapshot) -> tuple[ItemSnapshot | None, str]:
        if item.code and item.code in self.by_code:
            return self._claim(self.by_code[item.code]), "code"
        exact = self.by_name.get(compare_key(item.name))
        if exact is not None and (not exact.code or not item.code or exact.code == item.code):
            return self._claim(exact), "name"
        best, best_score = None, 0.0
        wanted = qualifiers(item.name)
        for copy in self.unclaimed.values():
            if copy.code and item.code and copy.code != item.code:
                continue  # both show a code and they differ: a different item, whatever the name
            if qualifiers(copy.name) != wanted:
                continue  # （县级） vs （市级）: different items
            score = fuzz.ratio(compare_key(item.name), compare_key(copy.name))
            if score > best_score:
                best, best_score = copy, score
        if best is not None and best_score >= self.threshold:
            return self._claim(best), f"fuzzy:{best_score:.0f}"
        return None, ""

    def _claim(self, copy: ItemSnapshot) -> ItemSnapshot:
        self.unclaimed.pop(id(copy), None)
        return copy


@dataclass(frozen=True)
class Comparison:
    """The verdict for one (portal item, channel): codes found and the evidence behind them."""

    item: ItemSnapshot
    channel: str
    copy: ItemSnapshot | None
    matched_by: str
    mismatches: tuple[dict[str, Any], ...]
    days_apart: int | None

    def codes(self, stale_days: int) -> list[str]:
        if self.copy is None:
            return ["item_missing"]
        out = ["field_mismatch"] if self.mismatches else []
        if self.days_apart is not None and self.days_apart > stale_days:
            out.append("stale")
        return out


def compare(
    item: ItemSnapshot, copy: ItemSnapshot | None, channel: str, matched_by: str, rules: Rules
) -> Comparison:
    mismatches: list[dict[str, Any]] = []
    days: int | None = None
    if copy is not None:
        for name in rules.compared_fields:
            ours, theirs = item.fields.get(name), copy.fields.get(name)
            if ours in (None, "", []) or theirs in (None, "", []):
                continue  # absent on one side: guide_completeness reports it on that channel
            kind = rules.field_kinds.get(name, "text")
            if not same_value(kind, ours, theirs, rules.text_match_threshold):
                mismatches.append({"field": name, "portal": ours, channel: theirs})
        mine, other = (
            parse_date(item.fields.get(rules.update_field)),
            parse_date(copy.fields.get(rules.update_field)),
        )
        if mine is not None and other is not None:
            days = abs((mine - other).days)
    return Comparison(item, channel, copy, matched_by, tuple(mismatches), days)


def served_departments(copies: list[ItemSnapshot], profile_name: str) -> frozenset[str]:
    """The departments a department site speaks for: its profile name and its dominant 实施主体."""
    names = [compare_key(c.department or "") for c in copies]
    dominant = {n for n in set(names) if n and names.count(n) * 2 >= len(names)}
    return frozenset({compare_key(profile_name), *dominant} - {""})


def owns(served: frozenset[str], owner: str) -> bool:
    """``公安厅`` is served by ``蜀南省公安厅``: equal, or the site's name ends with the owner's."""
    return bool(owner) and any(owner == s or (len(owner) >= 3 and s.endswith(owner)) for s in served)


def expected_channels(
    item: ItemSnapshot, channels: Mapping[str, list[ItemSnapshot]], departments: Mapping[str, str]
) -> list[str]:
    """``mobile`` for every item; ``dept:<id>`` when the item's 实施主体 is that department."""
    out = ["mobile"] if "mobile" in channels else []
    owner = compare_key(item.department or "")
    for dept_id, dept_name in sorted(departments.items()):
        channel = f"dept:{dept_id}"
        if channel in channels and owns(served_departments(channels[channel], dept_name), owner):
            out.append(channel)
    return out


def judge(
    portal: list[ItemSnapshot],
    channels: Mapping[str, list[ItemSnapshot]],
    departments: Mapping[str, str],
    rules: Rules,
    unread: Mapping[str, list[UnreadPage]] | None = None,
) -> tuple[list[Finding], list[Comparison]]:
    """One finding per (portal item, expected channel, code); a pass when the copy agrees.

    An item not found on a channel whose crawl left more than ``unread_pages_allowed`` of its
    pages unread (``unread``: timeouts, failed renderings, 5xx, blocks) is ``error``, not
    ``item_missing``: it may be on one of them, and an accusation needs a channel actually read.
    """
    matchers = {ch: Matcher(copies, rules.name_match_threshold) for ch, copies in channels.items()}
    findings: list[Finding] = []
    comparisons: list[Comparison] = []
    for item in portal:
        for channel in expected_channels(item, channels, departments):
            copy, how = matchers[channel].find(item)
            missed = (unread or {}).get(channel, [])
            if copy is None and len(missed) > rules.unread_pages_allowed:
                findings.append(_not_read(item, channel, missed))
                continue
            result = compare(item, copy, channel, how, rules)
            comparisons.append(result)
            target = item_target(item.ident, channel)
            detail: dict[str, Any] = {"name": item.name, "matched_by": how or None}
            if result.mismatches:
                detail["mismatches"] = list(result.mismatches)
            if result.days_apart is not None:
                detail["days_apart"] = result.days_apart
            codes = result.codes(rules.stale_days)
            if not codes:
                findings.append(Finding(DataSameSource.name, target, Status.PASS, None, detail))
            for code in codes:
                findings.append(Finding(DataSameSource.name, target, Status.FAIL, code, dict(detail)))
    return findings, comparisons


def _not_read(item: ItemSnapshot, channel: str, missed: list[UnreadPage]) -> Finding:
    # the commonest reason names the error (the first seen of equally common ones)
    ((kind, _),) = Counter(page.kind for page in missed).most_common(1)
    return error_finding(
        DataSameSource.name,
        item_target(item.ident, channel),
        ErrorKind(kind),
        f"not found on {channel}, whose crawl left {len(missed)} pages unread "
        f"(first: {missed[0].url}: {missed[0].error}); the item may be on one of them",
        name=item.name,
        unread_pages=len(missed),
        unread=[{"url": page.url, "error": page.error} for page in missed[:5]],
    )


def rules_file(config: Any) -> Rules:
    """``data_same_source.yaml`` parsed and validated (a malformed file is a ConfigError)."""
    path = config.data_file("data_same_source.yaml")
    try:
        return Rules.model_validate(config.read_data("data_same_source.yaml") or {})
    except ValidationError as exc:
        raise validation_error(path, exc) from exc


@dataclass(frozen=True)
class PortalRules:
    """The rules (the file with the portal's overrides) and, from the portal's profile, its
    departments and the channels it declares (``channels`` option applied)."""

    rules: Rules
    departments: dict[str, str]
    configured: list[str]


class DataSameSource(TwoPhaseCheck):
    name: ClassVar[str] = "data_same_source"
    version: ClassVar[str] = "1.2.0"  # 1.2: an item not found where pages went unread is error
    codes: ClassVar[frozenset[str]] = declared_codes("data_same_source")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.CRAWL
    Options: ClassVar[type[CheckOptions]] = Options
    observation_type: ClassVar[type[Observation]] = CatalogueObservation

    def __init__(self) -> None:
        self._excerpts: dict[tuple[str, str | None], dict[str, Any]] = {}  # judge → document

    @classmethod
    def check_data(cls, config: Any) -> None:
        rules_file(config)

    async def observe(self, ctx: CheckContext) -> CatalogueObservation:
        return observe_catalogue(ctx)

    def rules(self, where: JudgeInput) -> PortalRules:
        options = where.options
        assert isinstance(options, Options)
        overrides = {
            k: v for k, v in options.model_dump().items() if v is not None and k in Rules.model_fields
        }
        departments = {d.id: d.name for d in where.portal.departments}
        configured = (["mobile"] if where.portal.mobile else []) + [f"dept:{d}" for d in departments]
        if options.channels is not None:
            configured = [c for c in configured if c in options.channels]
        return PortalRules(rules_file(where.config).model_copy(update=overrides), departments, configured)

    def judge(self, observation: CatalogueObservation, rules: PortalRules) -> list[Finding]:
        self._excerpts = {}
        stored = dict(observation.items)
        portal = stored.pop("portal", [])
        departments, configured = rules.departments, rules.configured
        # no portal items: precondition portal_catalogue, written by the runner (config/checks.yaml)
        findings: list[Finding] = []
        channels: dict[str, list[ItemSnapshot]] = {}
        for channel in configured:
            if stored.get(channel):
                channels[channel] = stored[channel]
                continue
            # a channel that yielded nothing is a crawl problem until proven otherwise, never
            # "every item missing" — an accusation needs a catalogue that was actually read
            for item in portal:
                if channel in expected_channels(item, {channel: []}, departments):
                    findings.append(
                        error_finding(
                            self.name,
                            item_target(item.ident, channel),
                            ErrorKind.NOT_FOUND,
                            f"the crawl stored no items for channel {channel}",
                        )
                    )
        judged, comparisons = judge(portal, channels, departments, rules.rules, observation.unread)
        by_target = {item_target(c.item.ident, c.channel): c for c in comparisons}
        for finding in judged:
            if finding.status is Status.FAIL:
                comparison = by_target[finding.target]
                self._excerpts[(finding.target, finding.code)] = {
                    "target": finding.target,
                    "code": finding.code,
                    "portal": comparison.item.excerpt(),
                    comparison.channel: comparison.copy.excerpt() if comparison.copy else None,
                    "mismatches": list(comparison.mismatches),
                    "days_apart": comparison.days_apart,
                }
        findings.extend(judged)
        counts = {"portal": len(portal), **{ch: len(stored.get(ch, [])) for ch in configured}}
        for finding in findings:
            finding.detail["item_counts"] = counts  # what each channel listed in this run
        return findings

    def document(
        self, findings: list[Finding], observation: CatalogueObservation, evidence: EvidenceWriter
    ) -> None:
        """Each fail: a JSON excerpt of both copies, and the pages they were read from."""
        for finding in findings:
            excerpt = self._excerpts.get((finding.target, finding.code))
            if finding.status is not Status.FAIL or excerpt is None:
                continue
            name = f"{safe_name(finding.target)}-{finding.code}.json"
            finding.evidence.append(evidence.json("json_excerpt", name, excerpt))
            finding.evidence.append(evidence.url(str(excerpt["portal"]["source_url"])))
            channel = finding.target.rsplit("@", 1)[-1]
            if excerpt.get(channel) is not None:
                finding.evidence.append(evidence.url(str(excerpt[channel]["source_url"])))
