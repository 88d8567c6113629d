"""Redaction of the test account's personal data before anything is written down.

Evidence, log lines and CSV cells pass through a :class:`Redactor` built from the account's known
values: each occurrence of the full name, ID number or phone (also with common separators) is
replaced by a masked form, so a leak can be *proven* (the finding says which field and where)
without the evidence itself leaking it again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def mask_value(kind: str, value: str) -> str:
    """A masked rendering that keeps enough shape to recognise what was there."""
    if kind == "name":
        return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"
    if kind == "id_number" and len(value) >= 2:
        return value[0] + "*" * (len(value) - 2) + value[-1]
    if kind == "phone" and len(value) >= 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    if len(value) <= 2:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]


class Redactor:
    """Replaces known personal values in text; cheap to apply to every string written."""

    def __init__(self, personal: Mapping[str, str] | None = None) -> None:
        self.personal = {k: v for k, v in (personal or {}).items() if v}
        patterns: list[tuple[re.Pattern[str], str]] = []
        for kind, value in self.personal.items():
            chars = [re.escape(c) for c in value]
            # allow spaces or dashes between characters (e.g. "138 0013 8000")
            loose = r"[\s\-]?".join(chars) if kind in ("phone", "id_number") else "".join(chars)
            flags = re.IGNORECASE if kind == "id_number" else 0
            patterns.append((re.compile(loose, flags), mask_value(kind, value)))
        # longest first, so an ID number containing a phone-like run is masked whole
        patterns.sort(key=lambda p: -len(p[0].pattern))
        self._patterns = patterns

    def __call__(self, text: str) -> str:
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        return text

    def contains_personal(self, text: str) -> list[str]:
        """Which personal fields occur unmasked in ``text`` (used by tests and by self-checks)."""
        return [kind for kind, value in self.personal.items() if value in text]
