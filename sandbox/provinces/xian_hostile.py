"""sbx-xian's hostile behaviours: slow and broken transport, floods, traps, rate limits.

Everything here is what real portals do by accident or on purpose (issue 16): a tarpit, a host
that resets mid-body, a gzip bomb, a page of hundreds of MiB, a calendar without end, session ids
in every link, 429/503 with ``Retry-After``. Delays and sizes come from :class:`Settings`
(``ZWAUDIT_SBX_XIAN_<FIELD>`` in the environment, or :func:`configure` before start) so tests
can shorten them; the defaults are the issue's. Nothing large is ever held in memory: floods are
generated while they are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from email.utils import formatdate
from functools import cache
from time import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sandbox.web.kit import page
from sandbox.web.reqlog import RETRY_AFTER, TAG

MiB = 1 << 20


@dataclass(frozen=True)
class Settings:
    first_byte_delay_s: float = 90.0  # the tarpit's first byte
    drip_interval_s: float = 1.0  # one byte per interval
    drip_bytes: int = 4096
    bomb_inflated_mib: int = 2048  # the gzip bomb inflates to this (≈ 1/1000 of it on the wire)
    huge_page_mib: int = 300  # the streamed page
    flood_links: int = 20000  # links on one page
    retry_after_s: int = 3  # 429's Retry-After (seconds)
    retry_after_date_s: int = 4  # 503's Retry-After (an HTTP date this far ahead)
    crawl_delay_s: float = 2.0  # robots.txt Crawl-delay of the portal host
    hang_s: float = 600.0  # how long the never-ending XHR is held open
    reset_after_bytes: int = 2048  # the resetting host sends this much of the body, then RST


_settings = Settings()


def from_env(base: Settings | None = None) -> Settings:
    """``base`` (default: the built-in values) with ``ZWAUDIT_SBX_XIAN_<FIELD>`` overrides."""
    base = base or Settings()
    changes: dict[str, Any] = {}
    for f in fields(Settings):
        raw = os.environ.get(f"ZWAUDIT_SBX_XIAN_{f.name.upper()}")
        if raw is not None:
            changes[f.name] = int(raw) if f.type in ("int", int) else float(raw)
    return replace(base, **changes)


def configure(**changes: Any) -> Settings:
    """Set the values the next start uses (tests: short delays, small floods)."""
    global _settings
    _settings = replace(Settings(), **changes)
    return _settings


def settings() -> Settings:
    return from_env(_settings)


def tag(request: web.Request, what: str) -> None:
    request[TAG] = what


# --- slow and broken transport (own hosts) --------------------------------------------------------


def build_tarpit(s: Settings) -> web.Application:
    """A host that answers after ``first_byte_delay_s``, or drips its body a byte at a time."""

    async def first_byte(request: web.Request) -> web.Response:
        tag(request, "tarpit")
        await asyncio.sleep(s.first_byte_delay_s)
        return page("<p>办事指南（慢速镜像）</p>", title="慢速镜像")

    async def drip(request: web.Request) -> web.StreamResponse:
        tag(request, "tarpit")
        body = ("<html><body>" + "办" * s.drip_bytes).encode()[: s.drip_bytes]
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        response.content_length = len(body)
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # the client gave up: as intended
            for i in range(len(body)):
                await response.write(body[i : i + 1])
                await asyncio.sleep(s.drip_interval_s)
            await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/slow/first-byte", first_byte)
    app.router.add_get("/slow/drip", drip)
    return app


def build_reset(s: Settings) -> web.Application:
    """A host that starts every answer, then resets the connection (RST) mid-body."""

    async def anything(request: web.Request) -> web.StreamResponse:
        tag(request, "reset")
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        response.content_length = s.reset_after_bytes * 50
        await response.prepare(request)
        await response.write(b"<html><body>" + b"x" * s.reset_after_bytes)
        transport = request.transport
        sock = transport.get_extra_info("socket") if transport else None
        if sock is not None:  # linger 0: close() sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if transport is not None:
            transport.abort()
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


def build_plain(title: str) -> web.Application:
    """A harmless site (behind a faulty certificate: the fault is the point)."""

    async def home(request: web.Request) -> web.Response:
        tag(request, "tls")
        return page(f"<h1>{title}</h1>", title=title)

    app = web.Application()
    app.router.add_get("/{tail:.*}", home)
    return app


# --- floods (portal host) -----------------------------------------------------------------------


@cache
def _bomb_parts(inflated_mib: int) -> tuple[bytes, bytes, int]:
    """(one deflated MiB of zeros, the stream's tail, total size): a gzip of ``inflated_mib`` MiB.

    After a full flush the compressor starts afresh, so every MiB deflates to the same bytes: the
    bomb is that block repeated, never inflated here.
    """
    zeros = bytes(MiB)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    assert block == again, "deflate output of a flushed block is not repeatable"
    finish = comp.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(inflated_mib):
        crc = zlib.crc32(zeros, crc)
    tail = finish + struct.pack("<II", crc & 0xFFFFFFFF, (inflated_mib * MiB) & 0xFFFFFFFF)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return block, header + tail, len(header) + len(block) * inflated_mib + len(tail)


async def gzip_bomb(request: web.Request) -> web.StreamResponse:
    """``Content-Encoding: gzip``, a few MiB on the wire that inflate to gigabytes."""
    tag(request, "flood:bomb")
    s = settings()
    block, header_tail, total = await asyncio.to_thread(_bomb_parts, s.bomb_inflated_mib)
    header, tail = header_tail[:10], header_tail[10:]
    response = web.StreamResponse(
        headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}
    )
    response.content_length = total
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):  # a client that stops reading: as intended
        await response.write(header)
        for done in range(0, s.bomb_inflated_mib, 64):
            await response.write(block * min(64, s.bomb_inflated_mib - done))
        await response.write(tail)
        await response.write_eof()
    return response


async def huge_page(request: web.Request) -> web.StreamResponse:
    """An HTML page of ``huge_page_mib`` MiB, sent chunked (no Content-Length to refuse early)."""
    tag(request, "flood:huge")
    s = settings()
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    row = "<tr><td>关于进一步优化政务服务提升行政效能的通知</td><td>2025-03-01</td></tr>".encode()
    chunk = row * (64 * 1024 // len(row))
    with contextlib.suppress(ConnectionError):  # a client that stops reading: as intended
        await response.write("<html><head><title>全部文件</title></head><body><table>".encode())
        sent = 0
        while sent < s.huge_page_mib * MiB:
            await response.write(chunk)
            sent += len(chunk)
        await response.write(b"</table></body></html>")
        await response.write_eof()
    return response


async def growing_dom(request: web.Request) -> web.Response:
    tag(request, "flood:dom")
    script = (
        "<script>setInterval(function(){var f=document.createDocumentFragment();"
        "for(var i=0;i<2000;i++){var d=document.createElement('div');"
        "d.textContent='网友留言：请问办理进度如何查询？'+Math.random();f.appendChild(d);}"
        "document.getElementById('feed').appendChild(f);},20);</script>"
    )
    return page(f'<h1>互动交流</h1><div id="feed"></div>{script}', title="互动交流直播")


async def many_links(request: web.Request) -> web.Response:
    tag(request, "flood:links")
    n = settings().flood_links
    links = "".join(f'<li><a href="/zcwj/doc?id={i}">政策文件第{i}号</a></li>' for i in range(n))
    return page(f"<h1>政策文件</h1><ul>{links}</ul>", title="政策文件")


async def flood_doc(request: web.Request) -> web.Response:
    tag(request, "trap:links")
    return page(f"<p>政策文件第{int(request.query.get('id', '0') or 0)}号（正文略）</p>", title="政策文件")


# --- redirects ------------------------------------------------------------------------------------


async def redirect_loop(request: web.Request) -> web.StreamResponse:
    tag(request, "redirect:loop")
    nxt = "/old/bszn/index" if request.path == "/old/bszn" else "/old/bszn"
    raise web.HTTPFound(nxt)


async def redirect_chain(request: web.Request) -> web.StreamResponse:
    tag(request, "redirect:chain")
    hops = int(request.match_info["n"])
    if hops <= 0:
        return page("<p>已迁移至新版办事指南。</p>", title="跳转完成")
    raise web.HTTPFound(f"/jump/{hops - 1}")


# --- traps ----------------------------------------------------------------------------------------


async def calendar(request: web.Request) -> web.Response:
    """办事日历: "下一月" always leads one month further, for ever."""
    tag(request, "trap:calendar")
    try:
        year, month = (int(x) for x in request.query.get("month", "2026-01").split("-", 1))
    except ValueError:
        year, month = 2026, 1
    nxt = f"{year + month // 12}-{month % 12 + 1:02d}"
    prev = f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"
    days = "".join(f"<td>{d}</td>" for d in range(1, 29))
    body = (
        f"<h1>办事日历 {year}年{month}月</h1><table><tr>{days}</tr></table>"
        f'<a href="/bsrl/calendar?month={prev}">上一月</a> <a href="/bsrl/calendar?month={nxt}">下一月</a>'
    )
    return page(body, title="办事日历")


def _sid() -> str:
    return secrets.token_hex(16).upper()


async def news(request: web.Request) -> web.Response:
    """Every link carries a fresh ``;jsessionid=`` and ``?sid=``: the same 11 pages, endless URLs."""
    tag(request, "trap:session")
    links = "".join(
        f'<li><a href="/news/view;jsessionid={_sid()}?id={i}&amp;sid={_sid()}">政务动态第{i}期</a></li>'
        for i in range(1, 11)
    )
    shown = request.query.get("id")
    head = f"<h2>政务动态第{shown}期</h2><p>（正文略）</p>" if shown else "<h1>政务动态</h1>"
    back = f'<a href="/news/list;jsessionid={_sid()}?sid={_sid()}">返回列表</a>'
    return page(f"{head}<ul>{links}</ul>{back}", title="政务动态")


async def variants(request: web.Request) -> web.Response:
    """The same list under endless query strings (a "refresh" link with a growing counter)."""
    tag(request, "trap:variants")
    v = int(request.query.get("v", "0") or 0) if request.query.get("v", "0").isdigit() else 0
    order = "desc" if request.query.get("order") == "asc" else "asc"
    body = (
        "<h1>专题服务</h1><ul><li>惠企政策专题</li><li>高效办成一件事</li></ul>"
        f'<a href="/zt/list?page=1&amp;order={order}&amp;v={v + 1}">刷新</a> '
        f'<a href="/zt/list?page=1&amp;v={v + 1}&amp;order={order}&amp;_={v * 7 + 3}">按时间排序</a>'
    )
    return page(body, title="专题服务")


# --- encodings, markup, content types -----------------------------------------------------------


async def gbk_claiming_utf8(request: web.Request) -> web.Response:
    tag(request, "encoding:gbk")
    doc = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">'
        "<title>最新公告</title></head><body><h1>最新公告</h1>"
        "<ul><li>关于春节期间政务服务中心窗口安排的公告</li><li>关于系统升级暂停部分业务的通知</li></ul>"
        "</body></html>"
    )
    return web.Response(body=doc.encode("gbk"), headers={"Content-Type": "text/html; charset=utf-8"})


async def never_ends(request: web.Request) -> web.Response:
    """The search page's "hot words" XHR: held open until the client gives up."""
    tag(request, "hang:xhr")
    await asyncio.sleep(settings().hang_s)
    return web.json_response({"words": []})


async def busy_loop(request: web.Request) -> web.Response:
    tag(request, "hang:script")
    return page("<h1>使用帮助</h1><script>while(true){}</script>", title="使用帮助")


async def survey(request: web.Request) -> web.Response:
    tag(request, "popup")
    return page(
        '<h1>满意度调查</h1><form><label>您对本网站满意吗？<input name="q1"></label>'
        "<button>提交</button></form>",
        title="满意度调查",
    )


async def disallowed(request: web.Request) -> web.Response:
    tag(request, "disallowed")
    return page("<h1>内部页面</h1><p>仅供工作人员使用。</p>", title="内部")


def robots(s: Settings) -> str:
    return f"User-agent: *\nCrawl-delay: {s.crawl_delay_s:g}\nDisallow: /admin/\nDisallow: /internal/\n"


def add_portal_routes(app: web.Application) -> None:
    """The hostile pages that live on the portal host (same channel: a crawler follows them)."""
    r = app.router
    r.add_get("/zcwj/archive", gzip_bomb)
    r.add_get("/zcwj/all", huge_page)
    r.add_get("/zcwj/index", many_links)
    r.add_get("/zcwj/doc", flood_doc)
    r.add_get("/hdjl/live", growing_dom)
    r.add_get("/old/bszn", redirect_loop)
    r.add_get("/old/bszn/index", redirect_loop)
    r.add_get("/jump/{n:[0-9]+}", redirect_chain)
    r.add_get("/bsrl/calendar", calendar)
    r.add_get("/news/{name:(list|view)[^/]*}", news)
    r.add_get("/zt/list", variants)
    r.add_get("/zxgg/list", gbk_claiming_utf8)
    r.add_get("/api/hotwords", never_ends)
    r.add_get("/help/run", busy_loop)
    r.add_get("/survey/popup", survey)
    r.add_get("/admin/{tail:.*}", disallowed)
    r.add_get("/internal/{tail:.*}", disallowed)


def retry_after_date(port_of: Callable[[], int]) -> Middleware:
    """On the host listening on ``port_of()``, the first request for each path gets 503 with
    ``Retry-After`` as an HTTP date (a few seconds ahead); asking again after that date succeeds."""
    seen: set[str] = set()

    @web.middleware
    async def busy(request: web.Request, handler: Handler) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if sockname and sockname[1] == port_of() and request.path not in seen:
            seen.add(request.path)
            until = int(time()) + settings().retry_after_date_s
            request[RETRY_AFTER] = round(until - time(), 3)
            tag(request, "rate_limit:503")
            return web.Response(
                status=503,
                text="系统繁忙，请稍后再试",
                headers={"Retry-After": formatdate(until, usegmt=True)},
            )
        return await handler(request)

    return busy


def pdf(text: str) -> bytes:
    """A minimal one-page PDF showing ``text`` (ASCII): a guide that exists only as a PDF."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out
