"""Charts as inline SVG: no JavaScript, no CDN, nothing to load — the report works offline and
prints as it shows. Values are on the evaluators' 0–100 scale; a missing value is drawn as
"缺失", never as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

MISSING = "缺失"
_FONT = "font-family=\"'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei',sans-serif\""


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _tone(value: float) -> str:
    """Colour by the evaluators' bands: >90 非常高, 80–90 高, below that 中/低."""
    if value > 90:
        return "#1a7f37"
    if value >= 80:
        return "#2f6feb"
    if value >= 60:
        return "#d29922"
    return "#cf222e"


def bar_chart(
    items: Sequence[tuple[str, float | None]],
    *,
    width: int = 520,
    label_width: int = 170,
    row: int = 26,
    scale_max: float = 100.0,
    title: str = "",
) -> Markup:
    """Horizontal bars, one per (label, value)."""
    height = row * len(items) + 8
    bar_room = width - label_width - 56
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bar" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {_FONT} font-size="13">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        parts.append(
            f'<text x="{label_width - 8}" y="{y + row / 2 + 4:.0f}" text-anchor="end" fill="#24292f">'
            f"{escape(label)}</text>"
        )
        parts.append(
            f'<rect x="{label_width}" y="{y + 4}" width="{bar_room}" height="{row - 10}" fill="#eaeef2" rx="3"/>'
        )
        if value is None:
            parts.append(
                f'<text x="{label_width + 6}" y="{y + row / 2 + 4:.0f}" fill="#57606a" font-style="italic">'
                f"{MISSING}</text>"
            )
            continue
        share = max(0.0, min(value / scale_max, 1.0))
        parts.append(
            f'<rect x="{label_width}" y="{y + 4}" width="{bar_room * share:.1f}" height="{row - 10}" '
            f'fill="{_tone(value)}" rx="3"/>'
        )
        parts.append(
            f'<text x="{label_width + bar_room + 6}" y="{y + row / 2 + 4:.0f}" fill="#24292f">{_fmt(value)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def radar_chart(
    axes: Sequence[tuple[str, float | None]], *, size: int = 320, scale_max: float = 100.0, title: str = ""
) -> Markup:
    """A radar of first-level indicators; needs three axes or more (else use :func:`bar_chart`)."""
    if len(axes) < 3:
        return bar_chart(axes, title=title)
    width = size + 260  # room for labels of up to ~10 Chinese characters left and right
    cx, cy = width / 2, size / 2
    radius = size / 2 - 44
    n = len(axes)

    def point(i: int, fraction: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        return cx + radius * fraction * math.cos(angle), cy + radius * fraction * math.sin(angle)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart radar" width="{width}" height="{size}" '
        f'viewBox="0 0 {width} {size}" role="img" aria-label="{escape(title)}" {_FONT} font-size="12">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for ring in (0.25, 0.5, 0.75, 1.0):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, ring) for i in range(n)))
        parts.append(f'<polygon points="{pts}" fill="none" stroke="#d0d7de" stroke-width="1"/>')
    for i, (label, value) in enumerate(axes):
        x, y = point(i, 1.0)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>')
        lx, ly = point(i, 1.18)
        anchor = "middle" if abs(lx - cx) < 10 else ("start" if lx > cx else "end")
        shown = _fmt(value) if value is not None else MISSING
        parts.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" fill="#24292f">{escape(label)}</text>'
            f'<text x="{lx:.1f}" y="{ly + 14:.1f}" text-anchor="{anchor}" fill="#57606a">{shown}</text>'
        )
    present = [(i, v) for i, (_, v) in enumerate(axes) if v is not None]
    if present:
        pts = " ".join(
            f"{x:.1f},{y:.1f}"
            for x, y in (point(i, max(0.0, min((v or 0.0) / scale_max, 1.0))) for i, v in present)
        )
        parts.append(
            f'<polygon points="{pts}" fill="#2f6feb" fill-opacity="0.25" stroke="#2f6feb" stroke-width="2"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def status_strip(counts: dict[str, int], *, width: int = 240, height: int = 14) -> Markup:
    """A stacked strip of pass / fail / error / n.a. counts."""
    colours = {"pass": "#1a7f37", "fail": "#cf222e", "error": "#d29922", "not_applicable": "#8c959f"}
    total = sum(counts.get(k, 0) for k in colours)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart strip" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    if total == 0:
        parts.append(f'<rect width="{width}" height="{height}" fill="#eaeef2" rx="3"/>')
    x = 0.0
    for key, colour in colours.items():
        share = counts.get(key, 0) / total if total else 0.0
        if share <= 0:
            continue
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{width * share:.1f}" height="{height}" fill="{colour}">'
            f"<title>{key}: {counts.get(key, 0)}</title></rect>"
        )
        x += width * share
    parts.append("</svg>")
    return Markup("".join(parts))
