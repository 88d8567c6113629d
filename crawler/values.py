"""What a person reads as a guide value: the text of a cell without the controls beside it.

Real guide pages put controls and hints next to a value (``<span>10</span>个工作日 <span
title="承诺办结时限说明">查看时限说明</span>``, 展开 / 收起 / 更多 links, buttons, tooltips); none of it
is part of the value. Numbers and units split across elements (``<span>20</span>个工作日``) read
as one word. Materials listed as one small table per material (``ol > li > table``) read as the
material's name. A fee shown only as a badge (``不收费``) reads as 是否收费.
"""

from __future__ import annotations

import re
from typing import Any

from crawler.labels import fold

# The whole text of a control: 查看时限说明, 点击查看详情, 展开, 收起全部, 更多>>, [详情]
CONTROL_TEXT = re.compile(
    r"^[\[【(（]?(?:点击)?(?:查看(?:\S{0,8}?(?:说明|详情|全部|更多))?|展开(?:全部|更多)?|收起(?:全部)?"
    r"|更多|详情)\s*(?:>>|»|>)?[\]】)）]?$"
)
CONTROL_TAGS = frozenset({"button", "input", "select", "textarea", "script", "style", "noscript", "template"})
_INVISIBLE = frozenset({"script", "style", "noscript", "template"})
CONTROL_ROLES = frozenset({"button", "tooltip", "switch", "tab"})
INLINE_TAGS = frozenset(
    {
        "span",
        "b",
        "strong",
        "em",
        "i",
        "font",
        "a",
        "sup",
        "sub",
        "label",
        "u",
        "small",
        "big",
        "code",
        "abbr",
    }
)
_TRAILING_CONTROL = re.compile(
    r"(?:\s*(?:点击)?查看\S{0,8}?(?:说明|详情)|(?:^|\s+)(?:展开全部|展开|收起|更多>*))\s*$"
)
# 是否收费 read from a badge when no label says it. A bare 收费 is not a badge: it is how section
# headings read (许可收费, 收费), and a heading says that the page talks about fees, not that there is one.
FEE_BADGES = {"不收费": "否", "免费": "否", "免收费": "否", "无收费": "否", "不收取费用": "否"}


def is_control(el: Any) -> bool:
    """Whether ``el`` is a control or hint rather than content (by tag, role or its whole text)."""
    if not isinstance(el.tag, str):
        return True  # comments, processing instructions
    if el.tag in CONTROL_TAGS or (el.get("role") or "").lower() in CONTROL_ROLES:
        return True
    return _hint(el)


def value_text(el: Any) -> str:
    """The visible text of a value element without its controls; inline pieces joined as read."""
    if is_control(el):
        return ""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and not is_control(child):
                block = child.tag not in INLINE_TAGS
                if block or child.tag == "br":
                    parts.append(" ")
                walk(child)
                if block:
                    parts.append(" ")
            if child.tail:
                parts.append(child.tail)

    walk(el)
    text = _TRAILING_CONTROL.sub("", fold("".join(parts)))
    if not text and not CONTROL_TEXT.match(fold(el.text_content() or "")):
        # nothing left but buttons: a value drawn as a button or tag (<button>不收费</button>)
        text = _TRAILING_CONTROL.sub("", fold(" ".join(el.itertext())))
    return text


def _hint(el: Any) -> bool:
    """A hint or action beside a label (更多, 展开, 查看…说明), by its whole text."""
    if len(el) > 2:
        return False
    text = fold(el.text_content() or "")
    return bool(text) and len(text) <= 16 and CONTROL_TEXT.match(text) is not None


def label_text(el: Any) -> str:
    """The text a person reads as a label: all of it, trimmed, without the hints beside it (更多)
    and scripts; a button's text counts (accordion headers are buttons)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and child.tag not in _INVISIBLE and not _hint(child):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return fold(" ".join(parts))


def material_from_table(table: Any) -> str:
    """The material's name in one small table: the cell after a 名称 label, else the first text cell."""
    cells = [c for c in table.iter("td", "th")]
    texts = [value_text(c) for c in cells]
    for i, text in enumerate(texts[:-1]):
        if "名称" in text and len(text) <= 8 and texts[i + 1]:
            return texts[i + 1]
    return next((t for t in texts if t and not t.isdigit()), "")


def fee_badge(root: Any) -> str | None:
    """是否收费 from a badge (an element whose whole text is 不收费 / 免费 …), if any.

    Only the badges that say "no fee" count: a page that charges says so in a labelled value
    (是否收费：是, a 收费标准 table), and a heading 收费 above a 不收费 badge must not read as 是.
    """
    for el in root.iter():
        if isinstance(el.tag, str) and len(el) == 0 and el.tag not in CONTROL_TAGS:
            value = FEE_BADGES.get(fold(el.text or ""))
            if value is not None:
                return value
    return None


_NO_FEE_TEXT = re.compile(r"不收费|免费|免收|无收费|不收取|^无$|^否$")


def fee_stated(value: Any) -> bool:
    """Whether a 收费标准 value states a fee (an amount or a standard), not "no fee" or nothing."""
    text = fold(" ".join(map(str, value)) if isinstance(value, list) else str(value or ""))
    return len(text) >= 2 and _NO_FEE_TEXT.search(text) is None
