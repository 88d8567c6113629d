"""Search judgement against the portal's own catalogue (issue 13), for the ground truth.

An expected service of ``config/keywords.yaml`` that no item of this portal answers is *not
offered*: it cannot make the keyword ``incomplete``, and is recorded in the ground truth's notes.
The codes themselves are judged by :func:`sandbox.search.judge`; this module only splits a
keyword's expected services into offered and not offered.
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
