"""A tiny portal on loopback for crawler tests: GBK guides, robots.txt, a 429, a broken link.

It runs in a thread on an ephemeral port and counts what it was asked for, so tests can prove
what the crawler did *not* fetch (robots.txt) and when it came back (Retry-After).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from pathlib import Path

from aiohttp import web

ITEMS = [
    ("11510000MB0000001X4000", "内地居民结婚登记", "民政厅"),
    ("11510000MB0000002X4000", "居民身份证申领", "公安厅"),
    ("11510000MB0000003X4000", "最低生活保障审批", "民政厅"),
    ("11510000MB0000004X4000", "石油天然气（含煤层气）对外合作项目总体开发方案审批", "发展和改革委员会"),
]
INCOMPLETE = "11510000MB0000003X4000"  # its guide has no 办理地点


def guide_html(code: str, name: str, dept: str, *, materials: tuple[str, ...] = ("身份证", "户口簿")) -> str:
    place = "" if code == INCOMPLETE else "<tr><th>办理地点</th><td>政务服务中心1楼</td></tr>"
    rows = "".join(f"<tr><td>{i}</td><td>{m}</td></tr>" for i, m in enumerate(materials, 1))
    return f"""<html><head><meta charset="gbk"><title>{name}</title></head><body>
<h1>{name}</h1><table>
<tr><th>事项名称</th><td>{name}</td></tr><tr><th>实施编码：</th><td>{code}</td></tr>
<tr><th>实施主体</th><td>{dept}</td></tr><tr><th>设定依据</th><td>《条例》第2条</td></tr>
<tr><th>受理条件</th><td>材料齐全</td></tr>{place}
<tr><th>办理时间</th><td>工作日</td></tr><tr><th>承诺办结时限</th><td>5个工作日</td></tr>
<tr><th>法定办结时限</th><td>20个工作日</td></tr><tr><th>办理流程</th><td>申请、受理、决定</td></tr>
<tr><th>是否收费</th><td>否</td></tr><tr><th>咨询电话</th><td>0831-1234567</td></tr><tr><th>监督电话</th><td>12345</td></tr>
<tr><th>更新时间</th><td>2025-03-01</td></tr></table>
<h3>申请材料</h3><table><tr><th>序号</th><th>材料名称</th></tr>{rows}</table>
<a href="/">首页</a></body></html>"""


# A component-framework list: rows drawn from JSON, each bound with addEventListener to open its
# guide in a new tab; no href, no onclick, only the pointer cursor a person sees.
SPA_SHELL = """<html><head><style>.row{cursor:pointer}</style></head><body><div id="app"></div><script>
fetch('/spa/api/items').then(function (r) { return r.json(); }).then(function (d) {
  var app = document.getElementById('app');
  app.innerHTML = d.rows.map(function (r) {
    return '<div class="row" data-id="' + r.id + '">' + r.title + '</div>'; }).join('');
  app.querySelectorAll('.row').forEach(function (el) {
    el.addEventListener('click', function () { window.open('/spa/view/' + el.getAttribute('data-id')); });
  });
});
</script></body></html>"""


class CrawlSite:
    def __init__(self) -> None:
        self.hits: dict[str, list[float]] = defaultdict(list)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self.retry_after = 1

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path].append(time.monotonic())
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nDisallow: /private/\n")
        if path == "/":
            links = '<a href="/catalogue">办事指南</a> <a href="/dept/gongan/">公安厅</a> <a href="/m/">移动端</a>'
            links += ' <a href="/missing.html">失效链接</a> <a href="/private/secret.html">内部</a>'
            links += ' <a href="/busy.html">繁忙</a>'
            return web.Response(
                text=f"<html><body><h1>政务服务网</h1>{links}</body></html>", content_type="text/html"
            )
        if path == "/busy.html":
            if len(self.hits[path]) == 1:
                return web.Response(
                    status=429, headers={"Retry-After": str(self.retry_after)}, text="slow down"
                )
            return web.Response(text="<html><body>ok</body></html>", content_type="text/html")
        if path == "/catalogue":
            rows = "".join(
                f'<tr><td><a href="/guide/{c}.html">{n}</a></td><td>{c}</td><td>{d}</td></tr>'
                for c, n, d in ITEMS
            )
            table = f"<table><tr><th>事项名称</th><th>实施编码</th><th>实施主体</th></tr>{rows}</table>"
            return web.Response(text=f"<html><body>{table}</body></html>", content_type="text/html")
        if path.startswith("/guide/"):
            code = path.rsplit("/", 1)[1].removesuffix(".html")
            for c, n, d in ITEMS:
                if c == code:
                    body = guide_html(c, n, d).encode("gbk")
                    return web.Response(body=body, headers={"Content-Type": "text/html; charset=gbk"})
        if path == "/dept/gongan/":
            links = "".join(
                f'<li><a href="/dept/gongan/guide/{c}.html">{n}</a></li>'
                for c, n, d in ITEMS
                if d == "公安厅"
            )
            return web.Response(text=f"<html><body><ul>{links}</ul></body></html>", content_type="text/html")
        if path.startswith("/dept/gongan/guide/") or path.startswith("/m/guide/"):
            code = path.rsplit("/", 1)[1].removesuffix(".html")
            for c, n, d in ITEMS:
                if c == code:
                    mats = ("身份证",) if path.startswith("/m/") else ("身份证", "户口簿")
                    return web.Response(text=guide_html(c, n, d, materials=mats), content_type="text/html")
        if path == "/spa/":  # a script shell: items bound with addEventListener, no href
            return web.Response(text=SPA_SHELL, content_type="text/html")
        if path == "/spa/api/items":
            rows = [{"id": c, "title": n} for c, n, _ in ITEMS]
            return web.json_response({"rows": rows})
        if path.startswith("/spa/view/"):  # the guide, reachable only by clicking a bound row
            code = path.rsplit("/", 1)[1]
            for c, n, d in ITEMS:
                if c == code:
                    body = (
                        guide_html(c, n, d)
                        .replace(f"<h1>{n}</h1>", "")
                        .replace(f"<tr><th>事项名称</th><td>{n}</td></tr>", "")
                        .replace(f"<title>{n}</title>", "<title>测试政务服务网</title>")
                    )
                    body = body.replace("<table>", f'<div class="t">{n}</div><table>', 1)
                    return web.Response(text=body, content_type="text/html")
        if path == "/m/":
            links = "".join(f'<li><a href="/m/guide/{c}.html">{n}</a></li>' for c, n, _ in ITEMS[:3])
            return web.Response(text=f"<html><body><ul>{links}</ul></body></html>", content_type="text/html")
        return web.Response(status=404, text="not found")

    def start(self) -> CrawlSite:
        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._runner = web.AppRunner(self._app(), access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def write_spa_config(self, directory: Path) -> Path:
        """A config dir with the script-bound list ``/spa/`` as portal ``spa``."""
        (directory / "portals").mkdir(parents=True, exist_ok=True)
        (directory / "portals" / "spa.yaml").write_text(
            f"""id: spa
name: 测试政务服务网
home_url: {self.base}/spa/
politeness: {{concurrency_per_host: 2, delay_seconds: 0, obey_robots: true, autothrottle: false}}
""",
            encoding="utf-8",
        )
        return directory

    def write_config(self, directory: Path) -> Path:
        """A config dir with this site as portal ``site`` (politeness relaxed for tests only)."""
        (directory / "portals").mkdir(parents=True, exist_ok=True)
        (directory / "portals" / "site.yaml").write_text(
            f"""id: site
name: 测试政务服务网
home_url: {self.base}/
departments:
  - {{id: gongan, name: 公安厅, url: "{self.base}/dept/gongan/"}}
mobile: {{url: "{self.base}/m/"}}
politeness: {{concurrency_per_host: 2, delay_seconds: 0, obey_robots: true, autothrottle: false}}
""",
            encoding="utf-8",
        )
        return directory
