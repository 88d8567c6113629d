"""sbx-jin 晋北省: server-rendered guides, search through a signed POST JSON API, captcha login.

Unsigned or badly signed searches get 403. The user centre is filled by an XHR whose JSON carries
the full name (the page masks it in script): the leak a screenshot never shows.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from aiohttp import web

from sandbox.plan import Account, AuthPlan, ChannelPlan, DeptSite, MaskPlan, Plan
from sandbox.provinces import common
from sandbox.search import search
from sandbox.web.channels import guide_rows
from sandbox.web.kit import Runtime, esc, page

ID = "sbx-jin"
FAMILY = "sandbox-1"
APP_KEY = "jb2025#zwfw!sign"
SEARCH_JS = Path(__file__).with_name("jin_search.js")
LABELS = {
    "实施编码": "事项编码",
    "实施主体": "受理机构",
    "设定依据": "办理依据",
    "申请材料": "办理材料",
    "办理流程": "办理程序",
    "收费标准": "收费项目",
    "咨询电话": "咨询方式",
    "更新时间": "发布时间",
}


def plan() -> Plan:
    keyword_names = common.offered_keyword_names(("住房公积金缴存登记",))
    items = common.select(
        ID,
        [("区住建局", 0, 12), ("区自然资源和规划局", 0, 10), ("区公安分局", 12, 10)],
        keyword_names,
        (common.CANCELLED_ITEM,),
    )

    def of(dept: str, i: int) -> str:
        return common.codes_of(items, dept)[i]

    def named(name: str) -> str:
        return next(it.code for it in items if it.name == name)

    return Plan(
        id=ID,
        name="晋北省政务服务网",
        province="晋北省",
        style="server-rendered guides, search via signed POST JSON API, image-captcha login",
        prefix="jb",
        portal_https=True,
        items=items,
        depts=(
            DeptSite("zhujian", "住房和城乡建设厅", "住房和城乡建设厅", "sso", "/zjt/bszn", "/zjt/bszn/view"),
            DeptSite("ziran", "自然资源厅", "自然资源厅", "sso", "/zrzy/fwsx", "/zrzy/fwsx/info"),
            DeptSite(
                "gongan", "公安厅", "公安厅", "second_login", "/gat/wsbs", "/gat/wsbs/zn", "/gat/yw/apply"
            ),
        ),
        account=Account(
            "chenjg1975", "Sbx-jin-2025", "陈建国", common.id_number("14010519750923871"), "13903512468"
        ),
        auth=AuthPlan(form_posts_http=True, mixed_content=True, hsts=False, captcha=True),
        masking=MaskPlan(
            name="keep_first_last", id_number="first_last", phone="plain", name_leaks_in_api=True
        ),
        mobile=ChannelPlan(
            missing=frozenset({of("住房和城乡建设厅", 3)}),
            mismatch={of("自然资源厅", 2): "收费标准"},
            stale=frozenset({of("公安厅", 4), named("最低生活保障")}),
        ),
        dept_channels={
            "zhujian": ChannelPlan(mismatch={of("住房和城乡建设厅", 5): "承诺办结时限"}),
            "gongan": ChannelPlan(nocode=frozenset({of("公安厅", 1)}), missing=frozenset({of("公安厅", 6)})),
        },
        incomplete={
            of("自然资源厅", 4): ("法定办结时限",),
            of("住房和城乡建设厅", 8): ("办理地点", "办理时间", "监督电话"),
        },
        cancelled=frozenset({named(common.CANCELLED_ITEM)}),
        synonyms={k: common.FULL_SYNONYMS[k] for k in ("低保", "网约车", "开公司")},
        broken_links=(
            (
                f"/bsdt/files/{_key(of('自然资源厅', 0))}/yangbiao.pdf",
                f"/bsdt/item/{_key(of('自然资源厅', 0))}.html",
            ),
        ),
        label_aliases=LABELS,
        user_centre_path="/bsdt/uc/index.html",
    )


def _key(code: str) -> str:
    return hashlib.sha1(code.encode()).hexdigest()[:12]


def expected_sign(params: dict[str, str], timestamp: str) -> str:
    text = "&".join(f"{k}={params[k]}" for k in sorted(params)) + f"&timestamp={timestamp}&key={APP_KEY}"
    return hashlib.sha256(text.encode()).hexdigest()


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    by_key = {_key(it.code): it for it in plan.items}
    depts = sorted({it.department for it in plan.items})
    broken = {p for p, _ in plan.broken_links}

    def frame(body: str, title: str, request: web.Request, head: str = "") -> web.Response:
        user = rt.site_user("portal", request)
        who = (
            '<a href="/bsdt/uc/index.html">用户中心</a>'
            if user
            else '<a href="/bsdt/login.html" id="jb-login">个人登录</a>'
        )
        top = (
            f'<div class="jb-head"><a href="/" class="jb-brand">{esc(plan.name)}</a>'
            f'<div class="jb-user">{who}</div></div>'
            '<div class="jb-nav"><a href="/">首页</a><a href="/bsdt/search.html">事项检索</a></div>'
        )
        return page(top + f'<div class="jb-main">{body}</div>', title=f"{title}_{plan.name}", head=head)

    async def home(request: web.Request) -> web.Response:
        links = "".join(f'<li><a href="/bsdt/bm/{i}.html">{esc(d)}</a></li>' for i, d in enumerate(depts))
        body = (
            '<form class="jb-quick" action="/bsdt/search.html" method="get"><input name="kw" placeholder="输入关键字查找服务">'
            '<button type="submit">查找</button></form>'
            f'<div class="jb-box"><div class="jb-box-t">部门办事</div><ul class="jb-depts">{links}</ul></div>'
        )
        return frame(body, "首页", request)

    async def dept_page(request: web.Request) -> web.Response:
        try:
            name = depts[int(request.match_info["i"])]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        rows = "".join(
            f'<li><a href="/bsdt/item/{_key(it.code)}.html">{esc(it.name)}</a></li>'
            for it in plan.items
            if it.department == name
        )
        return frame(f'<h3>{esc(name)}</h3><ul class="jb-items">{rows}</ul>', name, request)

    async def item_page(request: web.Request) -> web.Response:
        item = by_key.get(request.match_info["key"])
        if item is None:
            raise web.HTTPNotFound()
        rows = "".join(
            f"<dt>{esc(label)}</dt><dd>{value}</dd>"
            for label, value in guide_rows(plan.portal_guide(item), LABELS)
        )
        dept = plan.dept_of(item)
        online = ""
        if dept is not None:
            href = rt.url(f"dept:{dept.id}", dept.entry_path, item=item.code)
            online = f'<p class="jb-act"><a href="{esc(href)}" class="jb-apply">立即办理</a></p>'
        files = f'<p>样表下载：<a href="/bsdt/files/{_key(item.code)}/yangbiao.pdf">示例样表</a></p>'
        return frame(
            f'<h2 class="jb-title">{esc(item.name)}</h2>{online}<dl class="jb-guide">{rows}</dl>{files}',
            item.name,
            request,
        )

    async def files(request: web.Request) -> web.Response:
        if request.path in broken:
            raise web.HTTPNotFound()
        return web.Response(body=b"%PDF-1.4\n% sandbox sample\n", content_type="application/pdf")

    async def search_page(request: web.Request) -> web.Response:
        body = (
            '<form id="jb-form" class="jb-search"><input id="jb-kw" name="kw" placeholder="请输入关键字">'
            '<button type="submit">检索</button></form><p id="jb-total"></p><ul id="jb-result"></ul>'
            '<button id="jb-next" type="button" style="display:none">下一页</button>'
            '<script src="/bsdt/js/search.js"></script>'
        )
        return frame(body, "事项检索", request)

    async def search_js(request: web.Request) -> web.Response:
        text = SEARCH_JS.read_text(encoding="utf-8").replace("__APP_KEY__", APP_KEY)
        return web.Response(text=text, content_type="application/javascript")

    async def api_search(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            params = {k: str(body[k]) for k in ("keyword", "pageNo", "pageSize")}
            timestamp, sign = str(body["timestamp"]), str(body["sign"])
            page_no, size = max(1, int(params["pageNo"])), min(50, max(1, int(params["pageSize"])))
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            return web.json_response({"status": 403, "msg": "非法请求"}, status=403)
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 300_000
        if not fresh or sign != expected_sign(params, timestamp):
            return web.json_response({"status": 403, "msg": "签名校验失败"}, status=403)
        found = search(plan, params["keyword"])
        rows = [
            {
                "sxmc": it.name,
                "sxbm": it.code,
                "ssbm": it.department,
                "url": f"/bsdt/item/{_key(it.code)}.html",
            }
            for it in found[(page_no - 1) * size : page_no * size]
        ]
        return web.json_response({"status": 200, "result": {"total": len(found), "rows": rows}})

    async def login(request: web.Request) -> web.StreamResponse:
        raise common.login_redirect(rt, "/bsdt/sso/callback", "/bsdt/uc/index.html")

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    async def user_centre(request: web.Request) -> web.StreamResponse:
        if rt.site_user("portal", request) is None:
            raise web.HTTPFound("/bsdt/login.html")
        body = (
            '<h3>用户中心</h3><table class="jb-uc"><tr><th>姓名</th><td id="uc-name">加载中</td></tr>'
            '<tr><th>身份证号</th><td id="uc-id"></td></tr><tr><th>手机</th><td id="uc-phone"></td></tr></table>'
            "<script>fetch('/bsdt/api/uc/profile',{credentials:'same-origin'}).then(function(r){return r.json()})"
            ".then(function(r){var u=r.result;var n=u.xm;"
            "document.getElementById('uc-name').textContent=n.length>2?n[0]+'*'.repeat(n.length-2)+n[n.length-1]:n[0]+'*';"
            "document.getElementById('uc-id').textContent=u.sfzh;document.getElementById('uc-phone').textContent=u.sjhm;})</script>"
        )
        return frame(body, "用户中心", request)

    async def api_profile(request: web.Request) -> web.Response:
        if rt.site_user("portal", request) is None:
            return web.json_response({"status": 401, "msg": "请登录"}, status=401)
        full = common.user_data(plan, masked=False)
        shown = common.user_data(plan, masked=True)
        return web.json_response(
            {
                "status": 200,
                "result": {"xm": full["name"], "sfzh": shown["id_number"], "sjhm": shown["phone"]},
            }
        )

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/static/stat.js", common.stat_js)
    app.router.add_get("/bsdt/bm/{i}.html", dept_page)
    app.router.add_get("/bsdt/item/{key}.html", item_page)
    app.router.add_get("/bsdt/files/{key}/{name}", files)
    app.router.add_get("/bsdt/search.html", search_page)
    app.router.add_get("/bsdt/js/search.js", search_js)
    app.router.add_post("/bsdt/api/search", api_search)
    app.router.add_get("/bsdt/login.html", login)
    app.router.add_get("/bsdt/sso/callback", callback)
    app.router.add_get("/bsdt/uc/index.html", user_centre)
    app.router.add_get("/bsdt/api/uc/profile", api_profile)
    return app
