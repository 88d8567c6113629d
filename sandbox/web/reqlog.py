"""Every request a province's hosts receive, with its arrival time, as JSON lines.

Politeness cannot be judged from the auditor's own account of itself: the request log is the
server's view (what a real portal's access log would show), from which calibration counts requests
to ``Disallow`` paths, requests that came before a ``Retry-After`` had passed, successive page
requests closer than ``Crawl-delay``, and pages fetched from each trap.

``<log>.counts.json`` keeps the number of requests per tag since the start (trap page counts at a
glance). A handler tags what it served (``request[TAG]``: ``trap:calendar``, ``disallowed`` …) and sets
``request[RETRY_AFTER]`` (seconds) when it asked the client to wait.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

TAG = web.RequestKey("sbx_tag", str)
RETRY_AFTER = web.RequestKey("sbx_retry_after", float)


@dataclass(frozen=True)
class Logged:
    """One request as the server saw it."""

    t: float  # arrival, seconds since the epoch
    site: str
    method: str
    path: str  # raw path with ``;params`` and query
    dest: str  # Sec-Fetch-Dest ("" from a non-browser client)
    status: int | None
    tag: str
    retry_after: float | None
    location: str = ""  # where a 3xx answer sent the client (path and query)

    @property
    def is_page(self) -> bool:
        """A page a person (or crawler) asked for, not a sub-resource a page pulled in."""
        return self.dest in ("", "document", "iframe", "frame")


def _sent_to(status: int, headers: Any) -> str:
    """The path and query a redirect answer points at ("" for any other answer)."""
    if not 300 <= status < 400:
        return ""
    target = urlsplit(str(headers.get("Location", "")))
    return target.path + (f"?{target.query}" if target.query else "")


class RequestLog:
    """Appends one JSON line per request to ``path`` (safe across the sandbox's thread)."""

    def __init__(self, path: Path, sites_by_port: dict[int, str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sites_by_port = sites_by_port
        self._lock = threading.Lock()
        self._fh = path.open("a", encoding="utf-8")
        self.counts_path = path.with_suffix(".counts.json")
        self.counts: Counter[str] = Counter()  # requests per tag since the start (trap:…, disallowed …)

    def _site(self, request: web.Request) -> str:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = sockname[1] if sockname else 0
        return self.sites_by_port.get(port, str(port))

    def write(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._fh.flush()
            if entry.get("tag"):
                self.counts[entry["tag"]] += 1
                tmp = self.counts_path.with_suffix(".tmp")
                tmp.write_text(
                    json.dumps(dict(sorted(self.counts.items())), ensure_ascii=False), encoding="utf-8"
                )
                tmp.replace(self.counts_path)  # readable at any moment: trap page counts so far

    def middleware(self) -> Middleware:
        @web.middleware
        async def log_request(request: web.Request, handler: Handler) -> web.StreamResponse:
            entry: dict[str, Any] = {
                "t": round(time.time(), 3),
                "site": self._site(request),
                "method": request.method,
                "path": request.raw_path,
                "dest": request.headers.get("Sec-Fetch-Dest", ""),
                "status": None,
            }
            try:
                response = await handler(request)
                entry["status"] = response.status
                entry["location"] = _sent_to(response.status, response.headers)
                return response
            except web.HTTPException as exc:
                entry["status"] = exc.status
                entry["location"] = _sent_to(exc.status, exc.headers)
                raise
            finally:
                entry["tag"] = request.get(TAG, "")
                if request.get(RETRY_AFTER) is not None:
                    entry["retry_after"] = request[RETRY_AFTER]
                self.write(entry)

        return log_request


def read(path: Path, since: float = 0.0, until: float = float("inf")) -> Iterator[Logged]:
    """The logged requests that arrived in ``[since, until]``, in arrival order."""
    if not path.exists():
        return iter(())
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                d = json.loads(line)
            except ValueError:  # a line cut by a killed sandbox
                continue
            if since <= d["t"] <= until:
                rows.append(
                    Logged(
                        d["t"],
                        d["site"],
                        d["method"],
                        d["path"],
                        d.get("dest", ""),
                        d.get("status"),
                        d.get("tag", ""),
                        d.get("retry_after"),
                        d.get("location") or "",
                    )
                )
    rows.sort(key=lambda r: r.t)
    return iter(rows)
