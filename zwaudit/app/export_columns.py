"""The columns of the evidence CSV, declared once (pshtt's ``HEADERS`` lesson).

The order here is the order in the file; auditors' spreadsheets and the tests rely on it. Each
column has its English key (the default header) and the Chinese header used with ``--zh``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    zh: str


COLUMNS: tuple[Column, ...] = (
    Column("run_id", "运行编号"),
    Column("observed_at", "观测时间"),
    Column("portal_id", "门户编号"),
    Column("portal_name", "门户名称"),
    Column("probe", "检查项"),
    Column("target", "检查对象"),
    Column("status", "结果"),
    Column("code", "原因代码"),
    Column("detail", "详情"),
    Column("evidence_url", "证据网址"),
    Column("evidence_files", "证据文件"),
    Column("evidence_sha256", "证据文件SHA256"),
    Column("probe_version", "检查项版本"),
)

KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS)


def headers(*, zh: bool = False) -> list[str]:
    """The header row, English keys or Chinese labels."""
    return [c.zh if zh else c.key for c in COLUMNS]
