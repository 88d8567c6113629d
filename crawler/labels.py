"""Guide-element labels: the portal's own words mapped onto GB/T 39046 names.

A person recognises a guide page by its labels (事项名称, 申请材料, 办理时间 …), not by class names;
so does the crawler. The aliases come from ``config/guide_elements.yaml``; a portal profile adds
its own under ``crawl.api.field_aliases`` (``{normalised name: [alias, …]}``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# characters around a label that carry no meaning: colons, stars of required fields, brackets
_LABEL_JUNK = re.compile(r"[\s:：*＊·•【】\[\]]+")
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Full-width → half-width (NFKC), spaces collapsed and trimmed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def label_key(text: str) -> str:
    """The comparable form of a label: NFKC, no colons, stars or spaces, lower-case (JSON keys)."""
    return _LABEL_JUNK.sub("", unicodedata.normalize("NFKC", text)).lower()


@dataclass(frozen=True)
class GuideElements:
    """The element vocabulary: normalised name → required flag, and alias → normalised name."""

    required: frozenset[str]
    names: tuple[str, ...]
    alias_to_name: Mapping[str, str] = field(default_factory=dict)
    schema: frozenset[str] = frozenset()  # elements the national exchange schema defines

    @classmethod
    def from_data(cls, data: Any, extra_aliases: Mapping[str, Iterable[str]] | None = None) -> GuideElements:
        """Build from the parsed ``guide_elements.yaml`` (and a profile's extra aliases)."""
        elements = data.get("elements", {}) if isinstance(data, dict) else {}
        if not isinstance(elements, dict) or not elements:
            raise ValueError("guide_elements.yaml: 'elements' must be a non-empty mapping")
        alias_to_name: dict[str, str] = {}
        required: set[str] = set()
        schema: set[str] = set()
        for name, spec in elements.items():
            spec = {} if spec is None else spec
            if not isinstance(spec, dict):
                raise ValueError(f"guide_elements.yaml: elements.{name} must be a mapping")
            unknown = set(spec) - {"required", "schema", "aliases"}
            if unknown:
                raise ValueError(f"guide_elements.yaml: elements.{name}: unknown key {sorted(unknown)[0]!r}")
            if not isinstance(spec.get("required", False), bool):
                raise ValueError(f"guide_elements.yaml: elements.{name}.required must be true or false")
            aliases = spec.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise ValueError(f"guide_elements.yaml: elements.{name}.aliases must be a list of texts")
            if spec.get("required"):
                required.add(name)
            if spec.get("schema"):
                schema.add(name)
            for alias in [name, *aliases]:
                alias_to_name[label_key(str(alias))] = name
        for name, aliases in (extra_aliases or {}).items():
            if name not in elements:
                raise ValueError(f"crawl.api.field_aliases: unknown element {name!r}")
            for alias in aliases:
                alias_to_name[label_key(str(alias))] = name
        return cls(frozenset(required), tuple(elements), alias_to_name, frozenset(schema))

    def element_for(self, label: str) -> str | None:
        """The normalised element a label or JSON key stands for, if any."""
        key = label_key(label)  # trimmed before the length cap: labels come padded with spaces
        if not key or len(key) > 40:
            return None
        return self.alias_to_name.get(key)

    def split_label(self, text: str) -> tuple[str, str] | None:
        """``"办理时间：工作日"`` → ``("办理时间", "工作日")`` when the prefix is a known label."""
        for sep in ("：", ":"):
            head, found, tail = text.partition(sep)
            if found and head.strip():
                name = self.element_for(head)
                if name is not None:
                    return name, tail.strip()
        return None
