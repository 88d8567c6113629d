"""The provinces' search engines, and the evaluators' judging rule used to derive the ground truth.

The engine is deliberately ordinary: phrase match on titles, optional synonym expansion, optional
full-text match on the guide body (which is what makes results imprecise on real portals). The
verdict written to the ground truth is computed by running the engine and applying the rule of
``config/keywords.yaml``, so it is exact by construction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from sandbox.catalogue import Item
from sandbox.plan import Plan

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


@dataclass(frozen=True)
class KeywordRule:
    keyword: str
    expected: tuple[tuple[str, ...], ...]  # per expected service, its patterns
    relevant: tuple[str, ...]


@dataclass(frozen=True)
class KeywordRules:
    top_n: int
    threshold: float
    rules: dict[str, KeywordRule]


@cache
def keyword_rules() -> KeywordRules:
    raw: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "keywords.yaml").read_text(encoding="utf-8"))
    rules = {
        kw: KeywordRule(
            kw,
            tuple(tuple(e["match"]) for e in spec.get("expected", [])),
            tuple(spec.get("relevant", [])),
        )
        for kw, spec in raw["keywords"].items()
    }
    return KeywordRules(int(raw["top_n"]), float(raw["imprecise_threshold"]), rules)


def normalise(title: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", title))


def _body(plan: Plan, item: Item) -> str:
    guide = plan.portal_guide(item)
    return " ".join([*guide.fields.values(), *guide.materials])


def search(plan: Plan, query: str) -> list[Item]:
    """The province's search: ranked results (title phrase, then synonyms, then body hits)."""
    query = query.strip()
    if not query:
        return []
    listed = list(plan.items)
    terms = [query, *plan.synonyms.get(query, ())]
    ranked: list[Item] = []
    for term in terms:
        ranked += [it for it in listed if term in it.name and it not in ranked]
    if plan.fulltext_search:
        ranked += [it for it in listed if query in _body(plan, it) and it not in ranked]
    return ranked


def judge(keyword: str, titles: list[str]) -> tuple[str, str | None]:
    """``(status, code)`` for one keyword over the result titles, as config/keywords.yaml states it."""
    rules = keyword_rules()
    rule = rules.rules[keyword]
    top = [normalise(t) for t in titles[: rules.top_n]]
    if not top:
        return "fail", "not_found"
    for patterns in rule.expected:
        if not any(re.search(p, t) for p in patterns for t in top):
            return "fail", "incomplete"
    good = [p for pats in rule.expected for p in pats] + list(rule.relevant)
    noise = sum(1 for t in top if not any(re.search(p, t) for p in good))
    if noise / len(top) > rules.threshold:
        return "fail", "imprecise"
    return "pass", None
