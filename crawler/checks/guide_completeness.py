"""guide_completeness: does every portal guide show the required elements (办事指南准确度)?

Required = the national exchange schema's NOT NULL columns (``config/guide_elements.yaml``); an
element shown with a placeholder (``暂无``, ``-``) counts as missing, as an evaluator would count it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from crawler.checks.common import ItemSnapshot, context_config, fold, link_source_pages, portal_items
from zwaudit.checks import CheckContext, CheckOptions, Requires
from zwaudit.findings import Finding
from zwaudit.outcomes import Status

PLACEHOLDERS = ["", "-", "--", "—", "/", "暂无", "null", "none", "undefined", "n/a", "待定"]


class Options(CheckOptions):
    required: list[str] | None = None  # overrides guide_elements.yaml's required set
    placeholders: list[str] = Field(default_factory=lambda: list(PLACEHOLDERS))


def is_blank(value: Any, placeholders: frozenset[str]) -> bool:
    if value is None:
        return True
    if isinstance(value, list):
        return not any(not is_blank(v, placeholders) for v in value)
    return fold(str(value)).lower() in placeholders


def judge(items: list[ItemSnapshot], required: list[str], placeholders: list[str]) -> list[Finding]:
    """One finding per portal item: ``element_missing`` listing the absent required elements."""
    blank = frozenset(fold(p).lower() for p in placeholders)
    out = []
    for item in items:
        missing = [e for e in required if is_blank(item.fields.get(e), blank)]
        target = item.target("portal")
        if missing:
            detail = {"missing": missing, "name": item.name, "source_url": item.source_url}
            out.append(Finding(GuideCompleteness.name, target, Status.FAIL, "element_missing", detail))
        else:
            out.append(Finding(GuideCompleteness.name, target, Status.PASS, None, {"name": item.name}))
    return out


def required_elements(data: Any) -> list[str]:
    elements = data.get("elements", {}) if isinstance(data, dict) else {}
    return [name for name, spec in elements.items() if (spec or {}).get("required")]


class GuideCompleteness:
    name: ClassVar[str] = "guide_completeness"
    version: ClassVar[str] = "1.0.0"
    codes: ClassVar[frozenset[str]] = frozenset({"element_missing"})
    requires: ClassVar[Requires] = Requires.CRAWL
    Options: ClassVar[type[CheckOptions]] = Options

    async def run(self, ctx: CheckContext) -> list[Finding]:
        options = ctx.options
        assert isinstance(options, Options)
        required = options.required or required_elements(context_config(ctx).read_data("guide_elements.yaml"))
        items, no_items = portal_items(ctx, self.name)
        if no_items:
            return no_items
        return link_source_pages(ctx, judge(items, required, options.placeholders))
