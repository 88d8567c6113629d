"""What the crawl-based checks share: the stored snapshots of a run, read back as plain values.

Observation = the rows the crawl stored for (run, portal), as a serialisable record
(:class:`CatalogueObservation`, :class:`PagesObservation`, :class:`DepthObservation`); every
judge is a pure function of it and of its rules, unit-tested with hand-made snapshots.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.checks import CheckContext, Observation
from zwaudit.config import Config, load_config
from zwaudit.db import models
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import Finding
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.targets import item_target

_PUNCT = re.compile(r"[\s\u3000,，.。;；:：、'\"“”‘’!！?？《》<>〈〉\-—_·/\\]+")
_BRACKETS = re.compile(r"[(\[（【［]([^()\[\]（）【】［］]*)[)\]）】］]")


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def compare_key(text: str) -> str:
    """Text compared across channels: NFKC (bracket and punctuation width), no punctuation/space."""
    return _PUNCT.sub("", fold(text)).lower()


def qualifiers(name: str) -> tuple[str, ...]:
    """Bracketed qualifiers of an item name, ``（县级）`` → ``("县级",)``, width-insensitive."""
    return tuple(compare_key(q) for q in _BRACKETS.findall(fold(name)))


@dataclass(frozen=True)
class ItemSnapshot:
    """One service item as one channel showed it."""

    channel: str
    key: str
    code: str | None
    name: str
    department: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    source_url: str = ""

    @property
    def ident(self) -> str:
        """The item's identity in targets: its code, else the stored key (normalised name)."""
        return self.code or self.key

    def target(self, channel: str = "portal") -> str:
        return item_target(self.ident, channel)

    def excerpt(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "code": self.code,
            "name": self.name,
            "department": self.department,
            "source_url": self.source_url,
            "fields": self.fields,
        }


@dataclass(frozen=True)
class PageSnapshot:
    url: str
    channel: str
    status_code: int | None
    error: str | None
    depth: int | None
    referrer: str | None


@dataclass(frozen=True)
class UnreadPage:
    """A page of a channel whose content is unknown: what it failed with."""

    url: str
    kind: str  # an ErrorKind value, or http_status
    error: str


#: kinds that leave no catalogue page unknown: a page behind a bad certificate was read all the
#: same (tls); a trap's pages are look-alikes judged barren; a PDF or Word file (not_html) is an
#: attachment a guide links (申请表.doc), not a page listing items; a path robots.txt disallows is
#: one the portal keeps from robots (login, search: interactive pages), not its catalogue, which it
#: wants found. Seen on the sandbox's portal channel: 125 attachments, which would otherwise have
#: turned every item_missing of a department site with an attachment into an error.
_READ_ENOUGH = ("trap", "tls", "not_html", "robots_disallowed")


def page_error_kind(error: str) -> ErrorKind:
    """The kind a crawled page's error starts with (``timeout: …``); ``internal`` for any other."""
    try:
        return ErrorKind(error.split(":", 1)[0].strip())
    except ValueError:
        return ErrorKind.INTERNAL


def unread_page(page: PageSnapshot) -> UnreadPage | None:
    """The page as unread, or None: read, gone for everyone (a 4xx is the portal's own answer: a
    person cannot read it either), or no catalogue page (``_READ_ENOUGH``). A 5xx, a timeout, a
    broken connection, a block, a rendering that failed (status 200 and an error) leave its
    content unknown."""
    error = page.error or ""
    if error.split(":", 1)[0].strip() in _READ_ENOUGH:
        return None
    if error:
        return UnreadPage(page.url, page_error_kind(error).value, error[:200])
    if page.status_code is not None and page.status_code >= 500:
        return UnreadPage(page.url, ErrorKind.HTTP_STATUS.value, f"HTTP {page.status_code}")
    return None


class CatalogueObservation(Observation):
    """The service items the crawl stored for one portal in one run, by channel, in key order;
    and, by channel, the pages whose content the crawl could not read (:func:`unread_page`)."""

    items: dict[str, list[ItemSnapshot]]
    unread: dict[str, list[UnreadPage]] = Field(default_factory=dict)


class PagesObservation(Observation):
    """The pages the crawl fetched for one portal in one run, in fetch order."""

    pages: list[PageSnapshot]


class DepthObservation(Observation):
    """The portal's items and the crawl depth of each one's guide page (None: not reached from
    the home page)."""

    items: list[ItemSnapshot]
    depth_of: dict[str, int | None]


def load_items(sf: sessionmaker[Session], run_id: int, portal_id: str) -> dict[str, list[ItemSnapshot]]:
    """Every stored item of the run and portal, by channel, in key order."""
    out: dict[str, list[ItemSnapshot]] = {}
    stmt = (
        select(models.ServiceItem)
        .where(models.ServiceItem.run_id == run_id, models.ServiceItem.portal_id == portal_id)
        .order_by(models.ServiceItem.channel, models.ServiceItem.item_key)
    )
    with sf() as session:
        for row in session.scalars(stmt.execution_options(yield_per=500)):
            out.setdefault(row.channel, []).append(
                ItemSnapshot(
                    row.channel,
                    row.item_key,
                    row.code,
                    row.name,
                    row.department,
                    dict(row.fields or {}),
                    row.source_url,
                )
            )
    return out


def iter_pages(
    sf: sessionmaker[Session], run_id: int, portal_id: str, *where: ColumnElement[bool]
) -> Iterator[PageSnapshot]:
    """The run's pages of the portal in fetch order (only those matching ``where``, when given)."""
    stmt = (
        select(models.CrawledPage)
        .where(models.CrawledPage.run_id == run_id, models.CrawledPage.portal_id == portal_id, *where)
        .order_by(models.CrawledPage.id)
    )
    with sf() as session:
        for row in session.scalars(stmt.execution_options(yield_per=1000)):
            yield PageSnapshot(row.url, row.channel, row.status_code, row.error, row.depth, row.referrer)


def context_config(ctx: CheckContext) -> Config:
    """The run's config (the orchestrator passes it in ``extra``), else the default directory."""
    config = ctx.extra.get("config")
    return config if isinstance(config, Config) else load_config(validate_probes=False)


def require_sessions(ctx: CheckContext) -> sessionmaker[Session]:
    if ctx.session_factory is None:
        raise RuntimeError("a crawl check needs ctx.session_factory")
    return ctx.session_factory


def observe_catalogue(ctx: CheckContext, channels: tuple[str, ...] | None = None) -> CatalogueObservation:
    """The stored items of the run and portal (only ``channels`` when given), and the pages of
    each channel left unread."""
    sf = require_sessions(ctx)
    items = load_items(sf, ctx.run_id, ctx.portal.id)
    page = models.CrawledPage
    failed = (page.error.is_not(None)) | (page.status_code >= 500)  # what unread_page can count
    pages: dict[str, list[UnreadPage]] = {}
    for snapshot in iter_pages(sf, ctx.run_id, ctx.portal.id, failed):
        missed = unread_page(snapshot)
        if missed is not None:
            pages.setdefault(snapshot.channel, []).append(missed)
    if channels is not None:
        items = {ch: v for ch, v in items.items() if ch in channels}
        pages = {ch: v for ch, v in pages.items() if ch in channels}
    return CatalogueObservation(items=items, unread=pages)


def link_source_pages(evidence: EvidenceWriter, findings: list[Finding]) -> list[Finding]:
    """Every ``fail`` gets the page it was read from as evidence (``detail["source_url"]``)."""
    for finding in findings:
        if finding.status is Status.FAIL:
            finding.evidence.append(evidence.url(str(finding.detail["source_url"])))
    return findings
