"""Judging one keyword's search results against its rule: a pure function, no browser.

搜不到 / 搜不全 / 搜不准 follow the header of ``config/keywords.yaml``. The observation says what a
person saw; when the observer could not tell (no search box, no recognisable result list and no
"no results" message, a timeout) the result is an ``error``, never a ``fail``. ``incomplete`` is
judged against what THIS portal's catalogue offers (:mod:`probes.search.catalogue`); without a
catalogue it is not judged, and the finding says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from probes.search.catalogue import Catalogue, Offer, offer, same_item
from probes.search.keywords import ExpectedService, KeywordRule
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
    """The measures of one keyword; ``codes`` are all that apply (each becomes its own finding)."""

    codes: tuple[str, ...]
    precision: float
    recall: float
    matched: dict[str, list[int]]  # expected service name → ranks (1-based) of the titles matching it
    irrelevant: list[int]  # ranks of the titles matching neither expected nor relevant
    not_offered: tuple[str, ...] = ()  # expected services this portal's catalogue does not offer
    judged_incomplete: bool = True  # False without a catalogue: incomplete needs one


def measure(
    rule: KeywordRule,
    titles: list[str],
    threshold: float,
    offered: Offer | None = None,
    match_threshold: float = 90.0,
) -> Verdict:
    """precision@N (share of results that are relevant), recall (share of offered services found).

    ``offered`` is what this portal's catalogue offers for the keyword; None = no catalogue, so
    ``incomplete`` is not judged (an item the portal may not offer cannot be missing from its search).
    """

    def hits(service: ExpectedService, title: str) -> bool:
        if service.matches(title):
            return True
        return offered is not None and same_item(title, offered.names(service.name), match_threshold)

    family = [n for s in rule.expected for n in (offered.names(s.name) if offered else [])]
    matched = {s.name: [i + 1 for i, t in enumerate(titles) if hits(s, t)] for s in rule.expected}
    irrelevant = [
        i + 1
        for i, t in enumerate(titles)
        if not rule.is_relevant(t) and not same_item(t, family, match_threshold)
    ]
    not_offered = tuple(offered.not_offered) if offered is not None else ()
    judged = [s.name for s in rule.expected if s.name not in not_offered]
    found = sum(1 for name in judged if matched[name])
    recall = found / len(judged) if judged else 1.0
    precision = (len(titles) - len(irrelevant)) / len(titles) if titles else 0.0
    codes: list[str] = []
    if not titles:
        if offered is None or not offered.nothing:  # nothing to find is not 搜不到
            codes.append("not_found")
    else:
        if offered is not None and found < len(judged):
            codes.append("incomplete")
        if len(irrelevant) / len(titles) > threshold:
            codes.append("imprecise")
    return Verdict(
        tuple(codes),
        round(precision, 4),
        round(recall, 4),
        matched,
        irrelevant,
        not_offered,
        offered is not None,
    )


def catalogue_detail(catalogue: Catalogue | None, offered: Offer | None, note: str) -> dict[str, Any]:
    """What the judgement knew of the portal's catalogue: the coverage an auditor reads."""
    if catalogue is None or offered is None:
        return {
            "available": False,
            "note": note or "no catalogue of this portal (no crawl stored its items)",
            "judged": ["not_found", "imprecise"],
        }
    return {
        "available": True,
        "run_id": catalogue.run_id,
        "fetched_at": catalogue.fetched_at.isoformat() if catalogue.fetched_at else None,
        "items": len(catalogue.items),
        "note": catalogue.note,
        "considered": {name: [i.name for i in items[:20]] for name, items in offered.by_service.items()},
    }


def judge_search(
    obs: SearchObservation,
    rule: KeywordRule,
    top_n: int,
    threshold: float,
    catalogue: Catalogue | None = None,
    *,
    catalogue_note: str = "",
    match_threshold: float = 90.0,
) -> list[Finding]:
    """One finding per (keyword, code) that applies, or one pass; errors stay one error.

    Each code is its own row, so an auditor filtering by code and the scorer both see every
    defect of the keyword (results both incomplete and imprecise are two findings).
    """
    base: dict[str, Any] = {"page_url": obs.page_url, "how": obs.how}
    if obs.error is not None:
        return [
            Finding(
                PROBE,
                obs.keyword,
                Status.ERROR,
                obs.error.value,
                {"error": obs.error_message, **base},
                obs.evidence,
            )
        ]
    top = obs.results[:top_n]
    if not top and obs.empty_message is None:
        message = "no result list and no 'no results' message recognised after searching"
        return [
            Finding(
                PROBE,
                obs.keyword,
                Status.ERROR,
                ErrorKind.NOT_FOUND.value,
                {"error": message, **base},
                obs.evidence,
            )
        ]
    titles = [r.title for r in top]
    offered = offer(rule, catalogue, match_threshold) if catalogue is not None else None
    verdict = measure(rule, titles, threshold, offered, match_threshold)
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
        "missing": [
            name for name, ranks in verdict.matched.items() if not ranks and name not in verdict.not_offered
        ],
        "not_offered": list(verdict.not_offered),
        "irrelevant_ranks": verdict.irrelevant,
        "catalogue": catalogue_detail(catalogue, offered, catalogue_note),
        "coverage": {
            "catalogue_items_considered": offered.considered if offered else None,
            "not_offered": len(verdict.not_offered) if offered else None,
        },
    }
    if not verdict.judged_incomplete:
        detail["missing"] = []  # not judged: the portal's offer is unknown
    if offered is not None and offered.nothing:
        detail["nothing_offered"] = True  # no item of the keyword's family in the catalogue
    if obs.empty_message is not None and not top:
        detail["empty_message"] = obs.empty_message
    if not verdict.codes:
        return [Finding(PROBE, obs.keyword, Status.PASS, None, detail, obs.evidence)]
    return [
        Finding(PROBE, obs.keyword, Status.FAIL, code, dict(detail), list(obs.evidence))
        for code in verdict.codes
    ]
