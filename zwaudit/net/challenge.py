"""The one recogniser of anti-bot challenges, for the crawler and the probes alike.

A challenge is what a WAF puts *instead of* the page: an error status (521, 412, 403, 503 …) whose
answer sets a cookie (``Set-Cookie`` or ``document.cookie=``) and reloads (``location.reload()``,
``location.href=``, a meta refresh), or a page carrying a known vendor's marker (加速乐
``__jsl_clearance``, 阿里云 ``acw_sc__v2``, Cloudflare ``cf-chl``, 云锁, 安全狗 …), which some vendors
send with status 200. An ordinary page drawn by script that answers 200 is *not* a challenge, even
when its script sets a cookie and moves on (a login page redirecting after a check): treating it as
one reported working login pages as ``blocked`` (issue 13, class 3).

A challenge is passable (a browser left alone gets through); an access-denied page is not: that is
:func:`looks_blocked`, read from what the page says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_SETS_COOKIE = re.compile(r"document\.cookie\s*=", re.I)
_RELOADS = re.compile(
    r"location\s*\.\s*(?:reload|replace|assign)\s*\(|(?:window\.|document\.)?location(?:\.href)?\s*=|"
    r"<meta[^>]+http-equiv\s*=\s*['\"]?refresh",
    re.I,
)
VENDOR_MARKERS = re.compile(
    r"__jsl_clearance|jsl_clearance|__jsluid|acw_sc__v2|acw_tc.{0,40}arg1|cf-chl-|__cf_chl|cf_chl_opt|"
    r"yunsuo_session|safedog|_waf_bd8ce2ce37|waf_jschallenge",
    re.I,
)
_VENDOR_COOKIES = re.compile(
    r"^(?:__jsl_clearance|__jsl_clearance_s|acw_sc__v2|cf_clearance|yunsuo_session_verify)", re.I
)
MAX_CHALLENGE_BYTES = 64 * 1024  # challenge pages are small; a full page is content

# What an access-denied / WAF block page says (not passable by waiting): strong phrases only, so
# that a login page offering 安全验证 (an SMS code, a slider) is not taken for a block page.
BLOCK_TEXT = re.compile(
    r"访问被拒绝|访问受限|您的访问请求可能对网站造成安全威胁|请求被拦截|拦截了您的访问|网站防火墙|"
    r"访问过于频繁|请求过于频繁|IP.{0,6}封|Access Denied|Request (?:was )?blocked|Attention Required|"
    r"Just a moment|are you a robot|unusual traffic",
    re.I,
)


@dataclass(frozen=True)
class Challenge:
    """Why a response was recognised as a challenge (for the log and the error message)."""

    reason: str


def recognise(
    status: int, body: str, set_cookies: Iterable[str] = (), *, body_size: int | None = None
) -> Challenge | None:
    """A :class:`Challenge` when the response is an anti-bot challenge, else ``None``.

    ``set_cookies``: the names (or raw values) of the cookies the response sets by header.
    ``body_size``: the body's size in bytes when ``body`` is only its beginning.
    """
    size = len(body) if body_size is None else body_size
    cookies = [c.split("=", 1)[0].strip() for c in set_cookies]
    head = body[:MAX_CHALLENGE_BYTES]
    if VENDOR_MARKERS.search(head) or any(_VENDOR_COOKIES.match(c) for c in cookies):
        return Challenge("a known anti-bot vendor's marker")
    if status < 400 or size > MAX_CHALLENGE_BYTES:
        return None
    sets_cookie = bool(cookies) or bool(_SETS_COOKIE.search(head))
    if sets_cookie and _RELOADS.search(head):
        return Challenge(f"HTTP {status} that sets a cookie and reloads")
    return None


def looks_blocked(text: str) -> bool:
    """Whether a page's text is an access-denied or WAF block page rather than content."""
    return bool(BLOCK_TEXT.search(text) or VENDOR_MARKERS.search(text))
