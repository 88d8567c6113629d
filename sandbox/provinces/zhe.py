"""sbx-zhe 浙东省: a hash-routed single-page app whose lists, guides and search come from a JSON API.

The compliant province: https with HSTS, SSO everywhere, *大友-style masking, synonym-aware search,
channels in sync, no broken links.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from sandbox.catalogue import Item
from sandbox.plan import Account, AuthPlan, ChannelPlan, DeptSite, MaskPlan, Plan
from sandbox.provinces import common
from sandbox.search import search
from sandbox.web.kit import Runtime, esc, page

ID = "sbx-zhe"
FAMILY = "sandbox-1"
APP_JS = Path(__file__).with_name("zhe_app.js")
JSON_KEYS = {
    "事项名称": "taskName",
    "实施编码": "taskCode",
    "实施主体": "deptName",
    "设定依据": "byLaw",
    "受理条件": "acceptCondition",
    "办理流程": "handleFlow",
    "法定办结时限": "anticipateDay",
    "承诺办结时限": "promiseDay",
    "办理地点": "transactAddr",
    "办理时间": "transactTime",
    "是否收费": "isFee",
    "收费标准": "feeStand",
    "咨询电话": "linkWay",
    "监督电话": "superviseWay",
}
# The 5-click chain: #/topics → #/topics/1 → #/topics/1/1 → #/topics/1/1/1 → #/guide/<code>
TOPICS = {"": "主题服务", "1": "特殊群体", "1/1": "老年人", "1/1/1": "优待服务"}


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def plan() -> Plan:
    keyword_names = tuple(n for names in common.KEYWORD_ITEMS.values() for n in names)
    items = common.select(
        ID,
        [("区交通运输局", 0, 12), ("区医疗保障局", 0, 10), ("区市监局", 0, 10), ("区卫健局", 2, 5)],
        keyword_names,
    )
    code = {it.name: it.code for it in items}
    return Plan(
        id=ID,
        name="浙东省政务服务网",
        province="浙东省",
        style="hash-routed single-page app, JSON API (lists, guides, search)",
        prefix="zd",
        portal_https=True,
        items=items,
        depts=(
            DeptSite("jiaotong", "交通运输厅", "交通运输厅", "sso", "/jtyw/matters", "/jtyw/matter"),
            DeptSite("yibao", "医疗保障局", "医疗保障局", "sso", "/ybfw/list", "/ybfw/detail"),
            DeptSite("shijian", "市场监督管理局", "市场监督管理局", "sso", "/scjg/sx", "/scjg/sxxq"),
        ),
        account=Account(
            "ouyangxf", "Sbx-zhe-2025", "欧阳晓峰", common.id_number("33010619910307651"), "15857112345"
        ),
        auth=AuthPlan(),
        masking=MaskPlan(name="hide_first", id_number="birth_hidden", phone="masked"),
        mobile=ChannelPlan(nocode=frozenset({code["限制类医疗技术临床应用备案管理(县级）"]})),
        deep=frozenset({code["申领《四川省老年人优待证》"]}),
        incomplete={code["定点医药机构信息变更"]: ("办理时间", "咨询电话", "受理条件")},
        synonyms=common.FULL_SYNONYMS,
        label_aliases={},
        user_centre_path="/zsfw/#/user",
        home_path="/zsfw/",
    )


def guide_json(rt: Runtime, item: Item) -> dict[str, Any]:
    guide = rt.plan.portal_guide(item)
    data: dict[str, Any] = {JSON_KEYS[k]: v for k, v in guide.fields.items() if k in JSON_KEYS}
    data["materials"] = [{"materialName": m, "orderNum": i + 1} for i, m in enumerate(guide.materials)]
    data["updateTime"] = guide.updated.isoformat() + " 09:30:00"
    dept = rt.plan.dept_of(item)
    data["onlineUrl"] = rt.url(f"dept:{dept.id}", dept.entry_path, item=item.code) if dept else ""
    return data


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    depts = sorted({it.department for it in plan.items})
    shallow = [it for it in plan.items if it.code not in plan.deep]
    by_code = {it.code: it for it in plan.items}

    def brief(it: Item) -> dict[str, str]:
        return {"taskCode": it.code, "taskName": it.name, "deptName": it.department}

    def ok(data: Any) -> web.Response:
        return web.json_response({"code": 0, "msg": "success", "data": data})

    async def shell(request: web.Request) -> web.Response:
        user = rt.site_user("portal", request)
        who = '<a href="#/user">我的主页</a>' if user else '<a href="/zsfw/login" class="zs-login">登录</a>'
        body = (
            f'<header class="zs-top"><a href="#/home" class="zs-logo">{esc(plan.name)}</a><nav>{who}</nav></header>'
            '<main id="view"><noscript>请启用浏览器脚本以使用本网站。</noscript></main>'
            '<script src="/zsfw/static/app.js"></script>'
        )
        return page(body, title=plan.name)

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/zsfw/")

    async def app_js(request: web.Request) -> web.Response:
        return web.Response(text=APP_JS.read_text(encoding="utf-8"), content_type="application/javascript")

    async def api_depts(request: web.Request) -> web.Response:
        return ok([{"deptId": f"d{i:02d}", "deptName": d} for i, d in enumerate(depts)])

    async def api_items(request: web.Request) -> web.Response:
        try:
            name = depts[int(request.query.get("deptId", "").removeprefix("d"))]
        except (ValueError, IndexError):
            return web.json_response({"code": 404, "msg": "no such department", "data": None}, status=404)
        return ok({"deptName": name, "list": [brief(it) for it in shallow if it.department == name]})

    async def api_topics(request: web.Request) -> web.Response:
        path = request.query.get("path", "").strip("/")
        if path not in TOPICS:
            return web.json_response({"code": 404, "msg": "not found", "data": None}, status=404)
        children = [{"path": p, "title": t} for p, t in TOPICS.items() if p and _parent(p) == path]
        data: dict[str, Any] = {"title": TOPICS[path], "children": children}
        if not children:
            data["items"] = [brief(it) for it in plan.items if it.code in plan.deep]
        return ok(data)

    async def api_guide(request: web.Request) -> web.Response:
        item = by_code.get(request.query.get("taskCode", ""))
        if item is None:
            return web.json_response({"code": 404, "msg": "事项不存在", "data": None}, status=404)
        return ok(guide_json(rt, item))

    async def api_search(request: web.Request) -> web.Response:
        try:
            page_no = max(1, int(request.query.get("pageNo", "1")))
            size = min(50, max(1, int(request.query.get("pageSize", "10"))))
        except ValueError:
            return web.json_response({"code": 400, "msg": "bad paging", "data": None}, status=400)
        found = search(plan, request.query.get("keyword", ""))
        chunk = found[(page_no - 1) * size : page_no * size]
        return ok({"total": len(found), "pageNo": page_no, "list": [brief(it) for it in chunk]})

    async def api_user(request: web.Request) -> web.Response:
        if rt.site_user("portal", request) is None:
            return web.json_response({"code": 401, "msg": "未登录", "data": None}, status=401)
        d = common.user_data(plan, masked=True)
        return ok({"userName": d["name"], "idNo": d["id_number"], "mobile": d["phone"], "authLevel": 2})

    async def login(request: web.Request) -> web.StreamResponse:
        raise common.login_redirect(rt, "/zsfw/sso/callback", "/zsfw/#/user")

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    async def logout(request: web.Request) -> web.StreamResponse:
        response = web.HTTPFound("/zsfw/")
        response.del_cookie(rt.cookie("portal"), path="/")
        raise response

    @web.middleware
    async def hsts(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response

    app = web.Application(middlewares=[hsts])
    app.router.add_get("/", root)
    app.router.add_get("/zsfw/", shell)
    app.router.add_get("/zsfw/static/app.js", app_js)
    app.router.add_get("/static/stat.js", common.stat_js)
    app.router.add_get("/zsfw/api/depts", api_depts)
    app.router.add_get("/zsfw/api/items", api_items)
    app.router.add_get("/zsfw/api/topics", api_topics)
    app.router.add_get("/zsfw/api/guide", api_guide)
    app.router.add_get("/zsfw/api/search", api_search)
    app.router.add_get("/zsfw/api/user/info", api_user)
    app.router.add_get("/zsfw/login", login)
    app.router.add_get("/zsfw/sso/callback", callback)
    app.router.add_get("/zsfw/logout", logout)
    return app
