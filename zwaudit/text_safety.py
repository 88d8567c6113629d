"""Scraped text made safe to store and to show, without losing what it says.

Portal pages are hostile data: item names carry HTML/JS payloads, right-to-left overrides that
make a name read backwards, zero-width characters that make two names look alike, NUL bytes and
(through a page's JavaScript strings) lone UTF-16 surrogates; some names are 5,000 characters.

- :func:`storable`: what the databases cannot hold is replaced by U+FFFD — NUL (PostgreSQL text
  and JSONB refuse it) and lone surrogates (no UTF-8 encoding exists). Everything else, however
  long or strange, is stored whole.
- :func:`shown`: for display only (the report): invisible direction and width controls become a
  visible ``⟦U+202E⟧`` mark, other control characters too, and the text is cut to ``limit``
  characters with an ellipsis. HTML escaping is the template's job (Jinja2 autoescape).
"""

from __future__ import annotations

import re
from typing import Any

#: direction controls (embeddings, overrides, isolates, marks) and zero-width characters
INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\u061c\u180e\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
DISPLAY_CHARS = 300


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (nothing else changes)."""
    return _UNSTORABLE.sub("\ufffd", text)


def storable_value(value: Any) -> Any:
    """:func:`storable` applied to every string (keys too) of a JSON-like value."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_value(k): storable_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_value(v) for v in value]
    return value


def _mark(match: re.Match[str]) -> str:
    return f"⟦U+{ord(match.group()):04X}⟧"


def shown(text: object, limit: int = DISPLAY_CHARS) -> str:
    """``text`` for display: hidden controls made visible, cut to ``limit`` characters."""
    value = storable("" if text is None else str(text))
    value = _CONTROL.sub(_mark, INVISIBLE.sub(_mark, value))
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def safe_href(url: object) -> str | None:
    """``url`` when it may be a link target (http or https), else None: a scraped
    ``javascript:`` URL stays visible as text but is never clickable."""
    text = str(url or "").strip()
    return text if re.match(r"(?i)https?://", text) else None
