"""The provinces' search engines, and the evaluators' judging rule used to derive the ground truth.

The engine is deliberately ordinary: phrase match on titles, optional synonym expansion, optional
full-text match on the guide body (which is what makes results imprecise on real portals). The
verdict written to the ground truth is computed by running the engine and applying the rule of
``config/keywords.yaml`` against the province's own catalogue (its items), so it is exact by
construction; every code that applies is one expectation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz

from sandbox.catalogue import Item
from sandbox.plan import Plan

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


@dataclass(frozen=True)
class KeywordRule:
    keyword: str
    expected: tuple[tuple[str, ...], ...]  # per expected service, its patterns
    relevant: tuple[str, ...]
    names: tuple[str, ...] = ()  # per expected service, its official name


@dataclass(frozen=True)
class KeywordRules:
    top_n: int
    threshold: float
    rules: dict[str, KeywordRule]
    match_threshold: float = 90.0


@cache
def keyword_rules() -> KeywordRules:
    raw: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "keywords.yaml").read_text(encoding="utf-8"))
    rules = {
        kw: KeywordRule(
            kw,
            tuple(tuple(e["match"]) for e in spec.get("expected", [])),
            tuple(spec.get("relevant", [])),
            tuple(e["name"] for e in spec.get("expected", [])),
        )
        for kw, spec in raw["keywords"].items()
    }
    return KeywordRules(
        int(raw["top_n"]),
        float(raw["imprecise_threshold"]),
        rules,
        float(raw.get("catalogue_match_threshold", 90)),
    )


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


def offered(rule: KeywordRule, catalogue: list[str], threshold: float) -> list[list[str]]:
    """Per expected service, the catalogue names that answer it (its patterns, or its name inside)."""
    names = [normalise(n) for n in catalogue]
    return [
        [
            n
            for n in names
            if any(re.search(p, n) for p in patterns)
            or (len(n) >= len(normalise(name)) and fuzz.partial_ratio(normalise(name), n) >= threshold)
        ]
        for name, patterns in zip(rule.names, rule.expected, strict=True)
    ]


def _names(title: str, names: list[str], threshold: float) -> bool:
    return any(title == n or fuzz.ratio(title, n) >= threshold for n in names)


def judge(keyword: str, titles: list[str], catalogue: list[str]) -> list[str]:
    """Every code for one keyword over the result titles, as config/keywords.yaml states it
    (``[]`` = pass): an expected service the catalogue does not offer is never ``incomplete``."""
    rules = keyword_rules()
    rule = rules.rules[keyword]
    top = [normalise(t) for t in titles[: rules.top_n]]
    threshold = rules.match_threshold
    offers = offered(rule, catalogue, threshold)
    good = [p for pats in rule.expected for p in pats] + list(rule.relevant)
    if not top:
        nothing = not any(offers) and not any(re.search(p, normalise(n)) for n in catalogue for p in good)
        return [] if nothing else ["not_found"]  # nothing to find is not 搜不到
    codes: list[str] = []
    for patterns, names in zip(rule.expected, offers, strict=True):
        if names and not any(
            any(re.search(p, t) for p in patterns) or _names(t, names, threshold) for t in top
        ):
            codes.append("incomplete")
            break
    family = [n for names in offers for n in names]
    noise = sum(1 for t in top if not any(re.search(p, t) for p in good) and not _names(t, family, threshold))
    if noise / len(top) > rules.threshold:
        codes.append("imprecise")
    return codes
