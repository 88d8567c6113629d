"""sbx-yue 粤海省 (real-structure family): a Guangdong-style portal.

Written from what public crawlers of www.gdzwfw.gov.cn document (sandbox/README.md): the catalogue
comes from a JSON search API, ``POST /portal/api/v2/solr/getCommonAuditItem`` (items under
``CUSTOM.AUDIT_ITEMLIST``, paging under ``CUSTOM.PAGEINFO``); guides are script-rendered pages
``/portal/v2/guide/<TASK_CODE>`` over ``/portal/api/v2/item-event/getAuditItemDetailCur`` with
upper-case keys (``PROMISE_DAY`` + ``PROMISE_TYPE_TEXT``, ``ANTICIPATE_DAY``, ``ACCEPT_CONDITION``,
``LINK_TEL``, ``TSTEL``, ``AUDIT_MATERIAL[]``), rendered as ``th``/``td`` pairs whose promise label
varies (承诺办结时限 / 承诺办理时限 / 承诺期限), with section headings, a 不收费 badge and materials
as one small table each. The catalogue and search lists have no ``href``: ``onclick`` handlers
defined in the bundle open the guide in a new tab. Department systems are Sichuan-style
(:mod:`sandbox.provinces.real_channels`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.catalogue import Item
from sandbox.plan import Account, AuthPlan, ChannelPlan, MaskPlan, Plan
from sandbox.provinces import common, real_channels
from sandbox.search import search
from sandbox.web.kit import Runtime, esc, page

ID = "sbx-yue"
FAMILY = "real-structure"
APP_JS = Path(__file__).with_name("yue_portal.js")
AREA_CODE = "440000"
NOT_OFFERED = ("住房公积金提取", "工业产品生产许可证核发")  # keyword items this portal does not have
HOT = 14  # items on the home page: all of the first two department systems, none of the third

build_dept = real_channels.build_dept
build_mobile = real_channels.build_mobile


def plan() -> Plan:
    keyword_names = common.offered_keyword_names(NOT_OFFERED)
    items = common.select(
        ID,
        [("区公安分局", 2, 6), ("区民政局", 2, 6), ("区交通运输局", 30, 4), ("区人社局", 20, 2)],
        keyword_names,
        (common.CANCELLED_ITEM,),
    )
    # listing order: the two single-sign-on systems' items first, the third system's last
    rank = {"公安厅": 0, "民政厅": 1}
    items = tuple(sorted(items, key=lambda it: (rank.get(it.department, 2), it.department == "交通运输厅")))
    gat = common.codes_of(items, "公安厅")
    mzt = common.codes_of(items, "民政厅")
    rst = common.codes_of(items, "人力资源和社会保障厅")
    cancelled = next(it.code for it in items if it.name == common.CANCELLED_ITEM)
    synonyms = {k: v for k, v in common.FULL_SYNONYMS.items() if k != "低保"}  # 低保: 搜不到
    synonyms["工业生产许可"] = ("许可",)  # nothing to find, and an over-broad synonym: 搜不准
    synonyms["网约车"] = ("运输", "许可")  # one expected item found among noise: 搜不全 and 搜不准 (two rows)
    return Plan(
        id=ID,
        name="粤海政务服务网",
        province="粤海省",
        style="JSON search API (CUSTOM.AUDIT_ITEMLIST), script-rendered th/td guides, no-href lists",
        prefix="yh",
        portal_https=True,
        items=items,
        depts=(
            real_channels.sichuan_dept("gat", "公安厅", "sso"),
            real_channels.sichuan_dept("mzt", "民政厅", "sso"),
            real_channels.sichuan_dept("jtt", "交通运输厅", "second_login"),
        ),
        account=Account(
            "huangzm_yh", "Sbx-yue-2025", "黄志明", common.id_number("44010619880312361"), "13926081234"
        ),
        auth=AuthPlan(),
        masking=MaskPlan(name="keep_first", id_number="first_last", phone="masked", name_leaks_in_api=True),
        mobile=ChannelPlan(missing=frozenset({rst[0]})),
        dept_channels={
            "gat": ChannelPlan(mismatch={gat[2]: "承诺办结时限"}, absent={gat[4]: ("办理地点", "办理时间")}),
            "mzt": ChannelPlan(stale=frozenset({mzt[1]})),
        },
        incomplete={rst[1]: ("设定依据",)},
        cancelled=frozenset({cancelled}),
        synonyms=synonyms,
        broken_links=(("/portal/v2/zcjd/2025-01", "/"),),
        user_centre_path="/portal/v2/usercenter",
        mobile_path="/h5/service/list",
    )


def _days(value: str) -> tuple[str, str]:
    m = re.match(r"^(\d+)(.*)$", value)
    return (m.group(1), m.group(2)) if m else (value, "")


def guide_json(rt: Runtime, item: Item) -> dict[str, Any]:
    """getAuditItemDetailCur: the guide as upper-case keys, numbers apart from their units."""
    f = rt.plan.portal_guide(item).fields
    g = rt.plan.portal_guide(item)
    data: dict[str, Any] = {"TASK_NAME": item.name, "TASK_CODE": item.code, "DEPT_NAME": f["实施主体"]}
    keys = {
        "设定依据": "BY_LAW",
        "受理条件": "ACCEPT_CONDITION",
        "办理流程": "HANDLE_FLOW",
        "办理地点": "TRANSACT_ADDR",
        "办理时间": "TRANSACT_TIME",
        "咨询电话": "LINK_TEL",
        "监督电话": "TSTEL",
    }
    data |= {key: f[el] for el, key in keys.items() if el in f}
    for el, prefix in (("法定办结时限", "ANTICIPATE"), ("承诺办结时限", "PROMISE")):
        if el in f:
            data[f"{prefix}_DAY"], data[f"{prefix}_TYPE_TEXT"] = _days(f[el])
    data["IS_FEE"] = "1" if f.get("是否收费") == "是" else "0"
    data["FEE_STAND"] = f.get("收费标准", "") if data["IS_FEE"] == "1" else ""
    data["AUDIT_MATERIAL"] = [
        {"MATERIAL_NAME": m, "MATERIAL_FORMAT": "纸质", "PAGE_NUM": 1, "EXAMPLE_GUID": []}
        for m in g.materials
    ]
    data["UPDATE_DATE"] = g.updated.isoformat()
    dept = rt.plan.dept_of(item)
    data["ONLINE_URL"] = rt.url(f"dept:{dept.id}", dept.entry_path, itemCode=item.code) if dept else ""
    return data


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    depts = sorted(
        {it.department for it in plan.items}, key=lambda d: [it.department for it in plan.items].index(d)
    )
    by_code = {it.code: it for it in plan.items}

    def brief(it: Item) -> dict[str, str]:
        return {
            "TASK_CODE": it.code,
            "TASK_NAME": it.name,
            "DEPT_NAME": it.department,
            "AREA_CODE": AREA_CODE,
        }

    def frame(body: str, title: str, page_kind: str = "", data: str = "") -> web.Response:
        header = (
            f'<div class="gd-header"><a class="gd-logo" href="/">{esc(plan.name)}</a>'
            '<form class="gd-search" action="/portal/v2/search" method="get">'
            '<input name="keyword" placeholder="请输入事项名称、关键字"><button type="submit">搜索</button></form>'
            '<a class="gd-login" href="/portal/login">登录</a> <a href="/portal/v2/usercenter">个人中心</a></div>'
        )
        app = (
            f'<div id="mainWrap" data-page="{page_kind}" data-arg="{esc(data)}">{body}</div>'
            if page_kind
            else body
        )
        script = '<script src="/portal/static/js/portal.js"></script>' if page_kind else ""
        style = "<style>.item-name,.result-title,.btn-guide,.pager span{cursor:pointer}</style>"
        return page(header + app + script, title=f"{title} - {plan.name}", head=style)

    async def home(request: web.Request) -> web.Response:
        hot = [it for it in plan.items if it.department in ("公安厅", "民政厅")][:HOT]
        lis = "".join(
            f'<li><a href="/portal/v2/guide/{it.code}" target="_blank">{esc(it.name)}</a></li>' for it in hot
        )
        body = (
            f'<div class="hot"><h3>热门服务</h3><ul>{lis}</ul></div>'
            '<div class="entries"><a href="/portal/v2/personal">个人办事</a> <a href="/portal/v2/depts">部门服务</a>'
            ' <a href="/portal/v2/zcjd/2025-01">政策解读</a></div>'
        )
        return frame(body, "首页")

    async def dept_index(request: web.Request) -> web.Response:
        lis = "".join(f'<li><a href="/portal/v2/dept/{i + 1}">{esc(d)}</a></li>' for i, d in enumerate(depts))
        return frame(f'<h2>部门服务</h2><ul class="dept-list">{lis}</ul>', "部门服务")

    async def dept_page(request: web.Request) -> web.Response:
        try:
            name = depts[int(request.match_info["n"]) - 1]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        lis = "".join(
            f'<li><a href="/portal/v2/guide/{it.code}" target="_blank">{esc(it.name)}</a></li>'
            for it in plan.items
            if it.department == name
        )
        return frame(f'<h2>{esc(name)}</h2><ul class="matter-list">{lis}</ul>', name)

    async def personal(request: web.Request) -> web.Response:
        return frame(
            '<h2>个人办事</h2><div id="list">加载中…</div><div class="pager"></div>', "个人办事", "catalogue"
        )

    async def search_page(request: web.Request) -> web.Response:
        kw = request.query.get("keyword", "")
        return frame('<div id="result">搜索中…</div>', "搜索", "search", kw)

    async def guide_page(request: web.Request) -> web.Response:
        code = request.match_info["code"]
        if code not in by_code:
            raise web.HTTPNotFound()
        return frame("", "办事指南", "guide", code)

    async def api_items(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            page_no = max(1, int(body.get("PAGENO", 1)))
            size = min(50, max(1, int(body.get("PAGESIZE", 10))))
        except (ValueError, TypeError, AttributeError):
            return web.json_response({"STATUS": 400, "MSG": "参数错误"}, status=400)
        keyword = str(body.get("KEYWORD") or "").strip()
        rows = search(plan, keyword) if keyword else list(plan.items)
        dept = str(body.get("DEPT_NAME") or "")
        rows = [it for it in rows if not dept or it.department == dept]
        chunk = rows[(page_no - 1) * size : page_no * size]
        info = {"CURRENTPAGEINDEX": page_no, "PAGESIZE": size, "TOTALNUM": len(rows)}
        return web.json_response(
            {"STATUS": 200, "CUSTOM": {"AUDIT_ITEMLIST": [brief(it) for it in chunk], "PAGEINFO": info}}
        )

    async def api_detail(request: web.Request) -> web.Response:
        item = by_code.get(request.query.get("TASK_CODE", ""))
        if item is None:
            return web.json_response({"STATUS": 404, "MSG": "事项不存在"}, status=404)
        return web.json_response({"STATUS": 200, "CUSTOM": guide_json(rt, item)})

    async def user_centre(request: web.Request) -> web.StreamResponse:
        if rt.site_user("portal", request) is None:
            raise common.login_redirect(rt, "/portal/sso/callback", "/portal/v2/usercenter")
        d = common.user_data(plan, masked=True)
        rows = "".join(
            f'<tr><th>{label}</th><td data-field="{key}">{esc(d[key])}</td></tr>'
            for label, key in (("姓  名", "name"), ("证件号码", "id_number"), ("手机号码", "phone"))
        )
        return frame(f'<h2>个人中心</h2><table class="uc-table">{rows}</table>', "个人中心", "usercenter")

    async def api_user(request: web.Request) -> web.Response:
        if rt.site_user("portal", request) is None:
            return web.json_response({"STATUS": 401, "MSG": "未登录"}, status=401)
        shown = common.user_data(plan, masked=True)
        if plan.masking.name_leaks_in_api:
            shown["name"] = plan.account.name  # the page masks it; the JSON does not
        return web.json_response(
            {
                "STATUS": 200,
                "CUSTOM": {
                    "USER_NAME": shown["name"],
                    "ID_NUM": shown["id_number"],
                    "MOBILE": shown["phone"],
                },
            }
        )

    async def login(request: web.Request) -> web.StreamResponse:
        raise common.login_redirect(rt, "/portal/sso/callback", "/portal/v2/usercenter")

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    async def app_js(request: web.Request) -> web.Response:
        return web.Response(text=APP_JS.read_text(encoding="utf-8"), content_type="application/javascript")

    async def not_found(request: web.Request) -> web.Response:
        return page("<h2>404</h2><p>页面不存在</p>", title="404", status=404)

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/portal/v2/depts", dept_index)
    app.router.add_get("/portal/v2/dept/{n}", dept_page)
    app.router.add_get("/portal/v2/personal", personal)
    app.router.add_get("/portal/v2/search", search_page)
    app.router.add_get("/portal/v2/guide/{code}", guide_page)
    app.router.add_get("/portal/v2/usercenter", user_centre)
    app.router.add_post("/portal/api/v2/solr/getCommonAuditItem", api_items)
    app.router.add_get("/portal/api/v2/item-event/getAuditItemDetailCur", api_detail)
    app.router.add_get("/portal/api/v2/user/info", api_user)
    app.router.add_get("/portal/login", login)
    app.router.add_get("/portal/sso/callback", callback)
    app.router.add_get("/portal/static/js/portal.js", app_js)
    app.router.add_get("/portal/static/stat.js", common.stat_js)
    app.router.add_get("/{tail:.*}", not_found)
    return app
