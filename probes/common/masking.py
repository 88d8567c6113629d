"""Recognising the account's personal data in text: in full (a leak) or masked (compliant).

The rules are data (``config/masking.yaml``): which masked styles count as compliant. A value
counts as *unmasked* only when it appears in full — verbatim, or with spaces or dashes between the
digits of a phone or ID number. A masked rendering (``张*三``, ``3***23197402*****X``) is judged
by how many characters it reveals against the most revealing compliant style for that field, so a
province's unfamiliar but safe style is never called a leak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zwaudit.errors import ConfigError

FIELDS = ("name", "id_number", "phone")


@dataclass(frozen=True)
class MaskStyle:
    """A compliant style: the first/last N characters shown, or exact 1-based positions."""

    first: int = 0
    last: int = 0
    positions: str | None = None

    def revealed(self, length: int) -> int:
        """How many characters of a ``length``-long value this style shows (never all of them)."""
        if self.positions is not None:
            shown = len(parse_positions(self.positions, length))
        else:
            shown = self.first + self.last
        return max(0, min(shown, length - 1))

    def label(self) -> str:
        if self.positions is not None:
            return f"positions {self.positions}"
        return f"first {self.first} + last {self.last}"


def parse_positions(spec: str, length: int) -> set[int]:
    """``"1,5-12,18"`` → {1, 5, …, 12, 18}; ``"2-"`` runs to ``length``."""
    shown: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        lo_text, dash, hi_text = part.partition("-")
        lo = int(lo_text)
        hi = (int(hi_text) if hi_text else length) if dash else lo
        shown.update(i for i in range(lo, hi + 1) if 1 <= i <= length)
    return shown


@dataclass(frozen=True)
class MaskingRules:
    mask_chars: str
    styles: dict[str, tuple[MaskStyle, ...]]

    def max_revealed(self, field: str, length: int) -> int:
        return max((s.revealed(length) for s in self.styles.get(field, ())), default=0)


def parse_rules(raw: Any, source: Path) -> MaskingRules:
    """Validate the parsed ``masking.yaml``; errors name the file and the key."""
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "expected a mapping with mask_chars, name, id_number, phone")
    mask_chars = raw.get("mask_chars", "*")
    if not isinstance(mask_chars, str) or not mask_chars:
        raise ConfigError(source, "mask_chars", "expected a non-empty string of mask characters")
    styles: dict[str, tuple[MaskStyle, ...]] = {}
    for field in FIELDS:
        entries = raw.get(field, [])
        if not isinstance(entries, list):
            raise ConfigError(source, field, "expected a list of styles")
        parsed: list[MaskStyle] = []
        for i, entry in enumerate(entries):
            key = f"{field}[{i}]"
            if not isinstance(entry, dict) or not set(entry) <= {"first", "last", "positions"} or not entry:
                raise ConfigError(source, key, "expected {first: N, last: M} or {positions: '1,5-12,18'}")
            positions = entry.get("positions")
            if positions is not None:
                if not isinstance(positions, str) or not re.fullmatch(
                    r"\s*\d+(-\d*)?(\s*,\s*\d+(-\d*)?)*\s*", positions
                ):
                    raise ConfigError(source, f"{key}.positions", f"not a position list: {positions!r}")
                if "first" in entry or "last" in entry:
                    raise ConfigError(source, key, "give positions or first/last, not both")
            first, last = entry.get("first", 0), entry.get("last", 0)
            if not (isinstance(first, int) and isinstance(last, int)) or first < 0 or last < 0:
                raise ConfigError(source, key, "first and last must be non-negative integers")
            parsed.append(MaskStyle(first, last, positions))
        styles[field] = tuple(parsed)
    unknown = set(raw) - {"mask_chars", *FIELDS}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "unknown key")
    return MaskingRules(mask_chars, styles)


def _loose(field: str, value: str) -> re.Pattern[str]:
    chars = [re.escape(c) for c in value]
    if field in ("phone", "id_number"):
        body = r"[\s\-]?".join(chars)
        return re.compile(rf"(?<![0-9A-Za-z]){body}(?![0-9A-Za-z])", re.IGNORECASE)
    return re.compile("".join(chars))


def find_unmasked(field: str, value: str, text: str) -> list[tuple[int, int]]:
    """Spans where ``value`` occurs in full (digits may be separated by spaces or dashes)."""
    if not value:
        return []
    return [m.span() for m in _loose(field, value).finditer(text)]


@dataclass(frozen=True)
class Rendering:
    """A masked rendering of a value found in text."""

    text: str
    start: int
    revealed: int
    compliant: bool


def find_masked(field: str, value: str, text: str, rules: MaskingRules) -> list[Rendering]:
    """Masked renderings of ``value`` in ``text``: runs of its characters and mask characters that
    align with it (each mask run standing for one or more hidden characters)."""
    if not value:
        return []
    masks = rules.mask_chars
    alphabet = set(value) | set(value.upper()) | set(masks)
    run = re.compile("[" + "".join(re.escape(c) for c in sorted(alphabet)) + "]+")
    found: list[Rendering] = []
    limit = rules.max_revealed(field, len(value))
    for m in run.finditer(text):
        candidate = m.group(0)
        if not any(c in masks for c in candidate) or all(c in masks for c in candidate):
            continue
        if len(candidate) > len(value) + 8 or not _aligns(candidate, value, masks):
            continue
        revealed = sum(1 for c in candidate if c not in masks)
        found.append(Rendering(candidate, m.start(), revealed, revealed <= limit))
    return found


def _aligns(rendering: str, value: str, masks: str) -> bool:
    """Whether ``rendering`` is ``value`` with some runs of characters replaced by mask runs."""
    parts: list[str] = []
    i = 0
    while i < len(rendering):
        if rendering[i] in masks:
            while i < len(rendering) and rendering[i] in masks:
                i += 1
            parts.append(".+")
        else:
            parts.append(re.escape(rendering[i]))
            i += 1
    return re.fullmatch("".join(parts), value, re.IGNORECASE | re.DOTALL) is not None


def load_rules(config: Any) -> MaskingRules:
    """The masking rules from a loaded :class:`~zwaudit.config.loader.Config` (layered lookup)."""
    path: Path = config.data_file("masking.yaml")
    return parse_rules(config.read_data("masking.yaml"), path)


def shown_forms(text: str, personal: dict[str, str], rules: MaskingRules) -> list[str]:
    """Every form (full or masked) in which the account's values appear in ``text``: what a
    screenshot must paint over."""
    forms: set[str] = set()
    for field, value in personal.items():
        if not value:
            continue
        forms.add(value)
        kind = field if field in FIELDS else "name"
        forms.update(text[a:b] for a, b in find_unmasked(kind, value, text))
        if field in FIELDS:
            forms.update(r.text for r in find_masked(field, value, text, rules))
    return sorted(forms, key=len, reverse=True)


@dataclass(frozen=True)
class Sighting:
    """Where one of the account's values appears in a text, classified when it is read — its
    position, whether in full or masked, how many of its characters show — never the characters
    themselves: what an observation keeps so that a judge can decide without the personal data."""

    field: str
    start: int
    end: int
    form: str  # full | masked
    revealed: int  # characters of the value shown (all of them in full)
    length: int  # characters of the value

    def leaks(self, rules: MaskingRules) -> bool:
        """In full, or masked revealing more than every compliant style of ``rules`` allows."""
        return self.form == "full" or self.revealed > rules.max_revealed(self.field, self.length)


def sightings(field: str, value: str, text: str, rules: MaskingRules) -> list[Sighting]:
    """Every appearance of ``value`` in ``text``: in full first, then masked (``rules.mask_chars``
    recognise the masks; which masked ones comply is the judge's question, :meth:`Sighting.leaks`)."""
    out = [
        Sighting(field, a, b, "full", len(value), len(value)) for a, b in find_unmasked(field, value, text)
    ]
    out += [
        Sighting(field, r.start, r.start + len(r.text), "masked", r.revealed, len(value))
        for r in find_masked(field, value, text, rules)
    ]
    return out
