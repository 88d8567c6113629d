"""What a check produces: findings with typed evidence.

A :class:`Finding` is a pure value: probes build them from observations, storage writes them, the
exporter and the scorer read them back. Evidence files are written by :mod:`zwaudit.evidence`
before a finding is stored, so every evidence row carries the sha256 of the bytes on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zwaudit.outcomes import ErrorKind, Status


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (stored as such in both databases)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class EvidenceRef:
    """One piece of evidence: a file under the evidence root, or an URL."""

    kind: str  # screenshot, dom_excerpt, json_excerpt, http_log, url …
    media_type: str
    path: str | None = None  # relative to the evidence root
    url: str | None = None
    sha256: str | None = None


class UndeclaredCodeError(ValueError):
    """A finding carries a reason code its check does not declare in ``config/checks.yaml``."""


@dataclass
class Finding:
    """The conclusion of one check about one target on one portal."""

    probe: str
    target: str
    status: Status
    code: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    evidence: list[EvidenceRef] = field(default_factory=list)
    observed_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if self.status is Status.FAIL and not self.code:
            raise ValueError(f"{self.probe}: a fail finding needs a reason code ({self.target})")
        if self.status is Status.ERROR and self.code not in {k.value for k in ErrorKind}:
            raise ValueError(f"{self.probe}: an error finding needs an ErrorKind code, got {self.code!r}")
        if self.status is Status.PASS and self.code:
            raise ValueError(f"{self.probe}: a pass finding carries no code ({self.target})")
        from zwaudit.registry import undeclared_code  # the registry's loader imports this module

        refused = undeclared_code(self.probe, self.status, self.code)
        if refused is not None:  # a programming error: the check's judge and its declaration disagree
            raise UndeclaredCodeError(f"{refused} ({self.target})")


def error_finding(probe: str, target: str, kind: ErrorKind, message: str, **detail: Any) -> Finding:
    """An ``error`` finding: the check could not conclude, which is never a fail."""
    return Finding(probe, target, Status.ERROR, kind.value, {"error": message, **detail})
