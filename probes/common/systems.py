"""Department systems: what ``duplicate_login`` samples and reports coverage over.

A department system is where its entries live: the host, plus the application's path prefix
(``https://zwfw.gov.cn/gaj/wsbs/apply`` → ``zwfw.gov.cn/gaj`` with ``path_depth`` 1), because
several departments often share one host under different application paths. ``path_depth`` 0
keys by host alone (profile ``probes.duplicate_login.system_path_depth``).

Coverage tells an auditor how far the sample reached: the systems seen in online-handling links,
the systems visited, and the departments listed in the profile that were (not) reached. A listed
department never reached is an ``error`` finding, never silently absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from zwaudit.targets import normalize_url


def system_of(url: str, path_depth: int = 1) -> str:
    """``host[:port]`` plus the first ``path_depth`` path segments that are folders, normalised."""
    parts = urlsplit(normalize_url(url))
    folders = [s for s in parts.path.split("/")[:-1] if s]  # the last segment is the page itself
    prefix = "/".join(folders[:path_depth])
    return f"{parts.netloc}/{prefix}" if prefix else parts.netloc


@dataclass(frozen=True)
class Department:
    id: str
    url: str


def reaches(department: Department, system: str, path_depth: int) -> bool:
    """Whether ``system`` belongs to the department: same host and, when the department's URL has
    an application folder, the same one."""
    own = system_of(department.url, path_depth)
    host = own.split("/", 1)[0]
    return system == own or (own == host and system.split("/", 1)[0] == host)


@dataclass
class Coverage:
    """How far the walk and the sample reached (in every duplicate_login finding's detail)."""

    seen: set[str] = field(default_factory=set)  # systems of every online-handling link found
    visited: set[str] = field(default_factory=set)  # systems of the sampled entries
    pages_read: int = 0
    page_budget: int = 0
    source: str = "discovery"  # discovery, entry_urls, profile departments

    def departments(self, listed: Sequence[Department], path_depth: int) -> tuple[list[str], list[str]]:
        """(reached, not reached) department ids of the profile."""
        reached = [d.id for d in listed if any(reaches(d, s, path_depth) for s in self.visited)]
        return reached, [d.id for d in listed if d.id not in reached]

    def detail(self, listed: Sequence[Department], path_depth: int) -> dict[str, Any]:
        reached, missed = self.departments(listed, path_depth)
        return {
            "systems_reached": len(self.visited),
            "systems_seen_in_links": len(self.seen),
            "departments_listed": len(listed),
            "departments_reached": len(reached),
            "departments_not_reached": missed,
            "pages_read": self.pages_read,
            "page_budget": self.page_budget,
            "source": self.source,
            "systems": sorted(self.visited),
        }


def covered(listed: Iterable[Department], systems: Iterable[str], path_depth: int) -> bool:
    found = list(systems)
    return all(any(reaches(d, s, path_depth) for s in found) for d in listed)
