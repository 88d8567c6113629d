"""Crawler traps: session ids canonicalised away, and chains of look-alike pages cut at a bound.

- **Session ids** in URLs (``;jsessionid=…``, ``?sid=…``, ``PHPSESSID``, ``ASPSESSIONID…``) make every
  link new on every page; :func:`canonical_url` removes them before the crawl deduplicates, so the
  same page is fetched once.
- **Growing counters and endless variants** (a 办事日历 whose "next month" never ends, one page under
  ever new query strings): URLs of one *pattern* — the host, the path with its digit runs folded,
  the names (not values) of the query parameters — reached from a page of the same pattern form a
  chain. A page that brings no new link besides the next of its chain is *barren*; a chain of more
  than ``bound`` barren pages in a row is a trap and is followed no further (recorded ``trap``). A
  catalogue's pages also share one pattern, but each brings new guides, so paging is never cut.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SESSION_PARAMS = frozenset(
    {
        "jsessionid",
        "phpsessid",
        "sid",
        "sessionid",
        "session_id",
        "sessid",
        "aspsessionid",
        "cfid",
        "cftoken",
        "zwaudit_sid",
    }
)
_PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid|sessionid|sid)=[^/?#;]*", re.I)
_ASP_SESSION = re.compile(r"^aspsessionid[a-z]{0,16}$", re.I)
_DIGITS = re.compile(r"\d+")


def _is_session_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in SESSION_PARAMS or bool(_ASP_SESSION.match(lowered))


def canonical_url(url: str) -> str:
    """``url`` without session ids in its path parameters or query (order otherwise kept)."""
    if ";" not in url and "=" not in url:
        return url
    parts = urlsplit(url)
    path = _PATH_SESSION.sub("", parts.path)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _is_session_param(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    if path == parts.path and query == parts.query:
        return url
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def url_pattern(url: str) -> str:
    """What look-alike URLs share: host, path with digit runs folded, sorted query names."""
    parts = urlsplit(url)
    names = sorted({k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return f"{(parts.hostname or '').lower()}{_DIGITS.sub('#', parts.path)}?{'&'.join(names)}"


def chain_length(parent_url: str, parent_run: int, link_url: str, parent_barren: bool) -> int:
    """The barren-chain length of ``link_url`` found on ``parent_url`` (0: not in a chain).

    ``parent_run``: the parent's own chain length; ``parent_barren``: the parent brought no new
    link outside its own pattern. A link of another pattern starts afresh.
    """
    if url_pattern(link_url) != url_pattern(parent_url):
        return 0
    return parent_run + 1 if parent_barren else 0
