"""A WAF in front of every host of a province: a JS cookie challenge and per-client rate limiting.

The first response to a client without the clearance cookie is a 521 page whose script computes the
cookie and reloads (as 加速乐-style WAFs do); a browser passes, a plain HTTP client does not. Each
client (clearance id, or address + User-Agent before clearance) has a token bucket: above the
burst, 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

COOKIE = "yx_waf_clr"
MODULUS = 1_000_003


@dataclass
class Bucket:
    tokens: float
    stamp: float


@dataclass
class Waf:
    secret: bytes
    burst: int = 40
    rate: float = 10.0  # tokens per second
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def _nonce(self, cid: str) -> int:
        return int(hmac.new(self.secret, cid.encode(), hashlib.sha256).hexdigest()[:6], 16)

    def answer(self, cid: str) -> int:
        """What the challenge script computes for ``cid``."""
        return (self._nonce(cid) * 7 + 13) % MODULUS

    def cleared(self, request: web.Request) -> str | None:
        value = request.cookies.get(COOKIE, "")
        cid, _, proof = value.partition(".")
        if cid and proof.isdigit() and int(proof) == self.answer(cid):
            return cid
        return None

    def allow(self, key: str) -> float:
        """0 when the request may pass, else the seconds until a token is available."""
        now = time.monotonic()
        bucket = self.buckets.setdefault(key, Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def challenge(self) -> web.Response:
        cid = secrets.token_hex(8)
        nonce = self._nonce(cid)
        script = (
            f'<script>var c="{cid}",n={nonce};var v=(n*7+13)%{MODULUS};'
            f'document.cookie="{COOKIE}="+c+"."+v+"; path=/; max-age=3600";location.reload();</script>'
        )
        html = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>安全验证</title>{script}</head><body>正在进行安全验证，请稍候……</body></html>"
        return web.Response(
            status=521, text=html, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    def middleware(self) -> Middleware:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            cid = self.cleared(request)
            key = f"c:{cid}" if cid else f"a:{request.remote}:{request.headers.get('User-Agent', '')}"
            wait = self.allow(key)
            if wait > 0:
                return web.Response(
                    status=429,
                    text="请求过于频繁，请稍后再试",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
            if cid is None and request.path not in ("/robots.txt", "/favicon.ico"):
                return self.challenge()
            return await handler(request)

        return guard
