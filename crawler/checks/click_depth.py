"""click_depth: how many clicks from the home page to each service guide (服务便捷性)?

The crawl walks breadth-first from the home page, so the depth stored for a guide page is the
fewest clicks a person needs. A guide the crawl reached only from a start URL declared in the
profile has no click path from home; that is reported as an ``error`` (not found), not as deep.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from crawler.checks.common import ItemSnapshot, iter_pages, link_source_pages, portal_items, require_sessions
from zwaudit.checks import CheckContext, CheckOptions, Requires
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


class ClickDepth:
    name: ClassVar[str] = "click_depth"
    version: ClassVar[str] = "1.0.0"
    codes: ClassVar[frozenset[str]] = declared_codes("click_depth")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.CRAWL
    Options: ClassVar[type[CheckOptions]] = Options

    async def run(self, ctx: CheckContext) -> list[Finding]:
        options = ctx.options
        assert isinstance(options, Options)
        items, no_items = portal_items(ctx, self.name)
        if no_items:
            return no_items
        wanted = {i.source_url for i in items}
        pages = iter_pages(require_sessions(ctx), ctx.run_id, ctx.portal.id)
        depth_of = {p.url: p.depth for p in pages if p.url in wanted}
        return link_source_pages(ctx, judge(items, depth_of, options.max_clicks))
