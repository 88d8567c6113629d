"""One Chinese sentence per finding, rendered from the templates its code declares in
``config/checks.yaml`` — what the evidence CSV's ``detail`` cell and the report's 说明 show.

The machine facts stay where they are (the stored ``detail`` JSON, the evidence files); this is
what an auditor hands to a department: 搜索“个税”：前10条结果缺少“个人所得税纳税申报”，召回率50%.

Never raises: a template whose fields the detail lacks is skipped for the next one, and when none
fits (an old run, a check of another version) a generic sentence names the check and the code.
``error`` findings are explained from their kind's templates (``error_kinds``, a check's own
``errors`` first) and ``not_applicable`` ones from their unmet precondition's (``preconditions``):
the English message of the detail stays a machine fact, never the sentence.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from zwaudit.outcomes import Status
from zwaudit.registry import Registry, declarations

MAX_CHARS = 400
ITEM_SEPARATOR = "、"


class _Missing(LookupError):
    """A template field the finding's detail does not provide."""


class _Seq(list[Any]):
    """A list that prints joined with 、 (and still answers ``[0]``); ``{x:q}`` quotes each
    element: “甲”、“乙”."""

    def __format__(self, spec: str) -> str:
        if spec == "q":
            return ITEM_SEPARATOR.join(f"“{x}”" for x in self)
        return format(ITEM_SEPARATOR.join(str(x) for x in self), spec)


class _Facts(dict[str, Any]):
    """A mapping where an absent, None or empty value is missing (the template is skipped)."""

    def __getitem__(self, key: str) -> Any:
        value = super().get(key)
        if value is None or value == "" or value == [] or value == {}:
            raise _Missing(key)
        return value


def _wrap(value: Any, channel: str | None) -> Any:
    if isinstance(value, Mapping):
        facts = _Facts({str(k): _wrap(v, channel) for k, v in value.items()})
        if channel is not None and channel in facts:
            facts["on_channel"] = facts.get(channel)
        return facts
    if isinstance(value, list | tuple):
        return _Seq(_wrap(v, channel) for v in value)
    return value


def channel_of(target: str) -> str | None:
    """``mobile`` of ``<item>@mobile``; None for a target that is not an item target."""
    if "@" not in target or "://" in target:
        return None
    return target.rsplit("@", 1)[1] or None


def channel_label(channel: str, registry: Registry) -> str:
    """``dept:mz`` → 部门网站 mz; ``mobile`` → 移动端."""
    kind, _, rest = channel.partition(":")
    label = registry.channels.get(kind, kind)
    return f"{label} {rest}" if rest else label


def facts(target: str, detail: Mapping[str, Any], registry: Registry, check: str = "") -> _Facts:
    """The template fields of one finding (see the header of ``config/checks.yaml``)."""
    channel = channel_of(target)
    out = _wrap(detail, channel)
    assert isinstance(out, _Facts)
    if check:
        spec = registry.check(check)
        out.setdefault("check", spec.label if spec is not None else check)
    assert isinstance(out, _Facts)
    for key, value in list(out.items()):
        if isinstance(value, list):
            out.setdefault(f"{key}_count", len(value))
        elif isinstance(value, str) and value in registry.words:
            out.setdefault(f"{key}_zh", registry.words[value])
    out["target"] = target
    if channel is not None:
        out.setdefault("channel", channel)
        out.setdefault("channel_zh", channel_label(channel, registry))
    return out


def render(template: str, fields: Mapping[str, Any]) -> str | None:
    """``template`` filled from ``fields``; None when a field is missing or does not fit."""
    try:
        return string.Formatter().vformat(template, (), fields)
    except (LookupError, ValueError, TypeError, AttributeError, IndexError):
        return None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def duplicate_login_coverage(coverage: Mapping[str, Any]) -> str:
    """How far the walk into department systems went (issue 13: coverage in every finding)."""
    missed = coverage.get("departments_not_reached") or []
    line = (
        f"部门系统：到达 {coverage.get('systems_reached', 0)} 个（在线办理链接中见到 "
        f"{coverage.get('systems_seen_in_links', 0)} 个）；档案所列部门 {coverage.get('departments_listed', 0)} 个，"
        f"到达 {coverage.get('departments_reached', 0)} 个"
    )
    if missed:
        line += "，未到达：" + "、".join(str(m) for m in missed)
    if coverage.get("source") == "discovery":
        line += f"；读取门户页面 {coverage.get('pages_read', 0)}/{coverage.get('page_budget', 0)}"
    return line


def search_coverage(detail: Mapping[str, Any]) -> str:
    """One keyword's judgement basis: the catalogue, the items considered, services not offered."""
    catalogue = detail.get("catalogue")
    if not isinstance(catalogue, Mapping):
        return ""
    if not catalogue.get("available"):
        return "无门户事项目录，未判断搜不全"
    considered = (detail.get("coverage") or {}).get("catalogue_items_considered") or 0
    not_offered = [str(n) for n in detail.get("not_offered") or []]
    line = f"参与判断的目录事项 {considered} 项"
    if not_offered:
        line += "；门户未提供：" + "、".join(not_offered)
    return line


def coverage_clause(probe: str, detail: Mapping[str, Any]) -> str:
    """What the check looked at, for the checks whose verdict depends on it (empty otherwise)."""
    try:
        if probe == "duplicate_login" and isinstance(detail.get("coverage"), Mapping):
            return duplicate_login_coverage(detail["coverage"])
        if probe == "search_accuracy":
            return search_coverage(detail)
    except Exception:  # a detail of an unexpected shape: no clause rather than no sentence
        return ""
    return ""


def explain(
    probe: str,
    target: str,
    status: str,
    code: str | None,
    detail: Any,
    registry: Registry | None = None,
) -> str:
    """The one sentence for a finding (never raises), with what the check looked at where its
    verdict depends on it (duplicate_login's department systems, search_accuracy's catalogue)."""
    registry = registry or declarations()
    detail = detail if isinstance(detail, Mapping) else {}
    sentence = _sentence(probe, target, status, code, detail, registry)
    clause = coverage_clause(probe, detail) if status in (Status.PASS, Status.FAIL) else ""
    if not clause:
        return sentence
    return _clip(f"{sentence.rstrip('。')}。覆盖：{clause}")


def _sentence(
    probe: str, target: str, status: str, code: str | None, detail: Mapping[str, Any], registry: Registry
) -> str:
    spec = registry.check(probe)
    check_label = spec.label if spec is not None else probe
    if status == Status.PASS:
        return _clip(f"{check_label}检查通过")
    try:
        fields = facts(target, detail, registry, probe)
    except Exception:  # a detail of an unexpected shape: the generic sentence
        fields = _Facts({"target": target, "check": check_label})
    if status == Status.FAIL:
        code_spec = spec.codes.get(code or "") if spec is not None else None
        text = _first(code_spec.explain if code_spec is not None else (), fields)
        if text is not None:
            return text
        label = registry.code_label(code or "") or code or ""
        return _clip(f"{check_label}：{target} {label}")
    if status == Status.ERROR:
        # the kind's sentence (the check's own first), never the English message of the detail
        own = spec.errors.get(code or "", ()) if spec is not None else ()
        pre = registry.preconditions.get(str(detail.get("precondition")))
        own = (*(pre.explain if pre is not None else ()), *own)
        text = _first((*own, *registry.error_explain.get(code or "", ())), fields)
        if text is not None:
            return text
        kind = registry.error_kinds.get(code or "", "未知原因")
        return _clip(f"{check_label}：未能得出结论（{kind}）")
    if status == Status.NOT_APPLICABLE:
        name = detail.get("precondition")
        if not isinstance(name, str) or name not in registry.preconditions:
            name = "personal_data" if detail.get("field") else ""  # a row of before preconditions
        pre = registry.preconditions.get(name)
        text = _first(pre.explain if pre is not None else (), fields)
        return text if text is not None else _clip(f"{check_label}：不适用")
    return _clip(f"{check_label}：{target}")


def _first(templates: tuple[str, ...] | list[str], fields: Mapping[str, Any]) -> str | None:
    """The first template that renders from ``fields``, clipped; None when none does."""
    for template in templates:
        text = render(template, fields)
        if text is not None:
            return _clip(text)
    return None
