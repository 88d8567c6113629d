"""A loopback site that misbehaves on the network, for the crawler's and the probes' net tests.

Each path is one hostile behaviour of issue 16 in a small, fast form (sizes and waits scaled down
so a test takes seconds): a Crawl-delay and Disallow robots.txt, a calendar whose "next month"
never ends, session ids in every link, a gzip bomb, a streamed page past the size cap, a redirect
loop and a long redirect chain, a PDF and an octet-stream guide, a slow page, a connection reset
mid-body, a 503 challenge carrying Retry-After, a Retry-After as an HTTP date and one past the
cap, links and a redirect to the auditor's own network (a "bait" server counting its hits).
"""

from __future__ import annotations

import asyncio
import gzip
import secrets
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from aiohttp import web

CRAWL_DELAY = 0.5
BOMB_MIB = 24  # inflates past a 1 MiB cap; ~24 KiB on the wire


class Bait:
    """A server standing for the auditor's own network (a database port, cloud metadata)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.port = 0


class HostileSite:
    def __init__(self) -> None:
        self.hits: dict[str, list[float]] = defaultdict(list)
        self.all_hits: list[tuple[float, str]] = []
        self.bait = Bait()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runners: list[web.AppRunner] = []
        self.port = 0
        self._bomb = gzip.compress(b"\0" * (BOMB_MIB * 1024 * 1024), compresslevel=9)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bait_url(self) -> str:
        return f"http://127.0.0.1:{self.bait.port}"

    def home_html(self) -> str:
        links = [
            ("/calendar?month=1", "办事日历"),
            (f"/sess/page;jsessionid={secrets.token_hex(8)}", "会话"),
            ("/flood", "全部文件"),
            ("/list", "目录"),
            ("/bomb.html", "压缩包"),
            ("/big.html", "大页面"),
            ("/loop/a", "循环"),
            ("/chain/0", "长链"),
            ("/guide.pdf", "PDF指南"),
            ("/guide.bin", "下载指南"),
            ("/slow.html", "慢"),
            ("/reset.html", "断开"),
            ("/waf.html", "防火墙"),
            ("/dated.html", "稍后"),
            ("/toolong.html", "太久"),
            ("/private/hidden.html", "内部"),
            ("/go-internal", "跳转"),
            ("/spa.html", "应用"),
            (f"{self.bait_url}/admin", "数据库"),
            ("http://169.254.169.254/latest/meta-data/", "元数据"),
            ("http://www.gov.cn/", "中国政府网"),
        ]
        items = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in links)
        return f"<html><body><h1>政务服务网</h1><ul>{items}</ul></body></html>"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        key = path.split(";", 1)[0]
        now = time.monotonic()
        self.hits[key].append(now)
        self.all_hits.append((now, request.path_qs))
        page = "<html><body>{}</body></html>".format
        if key == "/robots.txt":
            return web.Response(text=f"User-agent: *\nCrawl-delay: {CRAWL_DELAY}\nDisallow: /private/\n")
        if key == "/":
            return web.Response(text=self.home_html(), content_type="text/html")
        if key == "/calendar":
            month = int(request.query.get("month", "1"))
            body = f'<h2>{month}月</h2><a href="/">首页</a> <a href="/calendar?month={month + 1}">下个月</a>'
            return web.Response(text=page(body), content_type="text/html")
        if key == "/sess/page":
            body = (
                f'<a href="/sess/page;jsessionid={secrets.token_hex(8)}">本页</a> '
                f'<a href="/sess/other?sid={secrets.token_hex(8)}">其他</a>'
            )
            return web.Response(text=page(body), content_type="text/html")
        if key == "/sess/other":
            return web.Response(
                text=page(f'<a href="/sess/other?sid={secrets.token_hex(8)}">再来</a>'),
                content_type="text/html",
            )
        if key == "/flood":  # many look-alike links whose pages bring nothing new: a trap
            links = "".join(f'<a href="/doc?id={i}">文件{i}</a> ' for i in range(40))
            return web.Response(text=page(links), content_type="text/html")
        if key == "/doc":
            return web.Response(
                text=page(f'文件{request.query.get("id")} <a href="/">首页</a>'), content_type="text/html"
            )
        if key == "/list":  # look-alike links whose pages each bring something new: followed
            links = "".join(f'<a href="/entry?id={i}">事项{i}</a> ' for i in range(5))
            return web.Response(text=page(links), content_type="text/html")
        if key == "/entry":
            n = request.query.get("id")
            return web.Response(text=page(f'事项{n} <a href="/leaf/{n}">附件</a>'), content_type="text/html")
        if key.startswith("/leaf/"):
            return web.Response(text=page("附件"), content_type="text/html")
        if key == "/bomb.html":
            return web.Response(
                body=self._bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
            )
        if key == "/big.html":
            response = web.StreamResponse(headers={"Content-Type": "text/html"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            chunk = b"<p>" + b"x" * 65536 + b"</p>"
            try:
                for _ in range(48):  # 3 MiB, past a 1 MiB cap
                    await response.write(chunk)
            except (ConnectionResetError, RuntimeError):
                pass
            return response
        if key == "/loop/a":
            raise web.HTTPFound("/loop/b")
        if key == "/loop/b":
            raise web.HTTPFound("/loop/a")
        if key.startswith("/chain/"):
            n = int(key.rsplit("/", 1)[1])
            raise web.HTTPFound(f"/chain/{n + 1}")
        if key == "/guide.pdf":
            return web.Response(
                body=b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n%%EOF", content_type="application/pdf"
            )
        if key == "/guide.bin":
            return web.Response(body=b"\x00\x01binary guide", content_type="application/octet-stream")
        if key == "/slow.html":
            await asyncio.sleep(4)
            return web.Response(text=page("slow"), content_type="text/html")
        if key == "/reset.html":
            response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": "100000"})
            await response.prepare(request)
            await response.write(b"<html><body>" + b"y" * 2000)
            assert request.transport is not None
            request.transport.abort()  # the connection is reset mid-body
            return response
        if key == "/waf.html":
            if len(self.hits[key]) == 1:  # a challenge page that also asks to come back later
                script = '<script>document.cookie="clr=1; path=/";location.reload();</script>'
                return web.Response(
                    status=503,
                    text=page(script + "安全验证"),
                    content_type="text/html",
                    headers={"Retry-After": "1"},
                )
            return web.Response(text=page("<h2>服务正常</h2>"), content_type="text/html")
        if key == "/dated.html":
            if len(self.hits[key]) == 1:
                when = datetime.now(UTC) + timedelta(seconds=2)
                return web.Response(
                    status=503, text="busy", headers={"Retry-After": format_datetime(when, usegmt=True)}
                )
            return web.Response(text=page("ok"), content_type="text/html")
        if key == "/toolong.html":
            return web.Response(status=429, text="come back tomorrow", headers={"Retry-After": "86400"})
        if key == "/spa.html":  # a script shell (rendered): its XHR is redirected to the bait
            script = "<script>fetch('/go-internal').catch(function(){});</script>"
            return web.Response(text=page("<div id='app'></div>" + script), content_type="text/html")
        if key == "/go-internal":
            raise web.HTTPFound(f"{self.bait_url}/internal")
        return web.Response(status=404, text="not found")

    async def bait_handle(self, request: web.Request) -> web.Response:
        self.bait.hits.append(request.path_qs)
        return web.Response(text="secret")

    def start(self) -> HostileSite:
        def run() -> None:
            asyncio.set_event_loop(self._loop)
            ports = []
            for handler in (self.handle, self.bait_handle):
                app = web.Application()
                app.router.add_route("*", "/{tail:.*}", handler)
                runner = web.AppRunner(app, access_log=None)
                self._loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, "127.0.0.1", 0)
                self._loop.run_until_complete(site.start())
                ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
                self._runners.append(runner)
            self.port, self.bait.port = ports
            self._ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            for runner in self._runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def write_config(self, directory: Path, *, trap_bound: int = 3) -> Path:
        """A config dir: this site as portal ``hostile``, small caps and timeouts (tests only)."""
        (directory / "portals").mkdir(parents=True, exist_ok=True)
        (directory / "portals" / "hostile.yaml").write_text(
            f"""id: hostile
name: 敌意测试政务服务网
home_url: {self.base}/
politeness: {{concurrency_per_host: 2, delay_seconds: 0, obey_robots: true, autothrottle: false}}
""",
            encoding="utf-8",
        )
        (directory / "settings.yaml").write_text(
            f"""network:
  download_maxsize_mib: 1
  download_warnsize_mib: 0.5
  download_timeout_s: 1.5
  retry_after_max_s: 5
  retry_after_times: 2
  max_redirects: 5
  trap_bound: {trap_bound}
""",
            encoding="utf-8",
        )
        return directory
