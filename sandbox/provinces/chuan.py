"""sbx-chuan 川东省 (real-structure family): a Sichuan-style portal (sczwfw ``/jiq/…``).

Written from what public crawlers of www.sczwfw.gov.cn document (sandbox/README.md): the catalogue
page loads HTML fragments from ``/jiq/interface/item/tags?dxType=&areaCode=&pageno=`` whose names
and buttons are ``onclick="ywblurl('…')"`` (no href); guides at
``/jiq/front/transition/ywTransToDetail?areaCode=&itemCode=&taskType=&deptCode=`` in numbered
sections (:func:`sandbox.provinces.real_channels.sichuan_guide`); search results are the same
fragments; a 主题服务 tree that hides one item five clicks deep. Department systems share the
section layout (the same province's template), H5 the Vant-style channel.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.catalogue import Item
from sandbox.plan import Account, AuthPlan, ChannelPlan, Copy, MaskPlan, Plan
from sandbox.provinces import common, real_channels
from sandbox.search import search
from sandbox.web.kit import Runtime, esc, page

ID = "sbx-chuan"
FAMILY = "real-structure"
AREA_CODE = "510000000000"
NOT_OFFERED = ("开具个人所得税纳税记录（县级行使）", "公司设立登记")
HOT = 12  # 热门事项 (hrefs): items of the first two department systems only
PAGE_SIZE = 10
THEMES = {"": "主题服务", "1": "特殊群体", "1/2": "困难群众", "1/2/3": "临时困难"}

build_dept = real_channels.build_dept
build_mobile = real_channels.build_mobile


def plan() -> Plan:
    keyword_names = common.offered_keyword_names(NOT_OFFERED)
    items = common.select(
        ID,
        [("区住建局", 0, 6), ("区自然资源和规划局", 0, 6), ("区医疗保障局", 3, 5)],
        keyword_names,
        ("临时救助",),
    )
    rank = {"住房和城乡建设厅": 0, "自然资源厅": 1, "医疗保障局": 3}
    items = tuple(sorted(items, key=lambda it: rank.get(it.department, 2)))
    zjt = common.codes_of(items, "住房和城乡建设厅")
    zrt = common.codes_of(items, "自然资源厅")
    code = {it.name: it.code for it in items}
    synonyms = dict(common.FULL_SYNONYMS)
    synonyms["开公司"] = ("备案",)  # nothing offered, and a loose synonym: 搜不准
    return Plan(
        id=ID,
        name="川东省政务服务网",
        province="川东省",
        style="sczwfw-style /jiq/ fragments with onclick lists, sectioned guides, a theme tree",
        prefix="cd",
        portal_https=True,
        items=items,
        depts=(
            real_channels.sichuan_dept("zjt", "住房和城乡建设厅", "sso"),
            real_channels.sichuan_dept("zrt", "自然资源厅", "sso"),
            real_channels.sichuan_dept("ybj", "医疗保障局", "re_registration"),
        ),
        account=Account(
            "lijm_cd", "Sbx-chuan-2025", "李建民", common.id_number("51160219850607341"), "18982601234"
        ),
        auth=AuthPlan(form_posts_http=True),
        masking=MaskPlan(name="keep_first_last", id_number="plain", phone="masked"),
        mobile=ChannelPlan(mismatch={zrt[1]: "承诺办结时限"}),
        dept_channels={
            "zjt": ChannelPlan(absent={zjt[2]: ("受理条件",)}, stale=frozenset({zjt[4]})),
            "zrt": ChannelPlan(missing=frozenset({zrt[3]})),
        },
        deep=frozenset({code["临时救助"]}),
        incomplete={zjt[0]: ("监督电话",)},
        synonyms=synonyms,
        user_centre_path="/jiq/front/user/center",
        mobile_path="/h5/item/list",
    )


def _theme_parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    order = [it.department for it in plan.items]
    depts = sorted(set(order), key=order.index)
    shallow = [it for it in plan.items if it.code not in plan.deep]

    def guide_url(it: Item) -> str:
        return f"/jiq/front/transition/ywTransToDetail?areaCode={AREA_CODE}&itemCode={it.code}&taskType=1&deptCode=D{depts.index(it.department) + 1:02d}"

    def frame(body: str, title: str) -> web.Response:
        top = (
            f'<div class="top"><span class="logo">{esc(plan.name)}</span>'
            '<form class="search" action="/jiq/front/search" method="get"><input name="keyword" placeholder="请输入事项名称">'
            '<input type="submit" value="搜索"></form><a href="/jiq/login">登录</a> <a href="/jiq/front/user/center">个人中心</a></div>'
        )
        return page(top + body, title=f"{title} - {plan.name}", head=real_channels.DEPT_SCRIPT % AREA_CODE)

    def fragment(rows: list[Item], pageno: int, loader: str) -> str:
        chunk = rows[(pageno - 1) * PAGE_SIZE : pageno * PAGE_SIZE]
        items = "".join(
            f'<div class="sx_item"><div class="sx_title" title="{esc(it.name)}" onclick="ywblurl(\'{esc(guide_url(it))}\')">'
            f'{esc(it.name)}</div><div class="sx_btns"><span class="btn_bszn" onclick="ywblurl(\'{esc(guide_url(it))}\')">办事指南</span></div></div>'
            for it in chunk
        )
        pages = max(1, (len(rows) + PAGE_SIZE - 1) // PAGE_SIZE)
        pager = f'<div class="page">共{len(rows)}条 第{pageno}/{pages}页'
        if pageno < pages and loader:
            pager += f' <span class="next" onclick="{loader}({pageno + 1})">下一页</span>'
        return f'<div class="sx_list">{items}</div>{pager}</div>'

    def dept_rows(request: web.Request) -> list[Item]:
        dept = request.query.get("deptCode", "")
        try:
            name = depts[int(dept.removeprefix("D")) - 1] if dept else ""
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        return [it for it in shallow if not name or it.department == name]

    async def home(request: web.Request) -> web.Response:
        hot = [it for it in shallow if it.department in depts[:2]][:HOT]
        lis = "".join(
            f'<li><a href="{esc(guide_url(it))}" target="_blank">{esc(it.name)}</a></li>' for it in hot
        )
        dl = "".join(
            f'<li><a href="/jiq/front/item/list?deptCode=D{i + 1:02d}">{esc(d)}</a></li>'
            for i, d in enumerate(depts)
        )
        body = (
            f'<div class="rmsx"><h3>热门事项</h3><ul>{lis}</ul></div><div class="bmfw"><h3>部门服务</h3><ul>{dl}</ul></div>'
            '<div class="ztfw"><a href="/jiq/front/theme">主题服务</a> <a href="/jiq/front/item/list">个人服务</a></div>'
        )
        return frame(body, "首页")

    async def listing(request: web.Request) -> web.Response:
        dept_rows(request)  # 404 for an unknown department
        dept = request.query.get("deptCode", "")
        script = (
            "<script>function loadList(n){fetch('/jiq/interface/item/tags?dxType=1002&areaCode="
            f"{AREA_CODE}&deptCode={esc(dept)}&pageno='+n).then(function(r){{return r.text();}})"
            ".then(function(h){document.getElementById('sxList').innerHTML=h;});} loadList(1);</script>"
        )
        return frame(
            f'<div class="sx-head">事项列表</div><div id="sxList">正在加载…</div>{script}', "个人服务"
        )

    async def tags(request: web.Request) -> web.Response:
        try:
            pageno = max(1, int(request.query.get("pageno", "1")))
        except ValueError:
            raise web.HTTPBadRequest(text="pageno") from None
        html = fragment(dept_rows(request), pageno, "loadList")
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def search_page(request: web.Request) -> web.Response:
        keyword = request.query.get("keyword", "").strip()
        hits = search(plan, keyword)
        if not hits:
            return frame('<div class="no-result">未找到相关事项</div>', "搜索")
        return frame(f'<div class="result">找到{len(hits)}条</div>{fragment(hits, 1, "")}', "搜索")

    async def theme(request: web.Request) -> web.Response:
        path = request.query.get("path", "").strip("/")
        if path not in THEMES:
            raise web.HTTPNotFound()
        children = [(p, t) for p, t in THEMES.items() if p and _theme_parent(p) == path]
        lis = "".join(f'<li><a href="/jiq/front/theme?path={p}">{esc(t)}</a></li>' for p, t in children)
        if not children:
            lis = "".join(
                f'<li><a href="{esc(guide_url(it))}">{esc(it.name)}</a></li>'
                for it in plan.items
                if it.code in plan.deep
            )
        return frame(f"<h3>{esc(THEMES[path])}</h3><ul>{lis}</ul>", THEMES[path])

    async def guide(request: web.Request) -> web.Response:
        item = next((it for it in plan.items if it.code == request.query.get("itemCode")), None)
        if item is None:
            raise web.HTTPNotFound()
        dept = plan.dept_of(item)
        online = rt.url(f"dept:{dept.id}", dept.entry_path, itemCode=item.code) if dept else ""
        copy = Copy(item.code, item.name, plan.portal_guide(item))
        body = f'<div class="bszn-title"><h2>{esc(item.name)}</h2></div>{real_channels.sichuan_guide(copy, online)}'
        return frame(body, item.name)

    async def user_centre(request: web.Request) -> web.StreamResponse:
        if rt.site_user("portal", request) is None:
            raise common.login_redirect(rt, "/jiq/sso/callback", "/jiq/front/user/center")
        d = common.user_data(plan, masked=True)
        rows = "".join(
            f'<tr><td class="td1">{real_channels.pad(label)}</td><td data-bind="{key}">{esc(d[key])}</td></tr>'
            for label, key in (("姓名", "name"), ("证件号码", "id_number"), ("联系电话", "phone"))
        )
        return frame(
            f'<div class="grzx"><h3>个人中心</h3><table class="table22">{rows}</table></div>', "个人中心"
        )

    async def login(request: web.Request) -> web.StreamResponse:
        raise common.login_redirect(rt, "/jiq/sso/callback", "/jiq/front/user/center")

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/jiq/front/item/list", listing)
    app.router.add_get("/jiq/interface/item/tags", tags)
    app.router.add_get("/jiq/front/search", search_page)
    app.router.add_get("/jiq/front/theme", theme)
    app.router.add_get("/jiq/front/transition/ywTransToDetail", guide)
    app.router.add_get("/jiq/front/user/center", user_centre)
    app.router.add_get("/jiq/login", login)
    app.router.add_get("/jiq/sso/callback", callback)
    app.router.add_get("/static/stat.js", common.stat_js)
    return app
