"""Politeness across machines: one job at a time per host, for the whole fleet.

Within a job, the crawler (Scrapy's per-domain slots, the download delay) and the browser checks
(``HostPacer``) keep a portal's hosts to ``politeness.concurrency_per_host`` and the delay. Across
jobs, the queue's per-portal lock runs one job per portal at a time. What is left is a host that
several portals reach (a province's unified login, a shared catalogue): a job takes a *lease* on
every host its portal declares before it touches the network, so two workers never hit one host
at once however many portals lead there.

A lease is a PostgreSQL session advisory lock on a dedicated connection: it costs no table, and a
worker that dies (SIGKILL, a lost machine) drops its connection, which releases the lease at once.
Leases are taken all-or-none (try every host, give back on any refusal, wait, retry), so two jobs
needing overlapping hosts never deadlock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import psycopg

from zwaudit.app.fleet.app import advisory_key
from zwaudit.config.schema import PortalProfile

log = logging.getLogger(__name__)

RETRY_S = 0.5


def netloc(url: str) -> str:
    """``host:port`` of ``url`` (lower case; the scheme's default port spelled out)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}"


def portal_hosts(portal: PortalProfile) -> list[str]:
    """Every host the portal's profile declares, plus ``politeness.shared_hosts``."""
    urls: list[str] = [str(portal.home_url)]
    urls += [str(u) for u in portal.crawl.start_urls]
    if portal.crawl.catalogue_url is not None:
        urls.append(str(portal.crawl.catalogue_url))
    for dept in portal.departments:
        urls.append(str(dept.url))
        if dept.catalogue_url is not None:
            urls.append(str(dept.catalogue_url))
    if portal.mobile is not None:
        urls.append(str(portal.mobile.url))
        if portal.mobile.catalogue_url is not None:
            urls.append(str(portal.mobile.catalogue_url))
    hosts = {netloc(u) for u in urls}
    for extra in portal.politeness.shared_hosts:
        hosts.add(extra.lower() if ":" in extra else f"{extra.lower()}:443")
    return sorted(hosts)


@asynccontextmanager
async def host_leases(conninfo: str, hosts: list[str], *, label: str = "") -> AsyncIterator[float]:
    """Hold a lease on every host in ``hosts`` for the block; yields the seconds spent waiting."""
    keys = [advisory_key(f"zwaudit-host:{h}") for h in sorted(set(hosts))]
    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    started = time.monotonic()
    warned = False
    try:
        while True:
            held: list[int] = []
            for key in keys:
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                row = await cur.fetchone()
                if row is None or not row[0]:
                    break
                held.append(key)
            if len(held) == len(keys):
                break
            for key in held:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            if not warned:
                log.info("%s waits for a host another job is using", label or "a job")
                warned = True
            await asyncio.sleep(RETRY_S)
        yield time.monotonic() - started
    finally:
        await conn.close()  # closing the session releases every lease it holds
