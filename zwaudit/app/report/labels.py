"""Chinese labels for the report: probes, statuses, reason codes and error kinds, all taken from
the check registry (``config/checks.yaml``, :mod:`zwaudit.registry`).

Unknown names fall back to the name itself, so a new check shows up (in English) rather than
breaking the report.
"""

from __future__ import annotations

from zwaudit.outcomes import RunStatus
from zwaudit.registry import declarations

_REGISTRY = declarations()

#: check name → Chinese name, in the registry's order (the report's order of sections)
PROBES: dict[str, str] = {name: spec.label for name, spec in _REGISTRY.checks.items()}

STATUSES: dict[str, str] = dict(_REGISTRY.statuses)

#: reason code or error kind → Chinese label
CODES: dict[str, str] = {
    **{code: c.label for spec in _REGISTRY.checks.values() for code, c in spec.codes.items()},
    **_REGISTRY.error_kinds,
}

TRIGGERS: dict[str, str] = {
    "nightly": "夜间例行",
    "audit": "手动检查",
    "crawl": "采集",
    "calibrate": "校准",
    "rejudge": "重新判定",
}

#: where a run stands (the report's header)
RUN_STATUSES: dict[str, str] = {
    RunStatus.OK: "完成",
    RunStatus.FAILED: "失败",
    RunStatus.RUNNING: "进行中",
    RunStatus.INTERRUPTED: "中断",
}

CHANGES: dict[str, str] = {
    "new": "新增问题",
    "fixed": "已整改",
    "changed": "状态变化",
    "unresolved": "未能复查",
}


def probe(name: str) -> str:
    return PROBES.get(name, name)


def trigger(name: str) -> str:
    return TRIGGERS.get(name, name)


def status(name: str) -> str:
    return STATUSES.get(name, name)


def run_status(name: str) -> str:
    return RUN_STATUSES.get(name, name)


def code(name: str | None) -> str:
    if not name:
        return ""
    return CODES.get(name, name)


def observation(text: str) -> str:
    """A diff's ``fail:hsts_missing,error:timeout`` (:meth:`zwaudit.app.history.Observation.label`)
    in Chinese: 不通过（未启用HSTS）、错误（超时）."""
    if text in ("", "-"):
        return "—"
    parts = []
    for part in text.split(","):
        kind, _, name = part.partition(":")
        parts.append(f"{status(kind)}（{code(name)}）" if name else status(kind))
    return "、".join(parts)
