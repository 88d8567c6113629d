"""Channels of the real-structure family: Sichuan-style department systems and a Vant-style H5.

Written from the structures real portals publish (sandbox/README.md § real-structure family), not
from the sandbox-1 templates. A department system lists its items through an HTML fragment API
(``/jiq/interface/item/tags?dxType=&areaCode=&pageno=``, items with no ``href``: ``onclick``
handlers open the guide in a new tab) and shows guides in numbered sections (``div.section1
table.table22`` … ``div.section8``), values split from their units and with controls beside them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from sandbox.plan import ChannelPlan, Copy, DeptSite, channel_copy
from sandbox.web.kit import Runtime, esc, mask_name, page

AREA_CODE = "511602000000"
PAGE_SIZE = 10
_NUMBER_UNIT = re.compile(r"^(\d+)(\D.*)$")


def split_number(value: str) -> str:
    """``5个工作日`` → ``<span>5</span>个工作日``: the number and its unit in separate nodes."""
    m = _NUMBER_UNIT.match(value)
    return f"<span>{esc(m.group(1))}</span>{esc(m.group(2))}" if m else esc(value)


def pad(label: str) -> str:
    """A label as real templates emit it: the title inside a run of indentation and newlines."""
    return f"\n                        {label}\n                    "


def copies(rt: Runtime, channel: ChannelPlan, department: str | None = None) -> list[Copy]:
    out = []
    for item in rt.plan.items:
        if department is None or item.department == department:
            copy = channel_copy(rt.plan, item, channel)
            if copy is not None and copy.code is not None:
                out.append(copy)
    return out


def _section(n: int, title: str, body: str) -> str:
    return (
        f'<div class="section{n}"><div class="bt"><span class="bt-text">{pad(title)}</span></div>{body}</div>'
    )


def sichuan_guide(copy: Copy, online: str) -> str:
    """The guide page body in the sczwfw section layout."""
    f = copy.guide.fields
    legal, promise = f.get("法定办结时限", ""), f.get("承诺办结时限", "")
    banner = (
        '<div class="bszn-banner">'
        '<div class="banner-item"><p class="num"><span data-bind="xcts">-</span>次</p><p>到现场次数</p></div>'
        f'<div class="banner-item"><p class="num">{split_number(legal)}</p><p>法定时限</p></div>'
        f'<div class="banner-item"><p class="num">{split_number(promise)}</p><p>承诺时限</p></div>'
        f'<span class="btn-zxbl" onclick="ywblurl(\'{esc(online)}\')">在线办理</span></div>'
    )
    rows = [
        f'<tr><td class="td1">{pad("事项名称")}</td><td colspan="3" data-bind="sxmc">{esc(copy.name)}</td></tr>',
        f'<tr><td class="td1">{pad("事项编码")}</td><td data-bind="sxbm">{esc(f.get("实施编码", ""))}</td>'
        f'<td class="td1">{pad("实施机构")}</td><td data-bind="ssjg">{esc(f.get("实施主体", ""))}</td></tr>',
    ]
    if legal or promise:
        cells = ""
        if legal:
            cells += (
                f'<td class="td1">{pad("法定办结时限")}</td><td data-bind="fdsx">{split_number(legal)}</td>'
            )
        if promise:
            cells += (
                f'<td class="td1">{pad("承诺办结时限")}</td><td data-bind="cnsx">{split_number(promise)} '
                '<span class="sx-sm" title="承诺办结时限说明">查看时限说明</span></td>'
            )
        rows.append(f"<tr>{cells}</tr>")
    if "设定依据" in f:
        rows.append(
            f'<tr><td class="td1">{pad("设定依据")}</td><td colspan="3" data-bind="sdyj">'
            f'{esc(f["设定依据"])} <a href="javascript:;" class="zk">展开</a></td></tr>'
        )
    body = banner + _section(1, "基本信息", f'<table class="table22">{"".join(rows)}</table>')
    window = [
        (label, f[key])
        for label, key in (
            ("办理时间", "办理时间"),
            ("办理地点", "办理地点"),
            ("咨询方式", "咨询电话"),
            ("监督投诉方式", "监督电话"),
        )
        if key in f
    ]
    lis = "".join(
        f'<li><div class="label">{pad(k)}</div><div class="cont">{esc(v)}</div></li>' for k, v in window
    )
    body += _section(4, "窗口办理", f'<ul class="ckbl">{lis}</ul>')
    if copy.guide.materials:
        tables = "".join(
            f'<li><table class="cl-table"><tr><th>材料名称</th><td>{esc(m)}</td></tr>'
            "<tr><th>材料形式</th><td>纸质</td></tr><tr><th>份数</th><td>1</td></tr></table></li>"
            for m in copy.guide.materials
        )
        body += _section(5, "申请材料", f'<div id="material"><ol>{tables}</ol></div>')
    if "受理条件" in f:
        body += _section(6, "受理条件", f'<div class="cont">{esc(f["受理条件"])}</div>')
    if "办理流程" in f:
        body += _section(7, "办理流程", f'<div class="cont">{esc(f["办理流程"])}</div>')
    if f.get("是否收费") == "是":
        fee = (
            '<table class="sf-table"><tr><th>是否收费</th><td>是</td></tr>'
            f"<tr><th>收费标准</th><td>{esc(f.get('收费标准', ''))}</td></tr></table>"
        )
    else:
        fee = '<span class="badge badge-free">不收费</span>'
    body += _section(8, "收费", fee)
    body += f'<div class="bszn-foot">更新时间：{copy.guide.updated.isoformat()}</div>'
    return body


DEPT_SCRIPT = """<script>
function ywblurl(url) { window.open(url); }
function loadPage(n) {
  var box = document.getElementById('sxList');
  fetch('/jiq/interface/item/tags?dxType=1002&areaCode=%s&pageno=' + n)
    .then(function (r) { return r.text(); })
    .then(function (html) { box.innerHTML = html; });
}
</script>"""


def sichuan_dept(code: str, name: str, login: Any) -> DeptSite:
    """A department system of the Sichuan-style template (``/jiq/front/…``) that the
    real-structure provinces share: its list, guide and online-handling routes."""
    return DeptSite(
        code,
        name,
        name,
        login,
        "/jiq/front/item/list",
        "/jiq/front/transition/ywTransToDetail",
        "/jiq/front/online/apply",
    )


def build_dept(rt: Runtime, dept: DeptSite) -> web.Application:
    plan = rt.plan
    site = f"dept:{dept.id}"
    channel = plan.dept_channels.get(dept.id, ChannelPlan())
    title = f"{plan.province}{dept.name}"

    def listed() -> list[Copy]:
        return copies(rt, channel, dept.department)

    def guide_url(copy: Copy) -> str:
        return f"{dept.guide_path}?areaCode={AREA_CODE}&itemCode={copy.code}&taskType=1&deptCode={dept.id}"

    def frame(body: str, heading: str, head: str = "") -> web.Response:
        top = f'<div class="top-head"><span class="logo">{esc(title)}</span> <a href="/">首页</a> <a href="{dept.catalogue_path}">办事指南</a></div>'
        return page(top + body, title=f"{heading} - {title}", head=head + DEPT_SCRIPT % AREA_CODE)

    async def home(request: web.Request) -> web.Response:
        return frame(
            f'<h1>{esc(dept.name)}网上办事大厅</h1><p><a href="{dept.catalogue_path}">事项清单</a></p>',
            "首页",
        )

    async def listing(request: web.Request) -> web.Response:
        body = (
            f'<div class="sx-head">{esc(dept.name)} · 事项清单</div><div id="sxList">正在加载…</div>'
            "<script>loadPage(1);</script>"
        )
        return frame(body, "事项清单")

    async def tags(request: web.Request) -> web.Response:
        """The list fragment: names and buttons with onclick handlers, no href; JS paging."""
        try:
            pageno = max(1, int(request.query.get("pageno", "1")))
        except ValueError:
            raise web.HTTPBadRequest(text="pageno") from None
        rows = listed()
        pages = max(1, (len(rows) + PAGE_SIZE - 1) // PAGE_SIZE)
        chunk = rows[(pageno - 1) * PAGE_SIZE : pageno * PAGE_SIZE]
        items = "".join(
            f'<div class="sx_item"><div class="sx_title" title="{esc(c.name)}" onclick="ywblurl(\'{esc(guide_url(c))}\')">'
            f'{esc(c.name)}</div><div class="sx_btns"><span class="btn_bszn" onclick="ywblurl(\'{esc(guide_url(c))}\')">办事指南</span>'
            f'<span class="btn_zxbl" onclick="ywblurl(\'{dept.entry_path}?itemCode={c.code}\')">在线办理</span></div></div>'
            for c in chunk
        )
        pager = f'<div class="page" data-total="{len(rows)}" data-pageno="{pageno}" data-pages="{pages}">共{len(rows)}条 第{pageno}/{pages}页'
        if pageno < pages:
            pager += f' <span class="next" onclick="loadPage({pageno + 1})">下一页</span>'
        pager += "</div>"
        return web.Response(
            text=f'<div class="sx_list">{items}</div>{pager}', content_type="text/html", charset="utf-8"
        )

    async def find_by_code(request: web.Request) -> web.Response:
        code = request.query.get("code", "")
        copy = next((c for c in listed() if c.code == code), None)
        if copy is None:
            return web.json_response({"code": 404, "msg": "事项不存在", "data": None})
        f = copy.guide.fields
        on_site = 0 if code[-1] in "02468" else 1  # 到现场次数
        data: dict[str, object] = {"itemCode": code, "itemName": copy.name, "xcts": on_site}
        data |= {"fdsx": f.get("法定办结时限", ""), "cnsx": f.get("承诺办结时限", "")}
        return web.json_response({"code": 200, "msg": "ok", "data": data})

    async def detail(request: web.Request) -> web.Response:
        code = request.query.get("itemCode", "")
        copy = next((c for c in listed() if c.code == code), None)
        if copy is None:
            raise web.HTTPNotFound()
        online = f"{dept.entry_path}?itemCode={copy.code}"
        script = (
            "<script>fetch('/jiq/interface/jitem/find-by-code?code=' + "
            f"{json.dumps(copy.code)}).then(function (r) {{ return r.json(); }}).then(function (d) {{"
            " document.querySelector('[data-bind=xcts]').textContent = d.data.xcts; });</script>"
        )
        body = f'<div class="bszn-title"><h2>{esc(copy.name)}</h2></div>{sichuan_guide(copy, online)}{script}'
        return frame(body, copy.name)

    async def apply(request: web.Request) -> web.StreamResponse:
        if dept.login == "second_login":
            return frame(
                f'<div class="login-panel"><h2>{esc(dept.name)}网上申报系统</h2><p>请使用本系统账号登录。</p>'
                '<form method="post" action="/jiq/front/online/login"><div><span>用户名</span><input name="yhm"></div>'
                '<div><span>密　码</span><input name="mm" type="password"></div><button type="submit">登 录</button></form></div>',
                "用户登录",
            )
        if dept.login == "re_registration":
            return frame(
                f'<div class="reg-panel"><h2>账号注册</h2><p>首次使用{esc(dept.name)}网上申报系统，请先注册。</p>'
                '<form method="post" action="/jiq/front/online/register"><input name="xm" placeholder="姓名">'
                '<input name="sfzh" placeholder="身份证号"><input name="mm" type="password" placeholder="设置密码">'
                "<button>注册</button></form></div>",
                "注册",
            )
        user = rt.site_user(site, request)
        if user is None:
            back = rt.url(site, "/sso/callback", goto=str(request.rel_url))
            raise web.HTTPFound(rt.sso_login_url(back))
        code = request.query.get("itemCode", "")
        name = next((it.name for it in plan.items if it.code == code), "")
        shown = mask_name(plan.account.name, plan.masking.name)
        return frame(
            f'<div class="user-bar">{esc(shown)}，您好 <a href="/jiq/front/logout">退出</a></div>'
            f'<h2>网上申报 · {esc(name)}</h2><form><textarea name="sqsm"></textarea>'
            '<button type="button">提交</button></form>',
            "网上申报",
        )

    async def callback(request: web.Request) -> web.StreamResponse:
        user = rt.validate_ticket(request.query.get("ticket", ""))
        if user is None:
            raise web.HTTPForbidden(text="ticket invalid")
        goto = request.query.get("goto", "/")
        response = web.HTTPFound(goto if goto.startswith("/") else "/")
        rt.login_site(site, user, response)
        raise response

    async def own_form(request: web.Request) -> web.Response:
        return frame('<p class="err">用户名或密码错误。</p>', "提示")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get(dept.catalogue_path, listing)
    app.router.add_get("/jiq/interface/item/tags", tags)
    app.router.add_get("/jiq/interface/jitem/find-by-code", find_by_code)
    app.router.add_get(dept.guide_path, detail)
    app.router.add_get(dept.entry_path, apply)
    app.router.add_get("/sso/callback", callback)
    app.router.add_post("/jiq/front/online/login", own_form)
    app.router.add_post("/jiq/front/online/register", own_form)
    return app


def _cell(label: str, value_html: str) -> str:
    return (
        f'<div class="van-cell"><div class="van-cell__title"><span>{pad(label)}</span></div>'
        f'<div class="van-cell__value">{value_html}</div></div>'
    )


def build_mobile(rt: Runtime) -> web.Application:
    """A Vant-style H5: cells with title/value halves, collapsible sections, a 不收费 badge."""
    plan = rt.plan
    list_path = plan.mobile_path
    guide_path = list_path.rsplit("/", 1)[0] + "/guide"

    def frame(body: str, title: str) -> web.Response:
        head = '<meta name="viewport" content="width=device-width, initial-scale=1, user-scalable=no">'
        return page(
            f'<div class="van-nav-bar"><div class="van-nav-bar__title">{esc(title)}</div></div>{body}',
            title=title,
            head=head,
        )

    def listed() -> list[Copy]:
        return copies(rt, plan.mobile)

    async def index(request: web.Request) -> web.Response:
        cells = "".join(
            f'<a class="van-cell van-cell--clickable" href="{guide_path}?taskCode={c.code}">'
            f'<div class="van-cell__title"><span>{esc(c.name)}</span></div><i class="van-icon van-icon-arrow"></i></a>'
            for c in listed()
        )
        return frame(f'<div class="van-cell-group">{cells}</div>', f"{plan.province}政务服务")

    async def guide(request: web.Request) -> web.Response:
        copy = next((c for c in listed() if c.code == request.query.get("taskCode")), None)
        if copy is None:
            raise web.HTTPNotFound()
        f = copy.guide.fields
        labels = (
            ("事项名称", "事项名称"),
            ("实施编码", "事项编码"),
            ("实施主体", "办理部门"),
            ("法定办结时限", "法定时限"),
            ("承诺办结时限", "承诺时限"),
            ("办理地点", "办理地点"),
            ("办理时间", "办理时间"),
            ("咨询电话", "咨询电话"),
            ("监督电话", "投诉电话"),
        )
        cells = "".join(
            _cell(label, split_number(f[key]) if "时限" in key else esc(f[key]))
            for key, label in labels
            if key in f
        )
        fee = f.get("是否收费") == "是"
        cells += _cell("是否收费", "是" if fee else '<span class="van-tag">不收费</span>')
        if fee:
            cells += _cell("收费标准", esc(f.get("收费标准", "")))
        cells += _cell("更新时间", copy.guide.updated.isoformat())
        blocks = ""
        for key in ("设定依据", "受理条件", "办理流程"):
            if key in f:
                blocks += (
                    f'<div class="van-collapse-item"><div class="van-collapse-item__title">{pad(key)}</div>'
                    f'<div class="van-collapse-item__content">{esc(f[key])}</div></div>'
                )
        if copy.guide.materials:
            mats = "".join(
                f"<li><table><tr><td>{esc(m)}</td><td>原件1份</td></tr></table></li>"
                for m in copy.guide.materials
            )
            blocks += (
                f'<div class="van-collapse-item"><div class="van-collapse-item__title">{pad("申请材料")}</div>'
                f'<div class="van-collapse-item__content"><ol>{mats}</ol></div></div>'
            )
        return frame(
            f'<div class="van-cell-group">{cells}</div><div class="van-collapse">{blocks}</div>', copy.name
        )

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(list_path)

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get(list_path, index)
    app.router.add_get(guide_path, guide)
    return app
