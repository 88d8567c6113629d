"""Writing what the spider read into SQL, in batches, idempotently.

Rows are buffered and upserted ``PIPELINE_BATCH_SIZE`` at a time, at least every
``PIPELINE_FLUSH_S`` seconds (a polite crawl of a slow portal reads 200 rows in minutes: a kill
must not lose them all, and the stored counts show progress), and whenever the spider goes idle or
closes. So memory stays flat however large the catalogue, and a crawl restarted after a kill
rewrites the same (run, portal, channel, item_key) / (run, portal, url) rows instead of adding.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.db.engine import make_engine, session_factory
from zwaudit.db.store import upsert_crawled_pages, upsert_service_items

log = logging.getLogger(__name__)


class StoragePipeline:
    """Buffers ``service_item`` and ``crawled_page`` rows and upserts them in batches."""

    def __init__(self, db_url: str, batch_size: int, flush_s: float = 5.0) -> None:
        self.db_url = db_url
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.flushed_at = time.monotonic()
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.pages: dict[tuple[str, str], dict[str, Any]] = {}
        self.sessions: sessionmaker[Session] | None = None
        self.stored_items = 0
        self.stored_pages = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        db_url = crawler.settings.get("ZWAUDIT_DB_URL")
        if not db_url:
            raise NotConfigured("ZWAUDIT_DB_URL is not set")
        settings = crawler.settings
        pipeline = cls(
            db_url, settings.getint("PIPELINE_BATCH_SIZE", 200), settings.getfloat("PIPELINE_FLUSH_S", 5.0)
        )
        crawler.signals.connect(pipeline.flush, signal=signals.spider_idle)
        return pipeline

    def open_spider(self, spider: Spider | None = None) -> None:
        self.engine = make_engine(self.db_url)
        self.sessions = session_factory(self.engine)

    def close_spider(self, spider: Spider | None = None) -> None:
        self.flush()
        self.engine.dispose()

    def process_item(self, item: dict[str, Any], spider: Spider | None = None) -> dict[str, Any]:
        kind = item.get("kind")
        row = item["row"]
        if kind == "item":
            self.items[(row["portal_id"], row["channel"], row["item_key"])] = row
        elif kind == "page":
            key = (row["portal_id"], row["url"])
            old = self.pages.get(key)
            self.pages[key] = row if old is None else merged_page(old, row)
        else:
            raise ValueError(f"unknown row kind {kind!r}")
        if (
            len(self.items) + len(self.pages) >= self.batch_size
            or time.monotonic() - self.flushed_at >= self.flush_s
        ):
            self.flush()
        return item

    def flush(self, *args: Any, **kwargs: Any) -> None:
        self.flushed_at = time.monotonic()
        if not (self.items or self.pages) or self.sessions is None:
            return
        with self.sessions.begin() as session:
            if self.items:
                upsert_service_items(session, list(self.items.values()))
            if self.pages:
                upsert_crawled_pages(session, list(self.pages.values()))
        self.stored_items += len(self.items)
        self.stored_pages += len(self.pages)
        self.items.clear()
        self.pages.clear()


def merged_page(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two rows of one page in a batch: the fetched row over a placeholder, then the shallower
    one; a later failure to read the page again (its rendering) adds its error to the row kept,
    as :func:`zwaudit.db.store.upsert_crawled_pages` does across batches."""
    if old.get("status_code") is None and old.get("error") is None:
        return new
    if new.get("status_code") is None and new.get("error") is None:
        return old
    new_depth, old_depth = new.get("depth"), old.get("depth")
    if old_depth is None or (new_depth is not None and new_depth < old_depth):
        return new
    if new.get("error") and not old.get("error"):
        return {**old, "error": new["error"]}
    return old
