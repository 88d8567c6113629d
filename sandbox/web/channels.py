"""The other channels of a province: department systems (own catalogue + online handling) and mobile H5.

Each renders its own copy of the portal items (:func:`sandbox.plan.channel_copy`), so the planted
data_same_source differences are exactly what a crawler comparing channels sees.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.catalogue import Guide
from sandbox.plan import ChannelPlan, Copy, DeptSite, channel_copy
from sandbox.web.kit import Runtime, esc, mask_name, page

ORDER = (
    "事项名称",
    "实施编码",
    "实施主体",
    "设定依据",
    "受理条件",
    "申请材料",
    "办理流程",
    "法定办结时限",
    "承诺办结时限",
    "办理地点",
    "办理时间",
    "是否收费",
    "收费标准",
    "咨询电话",
    "监督电话",
    "更新时间",
)
NEUTRAL_LABELS = {"实施编码": "事项编码", "实施主体": "实施机构"}


def guide_rows(guide: Guide, labels: dict[str, str]) -> list[tuple[str, str]]:
    """(label, value HTML) in display order; absent elements are simply not there."""
    rows = []
    for element in ORDER:
        label = labels.get(element, element)
        if element == "申请材料":
            items = "".join(f"<li>{esc(m)}</li>" for m in guide.materials)
            rows.append((label, f"<ol>{items}</ol>"))
        elif element == "更新时间":
            rows.append((label, guide.updated.isoformat()))
        elif element in guide.fields:
            rows.append((label, esc(guide.fields[element])))
    return rows


def copies(rt: Runtime, channel: ChannelPlan, department: str | None = None) -> list[Copy]:
    out = []
    for item in rt.plan.items:
        if department is not None and item.department != department:
            continue
        copy = channel_copy(rt.plan, item, channel)
        if copy is not None:
            out.append(copy)
    return out


def build_dept(rt: Runtime, dept: DeptSite) -> web.Application:
    plan = rt.plan
    site = f"dept:{dept.id}"
    channel = plan.dept_channels.get(dept.id, ChannelPlan())

    def frame(body: str, title: str) -> web.Response:
        nav = f'<div class="top"><b>{esc(plan.province)}{esc(dept.name)}</b> <a href="/">首页</a> <a href="{dept.catalogue_path}">办事指南</a></div>'
        return page(nav + body, title=f"{title} - {plan.province}{dept.name}")

    async def home(request: web.Request) -> web.Response:
        return frame(
            f'<h1>{esc(dept.name)}网上办事大厅</h1><p><a href="{dept.catalogue_path}">事项清单</a></p>',
            "首页",
        )

    async def listing(request: web.Request) -> web.Response:
        lis = "".join(
            f'<li><a href="{dept.guide_path}?id={i}">{esc(c.name)}</a></li>'
            for i, c in enumerate(copies(rt, channel, dept.department))
        )
        return frame(f"<h1>事项清单</h1><ul class='list'>{lis}</ul>", "事项清单")

    async def detail(request: web.Request) -> web.Response:
        listed = copies(rt, channel, dept.department)
        try:
            copy = listed[int(request.query.get("id", ""))]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        rows = "".join(
            f"<tr><th>{label}</th><td>{value}</td></tr>"
            for label, value in guide_rows(copy.guide, NEUTRAL_LABELS)
        )
        return frame(f"<h1>{esc(copy.name)}</h1><table class='guide'>{rows}</table>", copy.name)

    async def apply(request: web.Request) -> web.StreamResponse:
        code = request.query.get("item", "")
        name = next((it.name for it in plan.items if it.code == code), "")
        if dept.login == "second_login":
            return frame(
                f"<h1>{esc(dept.name)}业务系统登录</h1><p>请使用本系统账号登录后办理。</p>"
                '<form method="post" action="/wsbs/login"><label>账号 <input name="account"></label>'
                '<label>密码 <input name="pwd" type="password"></label><button>登录</button></form>',
                "登录",
            )
        if dept.login == "re_registration":
            return frame(
                f"<h1>新用户注册</h1><p>首次使用{esc(dept.name)}业务系统，请先注册本系统账号。</p>"
                '<form method="post" action="/wsbs/register"><label>姓名 <input name="xm"></label>'
                '<label>身份证号 <input name="sfzh"></label><label>手机号 <input name="sjh"></label>'
                '<label>设置密码 <input name="pwd" type="password"></label><button>注册</button></form>',
                "注册",
            )
        user = rt.site_user(site, request)
        if user is None:
            back = rt.url(site, "/sso/callback", goto=str(request.rel_url))
            raise web.HTTPFound(rt.sso_login_url(back))
        shown = mask_name(plan.account.name, plan.masking.name)
        return frame(
            f'<div class="user">欢迎您，{esc(shown)} <a href="/wsbs/logout">退出</a></div>'
            f"<h1>在线申报：{esc(name)}</h1><form><label>申报说明 <textarea name='sm'></textarea></label>"
            "<button type='button'>提交申报</button></form>",
            "在线申报",
        )

    async def callback(request: web.Request) -> web.StreamResponse:
        user = rt.validate_ticket(request.query.get("ticket", ""))
        if user is None:
            raise web.HTTPForbidden(text="ticket invalid")
        goto = request.query.get("goto", "/")
        response = web.HTTPFound(goto if goto.startswith("/") else "/")
        rt.login_site(site, user, response)
        raise response

    async def own_form_post(request: web.Request) -> web.Response:
        return frame('<p class="err">账号或密码错误，或账号不存在。</p>', "提示")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get(dept.catalogue_path, listing)
    app.router.add_get(dept.guide_path, detail)
    app.router.add_get(dept.entry_path, apply)
    app.router.add_get("/sso/callback", callback)
    app.router.add_post("/wsbs/login", own_form_post)
    app.router.add_post("/wsbs/register", own_form_post)
    return app


def build_mobile(rt: Runtime) -> web.Application:
    plan = rt.plan

    def frame(body: str, title: str) -> web.Response:
        head = '<meta name="viewport" content="width=device-width, initial-scale=1">'
        return page(
            f'<header class="m-hd">{esc(plan.province)}政务服务 · 掌上办</header>{body}',
            title=title,
            head=head,
        )

    async def index(request: web.Request) -> web.Response:
        cells = "".join(
            f'<a class="m-cell" href="/h5/detail?idx={i}"><span>{esc(c.name)}</span></a>'
            for i, c in enumerate(copies(rt, plan.mobile))
        )
        return frame(f'<section class="m-list">{cells}</section>', "全部服务")

    async def detail(request: web.Request) -> web.Response:
        listed = copies(rt, plan.mobile)
        try:
            copy = listed[int(request.query.get("idx", ""))]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        labels = {"实施编码": "业务办理项编码", "实施主体": "办理部门", "办理流程": "办事流程"}
        rows = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in guide_rows(copy.guide, labels))
        return frame(f'<h3 class="m-title">{esc(copy.name)}</h3><dl class="m-guide">{rows}</dl>', copy.name)

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/h5/index")

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/h5/index", index)
    app.router.add_get("/h5/detail", detail)
    return app
