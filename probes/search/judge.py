"""Judging one keyword's search results against its rule: a pure function, no browser.

搜不到 / 搜不全 / 搜不准 follow the header of ``config/keywords.yaml``. The observation says what a
person saw; when the observer could not tell (no search box, no recognisable result list and no
"no results" message, a timeout) the result is an ``error``, never a ``fail``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from probes.search.keywords import KeywordRule
from zwaudit.findings import EvidenceRef, Finding
from zwaudit.outcomes import ErrorKind, Status

PROBE = "search_accuracy"


@dataclass(frozen=True)
class SearchResult:
    """One result as a person reads it: its title and, when it is a link, where it leads."""

    title: str
    url: str | None = None


@dataclass
class SearchObservation:
    """What the browser saw after searching one keyword.

    ``empty_message`` is the "no results" text the page showed (``没有找到相关结果``, ``共0条``);
    an empty ``results`` without it means the observer could not read the page, not that the
    portal found nothing.
    """

    keyword: str
    results: list[SearchResult] = field(default_factory=list)
    empty_message: str | None = None
    page_url: str | None = None
    error: ErrorKind | None = None
    error_message: str = ""
    how: dict[str, Any] = field(default_factory=dict)  # how the box, submit and list were found
    evidence: list[EvidenceRef] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """The measures of one keyword; ``codes`` are all that apply, highest precedence first."""

    codes: tuple[str, ...]
    precision: float
    recall: float
    matched: dict[str, list[int]]  # expected service name → ranks (1-based) of the titles matching it
    irrelevant: list[int]  # ranks of the titles matching neither expected nor relevant


def measure(rule: KeywordRule, titles: list[str], threshold: float) -> Verdict:
    """precision@N (share of results that are relevant), recall (share of expected services found)."""
    matched = {s.name: [i + 1 for i, t in enumerate(titles) if s.matches(t)] for s in rule.expected}
    irrelevant = [i + 1 for i, t in enumerate(titles) if not rule.is_relevant(t)]
    found = sum(1 for ranks in matched.values() if ranks)
    recall = found / len(rule.expected) if rule.expected else 1.0
    precision = (len(titles) - len(irrelevant)) / len(titles) if titles else 0.0
    codes: list[str] = []
    if not titles:
        codes.append("not_found")
    else:
        if found < len(rule.expected):
            codes.append("incomplete")
        if len(irrelevant) / len(titles) > threshold:
            codes.append("imprecise")
    return Verdict(tuple(codes), round(precision, 4), round(recall, 4), matched, irrelevant)


def judge_search(obs: SearchObservation, rule: KeywordRule, top_n: int, threshold: float) -> Finding:
    """One finding per keyword: the highest-precedence code, or a pass; errors stay errors."""
    base: dict[str, Any] = {"page_url": obs.page_url, "how": obs.how}
    if obs.error is not None:
        return Finding(
            PROBE,
            obs.keyword,
            Status.ERROR,
            obs.error.value,
            {"error": obs.error_message, **base},
            obs.evidence,
        )
    top = obs.results[:top_n]
    if not top and obs.empty_message is None:
        message = "no result list and no 'no results' message recognised after searching"
        return Finding(
            PROBE,
            obs.keyword,
            Status.ERROR,
            ErrorKind.NOT_FOUND.value,
            {"error": message, **base},
            obs.evidence,
        )
    titles = [r.title for r in top]
    verdict = measure(rule, titles, threshold)
    detail: dict[str, Any] = {
        **base,
        "top_n": top_n,
        "imprecise_threshold": threshold,
        "results_read": len(titles),
        "precision_at_n": verdict.precision,
        "recall": verdict.recall,
        "titles": titles,
        "result_urls": [r.url for r in top],
        "matched": {name: ranks for name, ranks in verdict.matched.items() if ranks},
        "missing": [name for name, ranks in verdict.matched.items() if not ranks],
        "irrelevant_ranks": verdict.irrelevant,
    }
    if obs.empty_message is not None and not top:
        detail["empty_message"] = obs.empty_message
    if not verdict.codes:
        return Finding(PROBE, obs.keyword, Status.PASS, None, detail, obs.evidence)
    detail["also"] = list(verdict.codes[1:])
    return Finding(PROBE, obs.keyword, Status.FAIL, verdict.codes[0], detail, obs.evidence)
