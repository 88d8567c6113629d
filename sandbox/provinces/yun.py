"""sbx-yun 云西省: every host behind a JS cookie challenge with per-client rate limiting.

The portal is server-rendered (div layout); its search is full-text over the guide body, which is
what makes results imprecise. The login host's certificate is signed by an untrusted CA.
"""

from __future__ import annotations

import hashlib

from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.catalogue import Item
from sandbox.plan import Account, AuthPlan, ChannelPlan, DeptSite, MaskPlan, Plan
from sandbox.provinces import common
from sandbox.search import search
from sandbox.web.channels import guide_rows
from sandbox.web.kit import Runtime, esc, page
from sandbox.web.waf import Waf

ID = "sbx-yun"
FAMILY = "sandbox-1"
LABELS = {
    "实施主体": "办理部门",
    "受理条件": "办理条件",
    "申请材料": "材料清单",
    "办理流程": "办事流程",
    "法定办结时限": "法定时限",
    "承诺办结时限": "承诺时限",
    "办理地点": "受理地点",
    "办理时间": "受理时间",
    "监督电话": "投诉电话",
}


def plan() -> Plan:
    keyword_names = common.offered_keyword_names(())
    items = common.select(
        ID, [("区行政审批局", 0, 14), ("广安区税务局", 0, 12), ("区人社局", 20, 10)], keyword_names
    )

    def of(dept: str, i: int) -> str:
        return common.codes_of(items, dept)[i]

    return Plan(
        id=ID,
        name="云西省政务服务网",
        province="云西省",
        style="JS cookie challenge (WAF) on every host, per-client rate limiting (429 + Retry-After), full-text search",
        prefix="yx",
        portal_https=True,
        items=items,
        depts=(
            DeptSite("shenpi", "政务服务管理局", "政务服务管理局", "sso", "/spj/list", "/spj/item"),
            DeptSite(
                "shuiwu", "税务局", "税务局", "re_registration", "/etax/sx", "/etax/sx/detail", "/etax/apply"
            ),
            DeptSite(
                "renshe", "人力资源和社会保障厅", "人力资源和社会保障厅", "sso", "/rs/ggfw", "/rs/ggfw/zn"
            ),
        ),
        account=Account(
            "liudm_yx", "Sbx-yun-2025", "刘德明", common.id_number("53010219820517241"), "18787012345"
        ),
        auth=AuthPlan(untrusted_cert=True),
        masking=MaskPlan(name="keep_first_stars", id_number="plain", phone="masked"),
        mobile=ChannelPlan(
            missing=frozenset({of("税务局", 2)}),
            mismatch={of("政务服务管理局", 3): "申请材料", of("人力资源和社会保障厅", 1): "承诺办结时限"},
            stale=frozenset({of("政务服务管理局", 5)}),
            nocode=frozenset({of("政务服务管理局", 7)}),
        ),
        dept_channels={
            "shuiwu": ChannelPlan(nocode=frozenset({of("税务局", 0)}), stale=frozenset({of("税务局", 4)})),
            "shenpi": ChannelPlan(missing=frozenset({of("政务服务管理局", 9)})),
        },
        incomplete={
            of("税务局", 6): ("设定依据", "承诺办结时限"),
            of("人力资源和社会保障厅", 3): ("咨询电话",),
        },
        synonyms={k: common.FULL_SYNONYMS[k] for k in ("个税", "卫生证", "工业生产许可", "社保")},
        fulltext_search=True,
        label_aliases=LABELS,
        user_centre_path="/portal/user/home",
        home_path="/portal/index",
    )


def middlewares(rt: Runtime) -> list[Middleware]:
    """One WAF per province, shared by all its hosts."""
    waf = Waf(secret=hashlib.sha256(rt.plan.id.encode()).digest())
    return [waf.middleware()]


def _slug(code: str) -> str:
    return hashlib.blake2s(code.encode(), digest_size=6).hexdigest()


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    by_slug = {_slug(it.code): it for it in plan.items}
    depts = sorted({it.department for it in plan.items})

    def frame(body: str, title: str, request: web.Request) -> web.Response:
        user = rt.site_user("portal", request)
        who = (
            '<a href="/portal/user/home">个人空间</a>'
            if user
            else '<a href="/portal/user/login" class="yx-btn">登录</a>'
        )
        head = (
            f'<div class="yx-header"><div class="yx-logo">{esc(plan.name)}</div>'
            '<div class="yx-search"><form action="/portal/search" method="get"><input name="q" aria-label="站内搜索" placeholder="搜索办事服务">'
            f'<button>搜一下</button></form></div><div class="yx-login">{who}</div></div>'
        )
        return page(head + f'<div class="yx-body">{body}</div>', title=f"{plan.name}-{title}")

    def cards(items: list[Item]) -> str:
        return "".join(
            f'<div class="yx-item"><a href="/portal/guide/{_slug(it.code)}">{esc(it.name)}</a><span>{esc(it.department)}</span></div>'
            for it in items
        )

    async def home(request: web.Request) -> web.Response:
        tiles = "".join(
            f'<a class="yx-tile" href="/portal/bmfw?org={i}">{esc(d)}</a>' for i, d in enumerate(depts)
        )
        return frame(
            f'<div class="yx-section"><div class="yx-title">部门服务</div><div class="yx-tiles">{tiles}</div></div>',
            "首页",
            request,
        )

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/portal/index")

    async def dept(request: web.Request) -> web.Response:
        try:
            name = depts[int(request.query.get("org", ""))]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        return frame(
            f'<div class="yx-title">{esc(name)}</div>{cards([it for it in plan.items if it.department == name])}',
            name,
            request,
        )

    async def guide(request: web.Request) -> web.Response:
        item = by_slug.get(request.match_info["slug"])
        if item is None:
            raise web.HTTPNotFound()
        fields = "".join(
            f'<div class="yx-field"><span class="yx-k">{esc(label)}</span><div class="yx-v">{value}</div></div>'
            for label, value in guide_rows(plan.portal_guide(item), LABELS)
        )
        dept_site = plan.dept_of(item)
        act = ""
        if dept_site is not None:
            href = rt.url(f"dept:{dept_site.id}", dept_site.entry_path, item=item.code)
            act = f'<a class="yx-btn yx-apply" href="{esc(href)}">在线办理</a>'
        return frame(
            f'<div class="yx-title">{esc(item.name)}</div>{act}<div class="yx-guide">{fields}</div>',
            item.name,
            request,
        )

    async def search_page(request: web.Request) -> web.Response:
        q = request.query.get("q", "").strip()
        try:
            start = max(0, int(request.query.get("start", "0")))
        except ValueError:
            start = 0
        found = search(plan, q)
        nxt = (
            f'<a class="yx-next" href="/portal/search?q={esc(q)}&amp;start={start + 10}">下一页</a>'
            if len(found) > start + 10
            else ""
        )
        body = f'<div class="yx-title">搜索“{esc(q)}”，找到{len(found)}条服务</div>{cards(found[start : start + 10])}{nxt}'
        return frame(body, "搜索", request)

    async def login(request: web.Request) -> web.StreamResponse:
        raise common.login_redirect(rt, "/portal/user/sso", "/portal/user/home")

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    async def user_home(request: web.Request) -> web.StreamResponse:
        if rt.site_user("portal", request) is None:
            raise web.HTTPFound("/portal/user/login")
        d = common.user_data(plan, masked=True)
        body = (
            '<div class="yx-title">个人空间</div><div class="yx-profile">'
            f"<p>用户姓名：<b>{esc(d['name'])}</b></p><p>身份证件：<b>{esc(d['id_number'])}</b></p>"
            f"<p>联系电话：<b>{esc(d['phone'])}</b></p></div>"
        )
        return frame(body, "个人空间", request)

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n")

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/static/stat.js", common.stat_js)
    app.router.add_get("/portal/index", home)
    app.router.add_get("/portal/bmfw", dept)
    app.router.add_get("/portal/guide/{slug}", guide)
    app.router.add_get("/portal/search", search_page)
    app.router.add_get("/portal/user/login", login)
    app.router.add_get("/portal/user/sso", callback)
    app.router.add_get("/portal/user/home", user_home)
    return app
