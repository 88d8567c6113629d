"""Search judgement against the portal's own catalogue (issue 13), for the ground truth.

An expected service of ``config/keywords.yaml`` that no item of this portal answers is *not
offered*: it cannot make the keyword ``incomplete``, and is recorded in the ground truth's notes.
Every failing code is its own expectation (``incomplete`` and ``imprecise`` can both hold). Kept
apart from :mod:`sandbox.search` (the engine and the sandbox-1 rule) so that either can change
alone.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from sandbox.plan import Plan
from sandbox.search import CONFIG_DIR, keyword_rules, normalise


def catalogue_split(plan: Plan, keyword: str) -> tuple[list[tuple[str, ...]], list[str]]:
    """The keyword's expected services this portal's catalogue offers (their patterns), and the
    names of those it does not offer: an item the portal lacks cannot be missing from its search."""
    rule = keyword_rules().rules[keyword]
    names = [normalise(it.name) for it in plan.items]
    raw: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "keywords.yaml").read_text(encoding="utf-8"))
    labels = [str(e.get("name", "")) for e in raw["keywords"][keyword].get("expected", [])]
    have, lacking = [], []
    for label, patterns in zip(labels, rule.expected, strict=True):
        if any(re.search(p, n) for p in patterns for n in names):
            have.append(patterns)
        else:
            lacking.append(label)
    return have, lacking


def judge_offered(plan: Plan, keyword: str, titles: list[str]) -> list[str]:
    """Every failing code for one keyword, judged against the portal's own catalogue (issue 13):
    ``not_found`` alone on no result; otherwise ``incomplete`` when an offered expected service is
    absent from the top results, and ``imprecise`` when irrelevant results dominate — both can hold."""
    rules = keyword_rules()
    rule = rules.rules[keyword]
    top = [normalise(t) for t in titles[: rules.top_n]]
    if not top:
        return ["not_found"]
    have, _ = catalogue_split(plan, keyword)
    codes = []
    if any(not any(re.search(p, t) for p in patterns for t in top) for patterns in have):
        codes.append("incomplete")
    good = [p for pats in rule.expected for p in pats] + list(rule.relevant)
    noise = sum(1 for t in top if not any(re.search(p, t) for p in good))
    if noise / len(top) > rules.threshold:
        codes.append("imprecise")
    return codes
