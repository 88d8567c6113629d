"""An auditor's CSV of values for leaves that cannot be observed from outside.

Columns: ``portal_id, framework, indicator, value, source, entered_by[, note]`` (UTF-8, a BOM
from Excel is fine). ``indicator`` is a leaf id or a name unique in its framework. Every error
names the file, the line and the column, and nothing is stored unless the whole file is valid.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Collection
from pathlib import Path

from scoring.framework import Framework
from scoring.store import ManualEntry
from zwaudit.errors import ConfigError

REQUIRED = ("portal_id", "framework", "indicator", "value", "source", "entered_by")
OPTIONAL = ("note",)


def read_manual_csv(
    path: Path, framework_of: Callable[[str], Framework], portals: Collection[str]
) -> list[ManualEntry]:
    """Parse and validate the CSV; ``framework_of`` loads a framework by id (or raises)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", "not UTF-8 text (save the CSV as UTF-8)") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ConfigError(path, "line 1", f"missing column(s): {', '.join(missing)}")
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise ConfigError(path, "line 1", f"unknown column(s): {', '.join(unknown)}")
    reader.fieldnames = header
    entries: list[ManualEntry] = []
    seen: dict[tuple[str, str, str], int] = {}
    for row in reader:
        line = reader.line_num
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if None in row:
            raise ConfigError(path, f"line {line}", "more cells than columns")

        def fail(column: str, message: str, line: int = line) -> ConfigError:
            return ConfigError(path, f"line {line}, column {column}", message)

        if not any(cells.values()):
            continue
        for column in REQUIRED:
            if not cells.get(column):
                raise fail(column, "empty")
        portal_id = cells["portal_id"]
        if portal_id not in portals:
            raise fail("portal_id", f"unknown portal {portal_id!r}")
        try:
            framework = framework_of(cells["framework"])
        except ConfigError as exc:
            raise fail(
                "framework", f"unknown or invalid framework {cells['framework']!r} ({exc.message})"
            ) from exc
        node = framework.resolve(cells["indicator"])
        if node is None:
            raise fail("indicator", f"unknown indicator {cells['indicator']!r} in {framework.id}")
        if not (node.is_leaf and node.spec.manual):
            raise fail("indicator", f"{node.id} ({node.name}) is not a manual leaf of {framework.id}")
        value = _value(cells["value"], node.spec.method or "", fail)
        key = (portal_id, framework.id, node.id)
        if key in seen:
            raise fail("indicator", f"{node.id} for {portal_id} is already given on line {seen[key]}")
        seen[key] = line
        entries.append(
            ManualEntry(
                portal_id,
                framework.id,
                node.id,
                value,
                cells["source"],
                cells["entered_by"],
                cells.get("note", ""),
            )
        )
    return entries


def _value(text: str, method: str, fail: Callable[[str, str], ConfigError]) -> float:
    try:
        value = float(text.replace(",", "").removesuffix("%"))
    except ValueError:
        raise fail("value", f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise fail("value", f"not a finite number: {text!r}")
    if method == "binary" and value not in (0.0, 1.0):
        raise fail("value", f"a √/× leaf takes 1 or 0, got {text!r}")
    if method == "score" and not 0.0 <= value <= 100.0:
        raise fail("value", f"a score is between 0 and 100, got {text!r}")
    if value < 0:
        raise fail("value", f"cannot be negative: {text!r}")
    return value
