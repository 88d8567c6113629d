"""sbx-zj 浙里省 (real-structure family): a Zhejiang-style hash-routed SPA over one POST gateway.

Written from what public crawlers of www.zjzwfw.gov.cn document (sandbox/README.md): the app lives
under ``/zjservice-fe/#/…`` (``#/home``, ``#/dept?deptCode=``, ``#/workguide?localInnerCode=``,
``#/search?keyword=``, ``#/usercenter``) and every datum comes from ``POST /interface/gateway.do``
with the method named in the JSON body (``{"method": "...", "params": {...}}``), answers as
``{"code": "0", "data": {"data": ...}}``. ``localInnerCode`` is an internal id, not the 实施编码.
Department item lists are bound with ``addEventListener`` (no ``href``, no ``onclick``) and open
the guide in a new tab; only the home page's 热门服务 are hash links. Guides are blocks under
padded headings, numbers apart from units with a 查看时限说明 control, a 不收费 badge or a 许可收费
heading. Department systems are Sichuan-style (:mod:`sandbox.provinces.real_channels`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.catalogue import Item
from sandbox.plan import Account, AuthPlan, ChannelPlan, MaskPlan, Plan
from sandbox.provinces import common, real_channels
from sandbox.search import search
from sandbox.web.kit import Runtime, page

ID = "sbx-zj"
FAMILY = "real-structure"
APP_JS = Path(__file__).with_name("zj_app.js")
NOT_OFFERED = ("补领结婚证", "从业人员预防性健康检查（健康证明）办理", "公共场所卫生许可新办审批（县级）")
HOT = 12  # 热门服务: items of the first two department systems only

build_dept = real_channels.build_dept
build_mobile = real_channels.build_mobile


def inner_code(code: str) -> str:
    """The portal's internal id of an item (what the guide route carries)."""
    return "3300" + hashlib.sha1(f"zj:{code}".encode()).hexdigest()[:16].upper()


def plan() -> Plan:
    keyword_names = common.offered_keyword_names(NOT_OFFERED)
    items = common.select(
        ID,
        [("区市监局", 3, 6), ("区人社局", 40, 6), ("区卫健局", 2, 5), ("区医疗保障局", 0, 3)],
        keyword_names,
    )
    rank = {"市场监督管理局": 0, "人力资源和社会保障厅": 1, "卫生健康委员会": 3}
    items = tuple(sorted(items, key=lambda it: rank.get(it.department, 2)))
    scjg = common.codes_of(items, "市场监督管理局")
    rst = common.codes_of(items, "人力资源和社会保障厅")
    ybj = common.codes_of(items, "医疗保障局")
    synonyms = {k: v for k, v in common.FULL_SYNONYMS.items() if k != "个税"}  # 个税: 搜不到
    synonyms["卫生证"] = ("医疗",)  # nothing offered, and a loose synonym: 搜不准
    return Plan(
        id=ID,
        name="浙里省政务服务网",
        province="浙里省",
        style="hash SPA under /zjservice-fe/ over one POST gateway, listener-bound lists, section guides",
        prefix="zl",
        portal_https=True,
        items=items,
        depts=(
            real_channels.sichuan_dept("scjg", "市场监督管理局", "sso"),
            real_channels.sichuan_dept("rst", "人力资源和社会保障厅", "sso"),
            real_channels.sichuan_dept("wjw", "卫生健康委员会", "second_login"),
        ),
        account=Account(
            "chendy_zl", "Sbx-zj-2025", "陈大友", common.id_number("33010619790521283"), "13757101234"
        ),
        auth=AuthPlan(hsts=False),
        masking=MaskPlan(name="hide_first", id_number="birth_hidden", phone="masked"),
        mobile=ChannelPlan(missing=frozenset({ybj[0]}), stale=frozenset({ybj[1]})),
        dept_channels={
            "scjg": ChannelPlan(absent={scjg[1]: ("办理地点", "办理时间")}),
            "rst": ChannelPlan(mismatch={rst[0]: "申请材料"}),
        },
        incomplete={scjg[3]: ("受理条件",)},
        synonyms=synonyms,
        user_centre_path="/zjservice-fe/#/usercenter",
        home_path="/zjservice-fe/#/home",
        mobile_path="/h5/matter/list",
    )


def _limit(value: str) -> dict[str, str]:
    m = re.match(r"^(\d+)(.*)$", value)
    return {"value": m.group(1), "unit": m.group(2)} if m else {"value": value, "unit": ""}


def work_guide(rt: Runtime, item: Item) -> dict[str, Any]:
    g = rt.plan.portal_guide(item)
    f = g.fields
    keys = {
        "设定依据": "setBasis",
        "受理条件": "acceptCondition",
        "办理流程": "processDesc",
        "办理地点": "handleAddress",
        "办理时间": "handleTime",
        "咨询电话": "consultTel",
        "监督电话": "complainTel",
    }
    data: dict[str, Any] = {"qlName": item.name, "localInnerCode": inner_code(item.code), "qlCode": item.code}
    data["deptName"] = f["实施主体"]
    data |= {key: f[el] for el, key in keys.items() if el in f}
    if "法定办结时限" in f:
        data["legalLimit"] = _limit(f["法定办结时限"])
    if "承诺办结时限" in f:
        data["promiseLimit"] = _limit(f["承诺办结时限"])
    data["chargeFlag"] = f.get("是否收费") == "是"
    data["chargeStandard"] = f.get("收费标准", "") if data["chargeFlag"] else ""
    data["materialList"] = [{"materialName": m, "materialForm": "原件", "num": 1} for m in g.materials]
    data["updateDate"] = g.updated.isoformat()
    dept = rt.plan.dept_of(item)
    data["onlineUrl"] = rt.url(f"dept:{dept.id}", dept.entry_path, itemCode=item.code) if dept else ""
    return data


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    order = [it.department for it in plan.items]
    depts = sorted(set(order), key=order.index)
    by_inner = {inner_code(it.code): it for it in plan.items}

    def brief(it: Item) -> dict[str, str]:
        return {"qlName": it.name, "localInnerCode": inner_code(it.code), "deptName": it.department}

    def ok(data: Any) -> web.Response:
        return web.json_response({"code": "0", "msg": "success", "data": {"data": data}})

    def paged(params: dict[str, Any], rows: list[Item]) -> web.Response:
        try:
            page_no = max(1, int(params.get("pageNo", 1)))
            size = min(50, max(1, int(params.get("pageSize", 10))))
        except (TypeError, ValueError):
            return web.json_response({"code": "400", "msg": "分页参数错误"})
        chunk = rows[(page_no - 1) * size : page_no * size]
        return ok(
            {"list": [brief(it) for it in chunk], "total": len(rows), "pageNo": page_no, "pageSize": size}
        )

    async def gateway(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            method = str(body["method"])
            params = dict(body.get("params") or {})
        except (ValueError, KeyError, TypeError):
            return web.json_response({"code": "400", "msg": "请求格式错误"}, status=400)
        if method == "mgop.zj.matter.hotList":
            return ok({"list": [brief(it) for it in plan.items if it.department in depts[:2]][:HOT]})
        if method == "mgop.zj.dept.list":
            return ok({"list": [{"deptCode": f"D{i + 1:02d}", "deptName": d} for i, d in enumerate(depts)]})
        if method == "mgop.zj.matter.listByDept":
            try:
                name = depts[int(str(params.get("deptCode", "")).removeprefix("D")) - 1]
            except (ValueError, IndexError):
                return web.json_response({"code": "404", "msg": "部门不存在"})
            return paged(params, [it for it in plan.items if it.department == name])
        if method == "mgop.zj.matter.search":
            return paged(params, search(plan, str(params.get("keyword", ""))))
        if method == "mgop.zj.matter.workGuide":
            item = by_inner.get(str(params.get("localInnerCode", "")))
            if item is None:
                return web.json_response({"code": "404", "msg": "事项不存在"})
            return ok(work_guide(rt, item))
        if method == "mgop.zj.user.info":
            if rt.site_user("portal", request) is None:
                return web.json_response({"code": "401", "msg": "请先登录"})
            d = common.user_data(plan, masked=True)
            return ok(
                {"userName": d["name"], "idNo": d["id_number"], "mobile": d["phone"], "authLevel": "L3"}
            )
        return web.json_response({"code": "404", "msg": f"未知接口 {method}"})

    async def index(request: web.Request) -> web.Response:
        body = '<div id="app"></div><script src="/zjservice-fe/static/js/app.js"></script>'
        head = "<style>.matter-item,.wg-tip{cursor:pointer}</style>"
        return page(body, title=plan.name, head=head)

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/zjservice-fe/#/home")

    async def app_js(request: web.Request) -> web.Response:
        return web.Response(text=APP_JS.read_text(encoding="utf-8"), content_type="application/javascript")

    async def login(request: web.Request) -> web.StreamResponse:
        goto = request.query.get("redirect", "#/usercenter")
        goto = "/zjservice-fe/" + (goto if goto.startswith("#/") else "#/usercenter")
        raise common.login_redirect(rt, "/zjservice-fe/sso/callback", goto)

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/zjservice-fe/", index)
    app.router.add_get("/zjservice-fe/static/js/app.js", app_js)
    app.router.add_post("/interface/gateway.do", gateway)
    app.router.add_get("/zjservice-fe/login", login)
    app.router.add_get("/zjservice-fe/sso/callback", callback)
    return app
