"""Hand-made portal pages in styles the sandbox does not use, for the search and login observers.

Four search styles (a server-rendered form opening a results page, optionally in a new tab, also
from a search that takes a second to answer; the same form in a header frame opening its results
in the main frame; a script-only box whose 检索 button fetches JSON and renders a table; a
component-framework app with an icon-only button and clickable cards without links) and a login
journey (header 登录 link, or a div with a script click → redirect → QR-code tab first →
账号密码登录 tab → form sent by fetch).
The server counts POSTs so tests can prove no credential attempt ever reached it, and records the
searches its results pages answered so tests can prove a keyword was searched once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RESULTS = {
    "低保": ["最低生活保障金给付", "城乡居民最低生活保障对象认定", "特困人员救助供养", "临时救助"],
    "公积金": ["住房公积金个人账户设立", "住房公积金贷款", "机动车登记", "出生登记"],
    "网约车": ["网约车车辆信息备案"],
}

NAV = (
    "<header><nav><ul>"
    + "".join(f"<li><a href='/c{i}'>栏目导航{i}</a></li>" for i in range(6))
    + "</ul></nav></header>"
)
FOOT = "<footer><ul><li><a href='/about'>关于我们网站</a></li><li><a href='/map'>网站地图导航</a></li></ul></footer>"
HOT = (
    "<div><h4>热门服务</h4><ul>"
    + "".join(f"<li><a href='/h{i}'>热门事项{i}号办理</a></li>" for i in range(5))
    + "</ul></div>"
)


def _home_form(target: str, action: str = "/search") -> str:
    return (
        f"<html><body>{NAV}<div class='s'><form action='{action}' method='get' {target}>"
        "<input name='q' type='text' placeholder='请输入关键字'><button type='submit'>搜索</button></form></div>"
        f"{HOT}{FOOT}</body></html>"
    )


def _results_page(q: str) -> str:
    titles = RESULTS.get(q, [])
    if titles:
        items = "".join(
            f"<div class='r'><h3><a href='/item/{i}'>{escape(t)}</a></h3><p>所属部门：民政厅 <a href='/g/{i}'>办事指南</a></p></div>"
            for i, t in enumerate(titles)
        )
        body = f"<p>为您找到相关结果{len(titles)}个</p><div>{items}</div><div><a href='#'>1</a><a href='#'>下一页</a></div>"
    else:
        body = f"<p>抱歉，没有找到与“{escape(q)}”相关的结果。</p>"
    return f"<html><body>{NAV}<main>{body}</main><aside>{HOT}</aside>{FOOT}</body></html>"


SPA_HOME = (
    "<html><body>" + NAV + "<div><label>事项检索</label><input id='kw' type='text'>"
    "<span class='btn' onclick='go()'>检索</span></div><div id='out'></div>" + HOT + FOOT + "<script>"
    "async function go(){const q=document.getElementById('kw').value;"
    "const r=await fetch('/api/search?q='+encodeURIComponent(q));const d=await r.json();"
    "await new Promise(ok=>setTimeout(ok,400));const out=document.getElementById('out');"
    "if(!d.length){out.innerHTML='<p>暂无数据</p>';return;}"
    "out.innerHTML='<table><tbody>'+d.map((t,i)=>`<tr><td><a href=\"/item/${i}\">${t}</a></td><td>民政厅</td></tr>`).join('')+'</tbody></table>';}"
    "</script></body></html>"
)

# A legacy frame layout: the search form sits in a header frame and opens its results in the
# main frame (target=main), as older city portals do.
FRAMED_HOME = (
    "<html><body><iframe name='head' src='/framed-head' width='100%' height='90'></iframe>"
    "<iframe name='main' src='/framed-main' width='100%' height='600'></iframe></body></html>"
)
FRAMED_HEAD = (
    "<html><body><form action='/search' method='get' target='main'>"
    "<input name='q' type='text' placeholder='请输入关键字'><input type='submit' value='搜索'></form></body></html>"
)

# A component-framework app (Vue/React style, as many newer portals are): the placeholder names
# what to type rather than "search", the button is an icon with no text, Enter is not bound, and
# the results are cards whose clicks are script listeners (no href, no onclick attribute): what
# makes them results for a person is that they look clickable (pointer cursor) and repeat.
APP_HOME = (
    "<html><head><style>.card{cursor:pointer;padding:8px;border:1px solid #ddd;margin:4px}"
    ".card .t{font-size:18px;font-weight:bold}.btn{cursor:pointer;width:40px;height:32px;display:inline-block;"
    "background:#36f}.tab{cursor:pointer;display:inline-block;margin:0 8px}</style></head><body>"
    + NAV
    + "<div class='hd'><span class='tab'>个人服务</span><span class='tab'>法人服务</span><span class='tab'>部门服务</span></div>"
    "<div class='bar'><input id='kw' type='text' placeholder='请输入您要办理的事项'><div class='btn'><i class='ic'></i></div></div>"
    "<div id='out'></div>" + HOT + FOOT + "<script>"
    "document.querySelector('.btn').addEventListener('click',async()=>{const q=document.getElementById('kw').value;"
    "const r=await fetch('/api/search?q='+encodeURIComponent(q));const d=await r.json();"
    "await new Promise(ok=>setTimeout(ok,300));const out=document.getElementById('out');"
    "if(!d.length){out.innerHTML='<div class=\"none\">暂无相关事项</div>';return;}"
    'out.innerHTML=d.map((t,i)=>`<div class="card" data-i="${i}"><div class="t">${t}</div>'
    "<div class=\"m\">实施主体：民政厅　办理类型：即办件</div></div>`).join('');"
    "out.querySelectorAll('.card').forEach(c=>c.addEventListener('click',()=>{location.hash='#/guide/'+c.dataset.i;}));});"
    "</script></body></html>"
)

# The same journey from a component-framework header: 登录 is a div whose click is a listener.
APP_LOGIN_HOME = (
    "<html><head><style>.login{cursor:pointer;display:inline-block;padding:4px}</style></head><body>"
    "<div class='top'><div class='logo'>某省政务服务网</div><div class='login'><span>登录</span></div>"
    f"<div class='login'>注册</div></div>{HOT}{FOOT}<script>"
    "document.querySelector('.login').addEventListener('click',()=>{location.href='/sso/entry';});"
    "</script></body></html>"
)

LOGIN_HOME = f"<html><body><header><a href='/sso/entry'>登录</a> <a href='/reg'>注册</a></header>{HOT}{FOOT}</body></html>"
LOGIN_PAGE = (
    "<html><head><script src='http://127.0.0.1:9/stat.js'></script></head><body>"
    "<div><span id='t1'>扫码登录</span><span id='t2' onclick=\"document.getElementById('pw').style.display='block'\">"
    "账号密码登录</span></div><div id='qr'>请使用App扫码</div>"
    "<div id='pw' style='display:none'><form id='f' action='http://{host}/sso/form-action' method='post'>"
    "<input name='u' type='text' placeholder='用户名'><input name='p' type='password'>"
    "<input name='v' type='text' placeholder='验证码'><button type='submit'>登 录</button></form></div>"
    "<script>document.getElementById('f').addEventListener('submit',async e=>{e.preventDefault();"
    "await fetch('/api/login',{method:'POST',headers:{'Content-Type':'application/json'},"
    "body:JSON.stringify({u:e.target.u.value,p:e.target.p.value})});});</script></body></html>"
)


# A legacy layout-table portal (header, search and footer are tables beside the result table), as
# GBK-era portals are: with a single result, the unchanged header and footer tables around it are
# page furniture, never results.
TABLE_TOP = (
    "<table width='100%'><tr><td><b>某市政务服务网</b></td><td align='right'><a href='/login'>登录</a> | "
    "<a href='javascript:void(0)'>注册</a></td></tr></table><table><tr><td><form action='/tsearch' method='get'>"
    "<input name='q' type='text' placeholder='请输入事项名称'><input type='submit' value='搜索'></form></td></tr></table>"
)
TABLE_FOOT = (
    "<table width='100%'><tr><td>主办：某市人民政府办公室 "
    "<a href='javascript:;' onclick=\"window.open('/map')\">网站地图</a></td></tr></table>"
)
TABLE_HOME = (
    f"<html><body>{TABLE_TOP}<table><tr><td><a href='/d1'>公安局</a></td><td><a href='/d2'>民政局</a></td>"
    f"</tr></table>{TABLE_FOOT}</body></html>"
)


def _table_results(q: str) -> str:
    rows = "".join(
        f"<tr><td><a href='/g/{i}'>{escape(t)}</a></td><td>交通运输局</td></tr>"
        for i, t in enumerate(RESULTS.get(q, []))
    )
    return (
        f"<html><body>{TABLE_TOP}<p>共找到 {len(RESULTS.get(q, []))} 条结果</p>"
        f"<table width='100%'>{rows}</table>{TABLE_FOOT}</body></html>"
    )


@dataclass
class Site:
    base: str
    posts: list[str] = field(default_factory=list)
    searches: list[tuple[str, str]] = field(default_factory=list)  # (path, q) of each results page


@contextmanager
def serve() -> Iterator[Site]:
    """The hand-made portal on an ephemeral loopback port."""
    site = Site("")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, body: str, kind: str = "text/html", status: int = 200, location: str = "") -> None:
            data = body.encode()
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            q = parse_qs(parts.query).get("q", [""])[0]
            host = self.headers.get("Host", "")
            pages = {
                "/form": _home_form(""),
                "/form-newtab": _home_form("target='_blank'"),
                "/form-newtab-slow": _home_form("target='_blank'", action="/search-slow"),
                "/search": _results_page(q),
                "/tables": TABLE_HOME,
                "/tsearch": _table_results(q),
                "/spa": SPA_HOME,
                "/app": APP_HOME,
                "/framed": FRAMED_HOME,
                "/framed-head": FRAMED_HEAD,
                "/framed-main": f"<html><body>{HOT}{FOOT}</body></html>",
                "/login-home": LOGIN_HOME,
                "/app-login-home": APP_LOGIN_HOME,
                "/sso/login": LOGIN_PAGE.replace("{host}", host),
            }
            if parts.path in ("/search", "/search-slow"):
                site.searches.append((parts.path, q))
            if parts.path == "/search-slow":  # a results page that takes a second to answer
                time.sleep(1.0)
                self._send(_results_page(q))
            elif parts.path == "/api/search":
                self._send(json.dumps(RESULTS.get(q, []), ensure_ascii=False), "application/json")
            elif parts.path == "/sso/entry":
                self._send("", status=302, location="/sso/login?service=/home")
            elif parts.path in pages:
                self._send(pages[parts.path])
            else:
                self._send("<html><body><p>栏目页</p></body></html>")

        def do_POST(self) -> None:
            site.posts.append(self.path)
            self._send("{}", "application/json")

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
