"""The portal's own catalogue, as the search judge needs it: which items answer a keyword.

A portal cannot be blamed for not finding an item it does not offer. The crawl stores every item
of the portal's catalogue (``service_item`` rows, channel ``portal``); the judge asks, for each
service of the national list in ``config/keywords.yaml`` (the *family* of what should match),
which of this portal's items answer it: the service's own patterns on the item name, or the
service's official name found in the (no shorter) item name by rapidfuzz (``partial_ratio`` over
normalised text, at or above ``catalogue_match_threshold``). A service no item answers is *not offered*: a
fact recorded in the finding, never a search failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz import fuzz

from probes.search.keywords import ExpectedService, KeywordRule, normalize_title


@dataclass(frozen=True)
class CatalogueItem:
    name: str
    code: str | None = None


@dataclass(frozen=True)
class Catalogue:
    """The portal's items and where they come from (the crawl of which run, when)."""

    items: tuple[CatalogueItem, ...]
    run_id: int | None = None
    fetched_at: datetime | None = None
    note: str = ""
    _norm: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_norm", tuple(normalize_title(i.name) for i in self.items))

    def answering(self, service: ExpectedService, threshold: float) -> list[CatalogueItem]:
        """This portal's items that answer ``service``."""
        wanted = normalize_title(service.name)
        return [
            item
            for item, norm in zip(self.items, self._norm, strict=True)
            if service.matches(item.name)
            or (len(norm) >= len(wanted) and fuzz.partial_ratio(wanted, norm) >= threshold)
        ]


@dataclass(frozen=True)
class Offer:
    """What the catalogue offers for one keyword: per expected service, the items that answer it,
    and how many items are relevant to the keyword at all (its ``relevant`` words)."""

    by_service: dict[str, list[CatalogueItem]]
    relevant: int = 0

    @property
    def nothing(self) -> bool:
        """The portal offers nothing the keyword asks for: no expected service, no relevant item."""
        return not self.relevant and not any(self.by_service.values())

    @property
    def not_offered(self) -> list[str]:
        return [name for name, items in self.by_service.items() if not items]

    @property
    def considered(self) -> int:
        return len({i.name for items in self.by_service.values() for i in items})

    def names(self, service: str) -> list[str]:
        return [normalize_title(i.name) for i in self.by_service.get(service, [])]


def offer(rule: KeywordRule, catalogue: Catalogue, threshold: float) -> Offer:
    relevant = sum(1 for item in catalogue.items if rule.is_relevant(item.name))
    return Offer({s.name: catalogue.answering(s, threshold) for s in rule.expected}, relevant)


def same_item(title: str, names: list[str], threshold: float) -> bool:
    """Whether a result title names one of the catalogue items (rapidfuzz ratio, normalised)."""
    norm = normalize_title(title)
    return any(norm == n or fuzz.ratio(norm, n) >= threshold for n in names)
