"""Comparing guide values by meaning, not by string (数据同源 compares what a person understands).

``10个工作日`` and ``10 个工作日`` are the same time limit; ``0826-2345678`` and ``(0826)2345678``
the same phone; an address written with other punctuation or one more word is the same address.
Each element has a *kind* (``config/data_same_source.yaml: field_kinds``):

- ``time_limit``: every (number, unit) the text states — units 工作日, 自然日 (日/天), 个月, 年, 小时,
  and 即办 (当场/即时办结) — compared as sets; a bare number (an API value without its unit) equals
  a text stating that number in any unit; text without a number falls back to ``text``;
- ``phone``: the set of digit sequences of 5 digits or more (separators, brackets and words dropped);
- ``yes_no``: 是/否 (收费, 免费, 不收费, 无 …; ``1``/``0``, ``Y``/``N``, true/false as APIs write them);
- ``list``: sets of normalised entries, each matched to one on the other side by rapidfuzz;
- ``text`` (default): rapidfuzz ratio of the normalised texts at or above ``text_match_threshold``,
  with the same numbers in both (a fee of 10元 is never "alike" one of 20元).
"""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz import fuzz

from probes.catalogue.common import compare_key, fold

_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = (
    ("工作日", "工作日"),
    ("个工作日", "工作日"),
    ("自然日", "自然日"),
    ("日", "自然日"),
    ("天", "自然日"),
    ("个月", "月"),
    ("月", "月"),
    ("年", "年"),
    ("小时", "小时"),
)
_LIMIT = re.compile(
    r"(\d+(?:\.\d+)?|[零一二两三四五六七八九十百]+)\s*(个工作日|工作日|自然日|个月|小时|日|天|月|年)"
)
_AT_ONCE = re.compile(r"即办|即时办结|当场办结|当场办理|立即办结")
_DIGITS = re.compile(r"\d[\d\-\s()（）—]{3,}\d")
# flags as the portals' JSON APIs write them too (IS_FEE: "0"/"1", "N"/"Y", true/false)
_NO = re.compile(r"^(否|不收费|免费|免收费|无|无收费|不收取.*|不收|0|n|no|false)$")
_YES = re.compile(r"^(是|收费|收取.*|1|y|yes|true)$")
_BARE_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")


def chinese_number(text: str) -> float | None:
    """``二十`` → 20, ``十五`` → 15, ``三`` → 3 (the numbers guide pages write out)."""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return float(total + current)


def time_limits(text: str) -> frozenset[tuple[float, str]] | None:
    """Every (number, unit) a time-limit text states; None when it states none."""
    norm = fold(text)
    found: set[tuple[float, str]] = set()
    for number, unit in _LIMIT.findall(norm):
        value = chinese_number(number)
        if value is not None:
            found.add((value, dict(_UNITS)[unit]))
    if _AT_ONCE.search(norm):
        found.add((0.0, "即办"))
    return frozenset(found) or None


def _bare_number(text: str) -> float | None:
    m = _BARE_NUMBER.match(fold(text))
    return float(m.group(1)) if m else None


def phones(text: str) -> frozenset[str]:
    return frozenset(d for d in (re.sub(r"\D", "", m) for m in _DIGITS.findall(fold(text))) if len(d) >= 5)


def yes_no(text: str) -> str | None:
    key = compare_key(text)
    if _NO.match(key):
        return "否"
    if _YES.match(key):
        return "是"
    return None


def _close(ka: str, kb: str, threshold: float) -> bool:
    """Equal, or alike by rapidfuzz with the same numbers (a fee of 10元 is not one of 20元)."""
    if ka == kb:
        return True
    return re.findall(r"\d+", ka) == re.findall(r"\d+", kb) and fuzz.ratio(ka, kb) >= threshold


def same_text(a: str, b: str, threshold: float) -> bool:
    return _close(compare_key(a), compare_key(b), threshold)


def same_list(a: list[Any], b: list[Any], threshold: float) -> bool:
    """Each entry on either side has a counterpart on the other (normalised, rapidfuzz)."""
    left = [compare_key(str(v)) for v in a if compare_key(str(v))]
    right = [compare_key(str(v)) for v in b if compare_key(str(v))]

    def covered(xs: list[str], ys: list[str]) -> bool:
        return all(any(_close(x, y, threshold) for y in ys) for x in xs)

    return covered(left, right) and covered(right, left)


def same_value(kind: str, a: Any, b: Any, threshold: float) -> bool:
    """Whether two channels' values of one element mean the same."""
    if isinstance(a, list) or isinstance(b, list) or kind == "list":
        return same_list(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b], threshold)
    left, right = str(a), str(b)
    if kind == "time_limit":
        la, lb = time_limits(left), time_limits(right)
        if la is not None and lb is not None:
            return la == lb
        bare = _bare_number(left) if lb is not None else _bare_number(right) if la is not None else None
        if bare is not None:
            # a number whose unit the channel did not show (an API's PROMISE_DAY without its
            # PROMISE_TYPE_TEXT): the unit is unknown, so only a different number is a difference
            return any(number == bare for number, _ in (lb if la is None else la) or ())
    elif kind == "phone":
        pa, pb = phones(left), phones(right)
        if pa and pb:
            return pa == pb
    elif kind == "yes_no":
        ya, yb = yes_no(left), yes_no(right)
        if ya is not None and yb is not None:
            return ya == yb
    return same_text(left, right, threshold)
