"""Coverage lines for the report: how far a check looked, read from its findings' ``detail``.

A ``pass`` means little without knowing what was looked at: ``duplicate_login`` says which
department systems it reached (and which listed departments it did not), ``search_accuracy``
whether it had the portal's catalogue and how many of the expected services the portal does not
offer. The CSV carries the same facts in each finding's ``detail`` (``coverage``, ``catalogue``,
``not_offered``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zwaudit.db import models
from zwaudit.explain import duplicate_login_coverage

COVERAGE_PROBES = ("duplicate_login", "search_accuracy")


def _source(catalogue: dict[str, Any], run_id: int) -> str:
    """Where the catalogue came from, in the report's words."""
    if catalogue.get("available"):
        made = catalogue.get("run_id")
        return "本次运行采集的事项目录" if made == run_id else f"运行 {made} 采集的事项目录"
    note = str(catalogue.get("note") or "")
    if "older than" in note:
        return "最近的事项目录已过期"
    if "no crawl" in note or "no database" in note:
        return "未采集或采集失败"
    return note


def search_line(details: Iterable[dict[str, Any]], run_id: int = 0) -> str:
    """One portal's keywords together: catalogue used, items considered, services not offered."""
    judged = without = considered = 0
    not_offered: list[str] = []
    source = missing_why = ""
    for detail in details:
        catalogue = detail.get("catalogue")
        if not isinstance(catalogue, dict):
            continue
        if not catalogue.get("available"):
            without += 1
            missing_why = missing_why or _source(catalogue, run_id)
            continue
        judged += 1
        source = _source(catalogue, run_id)
        considered += int((detail.get("coverage") or {}).get("catalogue_items_considered") or 0)
        not_offered += [str(n) for n in detail.get("not_offered") or [] if str(n) not in not_offered]
    if not judged and not without:
        return ""
    parts = []
    if judged:
        parts.append(f"按门户事项目录判断 {judged} 个关键词（{source}），参与判断的目录事项 {considered} 项")
        parts.append(
            "门户未提供的服务 "
            + (f"{len(not_offered)} 项：" + "、".join(not_offered) if not_offered else "0 项")
        )
    if without:
        parts.append(f"{without} 个关键词无事项目录（{missing_why}），未判断搜不全")
    return "；".join(parts)


def coverage_lines(session: Session, run_id: int) -> dict[str, dict[str, str]]:
    """probe → portal → coverage line, for the probes that report coverage."""
    f = models.Finding
    rows = session.execute(
        select(f.probe, f.portal_id, f.target, f.detail)
        .where(f.run_id == run_id, f.probe.in_(COVERAGE_PROBES))
        .order_by(f.portal_id, f.id)
    )
    dup: dict[str, dict[str, Any]] = {}
    search: dict[tuple[str, str], dict[str, Any]] = {}
    for probe, portal, target, detail in rows:
        if not isinstance(detail, dict):
            continue
        if probe == "duplicate_login" and isinstance(detail.get("coverage"), dict):
            dup.setdefault(portal, detail["coverage"])
        elif probe == "search_accuracy":
            search.setdefault((portal, target), detail)  # a keyword's rows share one detail
    out: dict[str, dict[str, str]] = {}
    for portal, coverage in dup.items():
        out.setdefault("duplicate_login", {})[portal] = duplicate_login_coverage(coverage)
    portals = sorted({p for p, _ in search})
    for portal in portals:
        line = search_line((d for (p, _), d in search.items() if p == portal), run_id)
        if line:
            out.setdefault("search_accuracy", {})[portal] = line
    return out
