"""sbx-shu 蜀南省: a server-rendered Epoint-style portal, GBK pages, layout tables and javascript: links."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs

from aiohttp import web

from sandbox.catalogue import Item
from sandbox.plan import Account, AuthPlan, ChannelPlan, DeptSite, MaskPlan, Plan
from sandbox.provinces import common
from sandbox.search import search
from sandbox.web.channels import guide_rows
from sandbox.web.kit import Runtime, esc, page

ID = "sbx-shu"
FAMILY = "sandbox-1"
LABELS = {
    "实施编码": "事项编码",
    "实施主体": "实施机构",
    "受理条件": "申请条件",
    "申请材料": "申报材料",
    "法定办结时限": "法定时限",
    "承诺办结时限": "承诺时限",
    "监督电话": "监督投诉方式",
    "更新时间": "更新日期",
}
TABS = (  # Epoint guide tabs: (tab title, elements shown in it)
    (
        "基本信息",
        ("事项名称", "实施编码", "实施主体", "法定办结时限", "承诺办结时限", "是否收费", "更新时间"),
    ),
    ("申请条件", ("受理条件",)),
    ("申报材料", ("申请材料",)),
    ("办理流程", ("办理流程",)),
    ("收费标准", ("收费标准",)),
    ("设定依据", ("设定依据",)),
    ("办理地点/时间", ("办理地点", "办理时间", "咨询电话", "监督电话")),
)


def plan() -> Plan:
    keyword_names = tuple(
        n for names in common.KEYWORD_ITEMS.values() for n in names if not n.startswith("网络预约出租汽车")
    )
    items = common.select(
        ID,
        [("区公安分局", 0, 12), ("区民政局", 0, 8), ("区人社局", 0, 14), ("区卫健局", 0, 3)],
        keyword_names,
        ("网约车车辆信息备案",),
    )
    code = {it.name: it.code for it in items}
    return Plan(
        id=ID,
        name="蜀南省政务服务网",
        province="蜀南省",
        style="server-rendered, Epoint-style guide tabs, GBK, layout tables, javascript: links",
        prefix="sn",
        portal_https=False,
        items=items,
        depts=(
            DeptSite("gongan", "公安厅", "公安厅", "sso"),
            DeptSite("minzheng", "民政厅", "民政厅", "second_login"),
            DeptSite("renshe", "人力资源和社会保障厅", "人力资源和社会保障厅", "re_registration"),
        ),
        account=Account(
            "zhoulin88", "Sbx-shu-2025", "周琳", common.id_number("51130219880614302"), "13881234567"
        ),
        auth=AuthPlan(login_over_http=True, hsts=False),
        masking=MaskPlan(name="plain", id_number="first_last", phone="masked"),
        mobile=ChannelPlan(
            missing=frozenset({code["户口迁移审批"], code["临时救助"]}),
            mismatch={code["居住证办理"]: "申请材料", code["失业登记"]: "承诺办结时限"},
            stale=frozenset({code["旅馆业特种行业许可证核发"]}),
            nocode=frozenset(
                {code["企业实行不定时工作制和综合计算工时工作制审批意见和制度方案异地备案（县级）"]}
            ),
        ),
        dept_channels={
            "gongan": ChannelPlan(missing=frozenset({code["注销户口证明"]})),
            "minzheng": ChannelPlan(mismatch={code["重度残疾人护理补贴"]: "收费标准"}),
            "renshe": ChannelPlan(stale=frozenset({code["就业登记"]})),
        },
        deep=frozenset(
            {code["职称评审委员会备案"], code["机关事业单位基本养老保险关系转移接续（含职业年金）申请"]}
        ),
        incomplete={
            code["烟花爆竹道路运输许可"]: ("设定依据", "办理地点"),
            code["养老机构设立备案"]: ("监督电话",),
        },
        synonyms={"个税": ("个人所得税",)},
        broken_links=(
            (
                f"/zwdt/attach/{_guid(code['第二类易制毒化学品运输许可'])}/sqb.doc",
                f"/zwdt/pages/guide/detail?taskguid={_guid(code['第二类易制毒化学品运输许可'])}",
            ),
            ("/zwdt/dept/intro/2", "/"),
        ),
        robots_disallow=("/internal/",),
        label_aliases=LABELS,
        user_centre_path="/zwdt/user/center",
    )


def _guid(code: str) -> str:
    return hashlib.md5(code.encode()).hexdigest()[:16]


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    by_guid = {_guid(it.code): it for it in plan.items}
    shallow = [it for it in plan.items if it.code not in plan.deep]
    broken = {path for path, _ in plan.broken_links}

    def frame(body: str, title: str, request: web.Request) -> web.Response:
        user = rt.site_user("portal", request)
        who = (
            '<a href="/zwdt/user/center">个人中心</a> | <a href="/zwdt/logout">退出</a>'
            if user
            else '<a href="/zwdt/login" class="login-link">登录</a> | <a href="javascript:void(0)" onclick="reg()">注册</a>'
        )
        top = (
            '<table width="100%" class="ewb-top" cellpadding="0" cellspacing="0"><tr>'
            f'<td><a href="/"><img src="/static/logo.png" alt="{esc(plan.name)}" width="1" height="1"></a><b>{esc(plan.name)}</b></td>'
            f'<td align="right">{who}</td></tr></table>'
            '<table class="ewb-search"><tr><td><form action="/zwdt/search" method="get">'
            '<input type="text" name="keyword" placeholder="请输入事项名称" class="ewb-search-input">'
            '<input type="submit" value="搜索" class="ewb-search-btn"></form></td></tr></table>'
        )
        foot = '<table class="ewb-footer" width="100%"><tr><td>主办：蜀南省人民政府办公厅 <a href="javascript:;" onclick="window.open(\'/zwdt/help\')">网站地图</a></td></tr></table>'
        return page(top + body + foot, title=f"{title} - {plan.name}", charset="gbk")

    def dept_items(index: int) -> list[Item]:
        names = sorted({it.department for it in plan.items})
        return [it for it in shallow if it.department == names[index]]

    async def home(request: web.Request) -> web.Response:
        depts = sorted({it.department for it in plan.items})
        cells = "".join(
            f'<td class="ewb-dept"><a href="/zwdt/pages/dept/list?deptindex={i}">{esc(d)}</a>'
            f' <a href="/zwdt/dept/intro/{i}" class="intro">部门介绍</a></td>'
            + ("</tr><tr>" if i % 4 == 3 else "")
            for i, d in enumerate(depts)
        )
        hot = "".join(
            f'<li><a href="javascript:void(0)" onclick="ywblurl(\'{_guid(it.code)}\')">{esc(it.name)}</a></li>'
            for it in shallow[:6]
        )
        body = (
            f'<table class="ewb-block"><tr><th colspan="4">按部门办事</th></tr><tr>{cells}</tr></table>'
            f'<div class="ewb-hot"><h3>热门服务</h3><ul>{hot}</ul></div>'
            '<div class="ewb-more"><a href="/zwdt/more">更多服务</a> <a href="/internal/stats">访问统计</a></div>'
            "<script>function ywblurl(g){location.href='/zwdt/pages/guide/detail?taskguid='+g}</script>"
        )
        return frame(body, "首页", request)

    def item_list(items: list[Item]) -> str:
        rows = "".join(
            f'<tr><td class="sx_title"><a href="/zwdt/pages/guide/detail?taskguid={_guid(it.code)}" target="_blank">{esc(it.name)}</a></td>'
            f'<td><a href="javascript:void(0)" onclick="ywblurl(\'{_guid(it.code)}\')">办事指南</a></td></tr>'
            for it in items
        )
        return f'<table class="ewb-list" width="100%">{rows}</table>'

    async def dept_list(request: web.Request) -> web.Response:
        try:
            items = dept_items(int(request.query.get("deptindex", "")))
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        return frame(item_list(items), "部门事项", request)

    async def dept_intro(request: web.Request) -> web.Response:
        if request.path in broken:
            raise web.HTTPInternalServerError(text="Internal Server Error")
        return frame("<p>部门职能介绍（略）。</p>", "部门介绍", request)

    deep_items = [it for it in plan.items if it.code in plan.deep]

    async def more(request: web.Request) -> web.Response:
        return frame('<ul><li><a href="/zwdt/zt/index">专题服务</a></li></ul>', "更多服务", request)

    async def zt_index(request: web.Request) -> web.Response:
        return frame('<ul><li><a href="/zwdt/zt/cat?c=1">人才服务专题</a></li></ul>', "专题服务", request)

    async def zt_cat(request: web.Request) -> web.Response:
        return frame(
            '<ul><li><a href="/zwdt/zt/sub?c=1&amp;s=1">职称与社保关系</a></li></ul>', "人才服务专题", request
        )

    async def zt_sub(request: web.Request) -> web.Response:
        return frame(item_list(deep_items), "职称与社保关系", request)

    async def guide(request: web.Request) -> web.Response:
        item = by_guid.get(request.query.get("taskguid", ""))
        if item is None:
            raise web.HTTPNotFound()
        rows = dict(guide_rows(plan.portal_guide(item), {}))
        tabs, panes = [], []
        for n, (title, elements) in enumerate(TABS):
            tabs.append(
                f'<li class="ewb-tab{" current" if n == 0 else ""}" onclick="showTab({n})">{title}</li>'
            )
            cells = "".join(
                f'<tr><td class="ewb-label" width="20%">{esc(plan.label(e))}</td><td>{rows[e]}</td></tr>'
                for e in elements
                if e in rows
            )
            style = "" if n == 0 else ' style="display:none"'
            panes.append(
                f'<div class="ewb-pane" id="pane{n}"{style}><table width="100%" border="1">{cells}</table></div>'
            )
        guid = _guid(item.code)
        attach = f'<p>表格下载：<a href="/zwdt/attach/{guid}/sqb.doc">申请表.doc</a></p>'
        dept = plan.dept_of(item)
        online = (
            f'<a class="ewb-btn" href="{esc(rt.url("dept:" + dept.id, dept.entry_path, item=item.code))}">在线办理</a>'
            if dept
            else '<span class="ewb-btn disabled">仅窗口办理</span>'
        )
        body = (
            f'<h2 class="ewb-title">{esc(item.name)}</h2><div class="ewb-ops">{online}</div>'
            f'<ul class="ewb-tabs">{"".join(tabs)}</ul>{"".join(panes)}{attach}'
            "<script>function showTab(n){var p=document.querySelectorAll('.ewb-pane');"
            "for(var i=0;i<p.length;i++){p[i].style.display=i==n?'':'none'}}</script>"
        )
        return frame(body, item.name, request)

    async def attachment(request: web.Request) -> web.Response:
        if request.path in broken:
            raise web.HTTPNotFound()
        return web.Response(body=b"sandbox form\n", content_type="application/msword")

    async def search_page(request: web.Request) -> web.Response:
        # a GBK page's form sends GBK-encoded bytes; accept UTF-8 too, as legacy portals do
        raw = request.rel_url.raw_query_string
        try:
            query = parse_qs(raw, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            query = parse_qs(raw, encoding="gbk", errors="replace")
        keyword = (query.get("keyword") or [""])[0].strip()
        try:
            page_no = max(1, int(request.query.get("pageIndex", "1")))
        except ValueError:
            page_no = 1
        results = search(plan, keyword)
        shown = results[(page_no - 1) * 10 : page_no * 10]
        rows = "".join(
            f'<tr><td class="sx_title"><a href="/zwdt/pages/guide/detail?taskguid={_guid(it.code)}">{esc(it.name)}</a></td>'
            f"<td>{esc(it.department)}</td></tr>"
            for it in shown
        )
        pager = ""
        if len(results) > page_no * 10:
            pager = f'<a href="/zwdt/search?keyword={esc(keyword)}&amp;pageIndex={page_no + 1}">下一页</a>'
        summary = f"<p>共找到 {len(results)} 条结果</p>" if results else "<p class='empty'>未找到相关事项</p>"
        return frame(
            f'{summary}<table class="ewb-result" width="100%">{rows}</table>{pager}', "搜索结果", request
        )

    async def login(request: web.Request) -> web.StreamResponse:
        raise common.login_redirect(rt, "/zwdt/sso/callback", "/zwdt/user/center")

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    async def logout(request: web.Request) -> web.StreamResponse:
        response = web.HTTPFound("/")
        response.del_cookie(rt.cookie("portal"), path="/")
        raise response

    async def user_centre(request: web.Request) -> web.StreamResponse:
        if rt.site_user("portal", request) is None:
            raise web.HTTPFound("/zwdt/login")
        d = common.user_data(plan, masked=True)
        body = (
            '<table class="ewb-user" border="1"><tr><th colspan="2">个人资料</th></tr>'
            f"<tr><td>姓名</td><td>{esc(d['name'])}</td></tr><tr><td>证件号码</td><td>{esc(d['id_number'])}</td></tr>"
            f"<tr><td>手机号码</td><td>{esc(d['phone'])}</td></tr></table>"
        )
        return frame(body, "个人中心", request)

    async def robots(request: web.Request) -> web.Response:
        lines = ["User-agent: *", *(f"Disallow: {p}" for p in plan.robots_disallow)]
        return web.Response(text="\n".join(lines) + "\n")

    async def internal(request: web.Request) -> web.Response:
        raise web.HTTPInternalServerError(text="statistics backend unavailable")

    async def logo(request: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="image/png")

    async def help_page(request: web.Request) -> web.Response:
        return frame("<p>网站地图</p>", "网站地图", request)

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/internal/{tail:.*}", internal)
    app.router.add_get("/static/logo.png", logo)
    app.router.add_get("/static/stat.js", common.stat_js)
    app.router.add_get("/zwdt/pages/dept/list", dept_list)
    app.router.add_get("/zwdt/dept/intro/{i}", dept_intro)
    app.router.add_get("/zwdt/more", more)
    app.router.add_get("/zwdt/zt/index", zt_index)
    app.router.add_get("/zwdt/zt/cat", zt_cat)
    app.router.add_get("/zwdt/zt/sub", zt_sub)
    app.router.add_get("/zwdt/pages/guide/detail", guide)
    app.router.add_get("/zwdt/attach/{guid}/{file}", attachment)
    app.router.add_get("/zwdt/search", search_page)
    app.router.add_get("/zwdt/login", login)
    app.router.add_get("/zwdt/sso/callback", callback)
    app.router.add_get("/zwdt/logout", logout)
    app.router.add_get("/zwdt/user/center", user_centre)
    app.router.add_get("/zwdt/help", help_page)
    return app
