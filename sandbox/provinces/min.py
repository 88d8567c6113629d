"""sbx-min 闽中省: a history-mode single-page app over a paginated REST API.

Every page path (``/service/guide/<id>``, ``/search?keyword=``, ``/theme/1/2`` …) answers the same
index.html; ``/static/app.js`` routes with ``history.pushState``. Lists come from
``GET /api/v2/...?page=&size=`` as ``{"code":0,"data":{"records":[...],"total":N}}``. The search box
has no visible label (aria-label 搜索, a magnifier icon button) and fetches results while typing;
guides are collapsible accordions. The user centre masks the name 林*华 everywhere but shows the
phone number in full; the login host lacks HSTS.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.catalogue import Item
from sandbox.plan import Account, AuthPlan, ChannelPlan, DeptSite, MaskPlan, Plan
from sandbox.provinces import common
from sandbox.search import search
from sandbox.web.kit import Runtime, esc, page

ID = "sbx-min"
FAMILY = "sandbox-1"
APP_JS = Path(__file__).with_name("min_app.js")
JSON_KEYS = {
    "事项名称": "task_name",
    "实施编码": "task_code",
    "实施主体": "dept_name",
    "设定依据": "by_law",
    "受理条件": "accept_condition",
    "办理流程": "handle_flow",
    "法定办结时限": "anticipate_day",
    "承诺办结时限": "promise_day",
    "办理地点": "transact_addr",
    "办理时间": "transact_time",
    "是否收费": "is_fee",
    "收费标准": "fee_stand",
    "咨询电话": "link_way",
    "监督电话": "supervise_way",
}
# The 5-click chain: /theme → /theme/1 → /theme/1/2 → /theme/1/2/3 → /service/guide/<id>
THEMES = {"": "主题服务", "1": "特殊人群", "1/2": "老年人服务", "1/2/3": "高龄关爱"}
DEFAULT_SIZE = 5  # what a client that does not ask for a page size gets


def plan() -> Plan:
    keyword_names = common.offered_keyword_names(())
    items = common.select(
        ID, [("区交通运输局", 18, 6), ("区民政局", 5, 3), ("区市监局", 0, 4)], keyword_names
    )
    code = {it.name: it.code for it in items}
    synonyms = dict(common.FULL_SYNONYMS)
    synonyms["卫生证"] = (*synonyms["卫生证"], "许可")  # an over-broad synonym: 搜不准
    return Plan(
        id=ID,
        name="闽中省网上办事大厅",
        province="闽中省",
        style="history-mode SPA (pushState), paginated REST API, aria-label-only search, accordion guides",
        prefix="mz",
        portal_https=True,
        items=items,
        depts=(
            DeptSite(
                "jtt",
                "交通运输厅",
                "交通运输厅",
                "sso",
                "/jtt/service/list",
                "/jtt/service/detail",
                "/jtt/handle",
            ),
            DeptSite("mzt", "民政厅", "民政厅", "sso", "/mzt/zwfw/sxlb", "/mzt/zwfw/sxxq", "/mzt/zwfw/sb"),
            DeptSite(
                "scjgj", "市场监督管理局", "市场监督管理局", "sso", "/scjg/items", "/scjg/item", "/scjg/apply"
            ),
        ),
        account=Account(
            "linxh_mz", "Sbx-min-2025", "林晓华", common.id_number("35010219870815423"), "13850061234"
        ),
        auth=AuthPlan(hsts=False),
        masking=MaskPlan(name="keep_first_last", id_number="first_last", phone="plain"),
        dept_channels={"jtt": ChannelPlan(mismatch={_nth(items, "交通运输厅", 3): "收费标准"})},
        deep=frozenset({code["80周岁以上老年人高龄津贴发放"]}),
        incomplete={_nth(items, "市场监督管理局", 2): ("办理时间",)},
        synonyms=synonyms,
        user_centre_path="/user/profile",
    )


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _nth(items: tuple[Item, ...], department: str, i: int) -> str:
    return common.codes_of(items, department)[i]


def _gid(code: str) -> str:
    return "g" + hashlib.sha1(f"min:{code}".encode()).hexdigest()[:9]


def guide_json(rt: Runtime, item: Item) -> dict[str, Any]:
    guide = rt.plan.portal_guide(item)
    data: dict[str, Any] = {JSON_KEYS[k]: v for k, v in guide.fields.items() if k in JSON_KEYS}
    data["id"] = _gid(item.code)
    data["materials"] = [{"name": m, "required": True, "copies": 1} for m in guide.materials]
    data["update_time"] = guide.updated.isoformat()
    dept = rt.plan.dept_of(item)
    data["apply_url"] = rt.url(f"dept:{dept.id}", dept.entry_path, item=item.code) if dept else None
    return data


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    depts = sorted({it.department for it in plan.items})
    shallow = [it for it in plan.items if it.code not in plan.deep]
    by_gid = {_gid(it.code): it for it in plan.items}

    def brief(it: Item) -> dict[str, str]:
        return {"id": _gid(it.code), "itemName": it.name, "itemCode": it.code, "deptName": it.department}

    def ok(data: Any) -> web.Response:
        return web.json_response({"code": 0, "msg": "ok", "data": data})

    def err(status: int, msg: str) -> web.Response:
        return web.json_response({"code": status, "msg": msg, "data": None}, status=status)

    def paged(request: web.Request, records: list[Any]) -> web.Response:
        try:
            page_no = max(1, int(request.query.get("page", "1")))
            size = min(50, max(1, int(request.query.get("size", str(DEFAULT_SIZE)))))
        except ValueError:
            return err(400, "分页参数错误")
        chunk = records[(page_no - 1) * size : page_no * size]
        return ok({"records": chunk, "total": len(records), "page": page_no, "size": size})

    async def index(request: web.Request) -> web.Response:
        body = (
            '<div id="app"><header class="mz-top"><a href="/" class="mz-logo">'
            f'{esc(plan.name)}</a><nav class="mz-nav"><a data-link href="/">首页</a>'
            '<a data-link href="/theme">主题服务</a><a data-link href="/user/profile">个人中心</a><a href="/login" class="mz-login">登录</a></nav></header>'
            '<main id="view"><noscript>本网站需要启用 JavaScript。</noscript></main></div>'
            '<script src="/static/app.js"></script>'
        )
        return page(body, title=plan.name)

    async def app_js(request: web.Request) -> web.Response:
        return web.Response(text=APP_JS.read_text(encoding="utf-8"), content_type="application/javascript")

    async def api_depts(request: web.Request) -> web.Response:
        records = [
            {"id": f"D{i + 1:02d}", "name": d, "itemCount": sum(1 for it in shallow if it.department == d)}
            for i, d in enumerate(depts)
        ]
        return paged(request, records)

    async def api_items(request: web.Request) -> web.Response:
        try:
            name = depts[int(request.query.get("deptId", "").removeprefix("D")) - 1]
        except (ValueError, IndexError):
            return err(404, "部门不存在")
        return paged(request, [brief(it) for it in shallow if it.department == name])

    async def api_item(request: web.Request) -> web.Response:
        item = by_gid.get(request.match_info["gid"])
        return ok(guide_json(rt, item)) if item is not None else err(404, "事项不存在")

    async def api_hot(request: web.Request) -> web.Response:
        return paged(request, [brief(it) for it in shallow[:8]])

    async def api_search(request: web.Request) -> web.Response:
        return paged(request, [brief(it) for it in search(plan, request.query.get("keyword", ""))])

    async def api_themes(request: web.Request) -> web.Response:
        path = request.query.get("path", "").strip("/")
        if path not in THEMES:
            return err(404, "主题不存在")
        children = [{"path": p, "title": t} for p, t in THEMES.items() if p and _parent(p) == path]
        items = [brief(it) for it in plan.items if it.code in plan.deep] if not children else []
        return ok({"title": THEMES[path], "children": children, "records": items, "total": len(items)})

    async def api_user(request: web.Request) -> web.Response:
        if rt.site_user("portal", request) is None:
            return err(401, "请先登录")
        d = common.user_data(plan, masked=True)
        return ok(
            {"realName": d["name"], "idCard": d["id_number"], "phone": d["phone"], "authLevel": "实名认证"}
        )

    async def login(request: web.Request) -> web.StreamResponse:
        goto = request.query.get("redirect", "/user/profile")
        raise common.login_redirect(rt, "/sso/callback", goto if goto.startswith("/") else "/user/profile")

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    async def logout(request: web.Request) -> web.StreamResponse:
        response = web.HTTPFound("/")
        response.del_cookie(rt.cookie("portal"), path="/")
        raise response

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /api/v2/user/\n")

    async def api_missing(request: web.Request) -> web.Response:
        return err(404, "接口不存在")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/static/app.js", app_js)
    app.router.add_get("/static/stat.js", common.stat_js)
    app.router.add_get("/api/v2/depts", api_depts)
    app.router.add_get("/api/v2/items", api_items)
    app.router.add_get("/api/v2/items/{gid}", api_item)
    app.router.add_get("/api/v2/hot", api_hot)
    app.router.add_get("/api/v2/search", api_search)
    app.router.add_get("/api/v2/themes", api_themes)
    app.router.add_get("/api/v2/user/profile", api_user)
    app.router.add_get("/api/{tail:.*}", api_missing)
    app.router.add_get("/login", login)
    app.router.add_get("/sso/callback", callback)
    app.router.add_get("/logout", logout)
    app.router.add_get("/{tail:.*}", index)  # history-mode fallback: every page path is the app
    return app
