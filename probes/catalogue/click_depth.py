"""click_depth: how many clicks from the home page to each service guide (服务便捷性)?

The crawl walks breadth-first from the home page, so the depth stored for a guide page is the
fewest clicks a person needs. A guide the crawl reached only from a start URL declared in the
profile has no click path from home; that is reported as an ``error`` (not found), not as deep.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from probes.catalogue.common import (
    DepthObservation,
    ItemSnapshot,
    iter_pages,
    link_source_pages,
    load_items,
    require_sessions,
)
from zwaudit.checks import CheckContext, CheckOptions, Observation, Requires, TwoPhaseCheck
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import Finding, error_finding
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.registry import declared_codes


class Options(CheckOptions):
    max_clicks: int = Field(default=3, ge=1, le=20)


def judge(items: list[ItemSnapshot], depth_of: Mapping[str, int | None], max_clicks: int) -> list[Finding]:
    """One finding per portal item: ``too_deep`` above ``max_clicks``."""
    out = []
    for item in items:
        target = item.target("portal")
        clicks = depth_of.get(item.source_url)
        if clicks is None:
            out.append(
                error_finding(
                    ClickDepth.name,
                    target,
                    ErrorKind.NOT_FOUND,
                    "no click path from the home page to this guide was found",
                    source_url=item.source_url,
                )
            )
            continue
        detail = {"clicks": clicks, "max_clicks": max_clicks, "source_url": item.source_url}
        if clicks > max_clicks:
            out.append(Finding(ClickDepth.name, target, Status.FAIL, "too_deep", detail))
        else:
            out.append(Finding(ClickDepth.name, target, Status.PASS, None, detail))
    return out


class ClickDepth(TwoPhaseCheck):
    name: ClassVar[str] = "click_depth"
    version: ClassVar[str] = "1.0.0"
    codes: ClassVar[frozenset[str]] = declared_codes("click_depth")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.CRAWL
    Options: ClassVar[type[CheckOptions]] = Options
    observation_type: ClassVar[type[Observation]] = DepthObservation

    async def observe(self, ctx: CheckContext) -> DepthObservation:
        sf = require_sessions(ctx)
        items = load_items(sf, ctx.run_id, ctx.portal.id).get("portal", [])
        wanted = {i.source_url for i in items}
        depth_of = {p.url: p.depth for p in iter_pages(sf, ctx.run_id, ctx.portal.id) if p.url in wanted}
        return DepthObservation(items=items, depth_of=depth_of)

    def judge(self, observation: DepthObservation, rules: CheckOptions) -> list[Finding]:
        assert isinstance(rules, Options)
        # no portal items: precondition portal_catalogue, written by the runner (config/checks.yaml)
        return judge(observation.items, observation.depth_of, rules.max_clicks)

    def document(
        self, findings: list[Finding], observation: DepthObservation, evidence: EvidenceWriter
    ) -> None:
        link_source_pages(evidence, findings)
