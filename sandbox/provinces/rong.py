"""sbx-rong 蓉城市: a legacy city portal — GB2312 pages, an iframe layout, window.open navigation.

The catalogue, the guides and the search results all load inside ``<iframe name="mainFrame">`` of
the outer page; the search is a classic GET form (``/search.jsp``, ``keyword``) submitted by an
``<input type="image" alt="检索">`` into that frame. Links mix ``javascript:void(0)`` with
``onclick="window.open(...)"`` and real hrefs. The user centre masks a two-character name as 王*
on the page and in its JSON (the clean 张* case), with compliant https + HSTS on the login host.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, quote

from aiohttp import web

from sandbox.catalogue import Item
from sandbox.plan import Account, AuthPlan, ChannelPlan, DeptSite, MaskPlan, Plan
from sandbox.provinces import common
from sandbox.search import search
from sandbox.web.channels import guide_rows
from sandbox.web.kit import Runtime, esc

ID = "sbx-rong"
FAMILY = "sandbox-1"
CHARSET = "gb2312"
LABELS = {
    "实施编码": "事项编码",
    "实施主体": "实施机构",
    "设定依据": "法律依据",
    "受理条件": "申请条件",
    "申请材料": "申报材料",
    "法定办结时限": "法定时限",
    "承诺办结时限": "承诺时限",
    "监督电话": "监督投诉方式",
    "更新时间": "更新日期",
}
GIF = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")


def plan() -> Plan:
    keyword_names = (
        "最低生活保障",
        "居民身份证办理（包括临时）",
        "住房公积金提取",
        "住房公积金缴存登记",
        "内地居民结婚登记",
        "补领结婚证",
    )
    items = common.select(
        ID, [("区公安分局", 26, 8), ("区民政局", 8, 7), ("区医疗保障局", 10, 8)], keyword_names
    )

    def of(dept: str, i: int) -> str:
        return common.codes_of(items, dept)[i]

    return Plan(
        id=ID,
        name="蓉城市政务服务网",
        province="蓉城市",
        style="legacy city portal: GB2312, iframe layout, window.open/javascript: links, GET search form",
        prefix="rc",
        portal_https=False,
        items=items,
        depts=(
            DeptSite(
                "gaj",
                "公安局",
                "公安厅",
                "sso",
                "/gaj/bszn/list.jsp",
                "/gaj/bszn/view.jsp",
                "/gaj/wsbs/apply.jsp",
            ),
            DeptSite(
                "mzj",
                "民政局",
                "民政厅",
                "second_login",
                "/mzj/sx/list.jsp",
                "/mzj/sx/view.jsp",
                "/mzj/ywbl.jsp",
            ),
            DeptSite(
                "ybj",
                "医疗保障局",
                "医疗保障局",
                "sso",
                "/ybj/fwzn.jsp",
                "/ybj/fwzn/view.jsp",
                "/ybj/online.jsp",
            ),
        ),
        account=Account(
            "wangmin_rc", "Sbx-rong-2025", "王敏", common.id_number("51010419900212402"), "13980012345"
        ),
        auth=AuthPlan(),
        masking=MaskPlan(name="keep_first", id_number="birth_hidden", phone="masked"),
        mobile=ChannelPlan(
            missing=frozenset({of("公安厅", 2)}),
            stale=frozenset({of("医疗保障局", 1)}),
        ),
        dept_channels={"ybj": ChannelPlan(mismatch={of("医疗保障局", 4): "申请材料"})},
        incomplete={of("公安厅", 5): ("办理地点",)},
        synonyms={"低保": common.FULL_SYNONYMS["低保"]},
        broken_links=(
            (f"/web/attach/{_key(of('民政厅', 0))}.doc", f"/web/guide.jsp?itemid={_key(of('民政厅', 0))}"),
        ),
        label_aliases=LABELS,
        user_centre_path="/member/center.jsp",
        level="city",
    )


def _key(code: str) -> str:
    return hashlib.sha1(f"rong:{code}".encode()).hexdigest()[:10].upper()


def _html(body: str, title: str, head: str = "") -> web.Response:
    """A GB2312-declared page encoded as GB2312 (characters outside it become character references)."""
    doc = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<html><head>'
        f'<meta http-equiv="Content-Type" content="text/html; charset={CHARSET}">'
        f"<title>{esc(title)}</title>{head}</head><body>{body}</body></html>"
    )
    return web.Response(
        body=doc.encode(CHARSET, errors="xmlcharrefreplace"),
        content_type="text/html",
        charset=CHARSET,
    )


def _query(request: web.Request) -> dict[str, list[str]]:
    """A GB2312 page's form sends GB2312 bytes; UTF-8 is accepted too, as legacy servers do."""
    raw = request.rel_url.raw_query_string
    try:
        return parse_qs(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return parse_qs(raw, encoding="gb18030", errors="replace")


def build_portal(rt: Runtime) -> web.Application:
    plan = rt.plan
    by_key = {_key(it.code): it for it in plan.items}
    depts = sorted({it.department for it in plan.items})
    broken = {p for p, _ in plan.broken_links}

    def item_table(items: list[Item]) -> str:
        rows = "".join(
            f'<tr><td class="xh">{n + 1}</td><td><a href="javascript:void(0)" onclick="openGuide(\'{_key(it.code)}\')">'
            f'{esc(it.name)}</a></td><td>{esc(it.department)}</td><td><a href="guide.jsp?itemid={_key(it.code)}">办事指南</a></td></tr>'
            for n, it in enumerate(items)
        )
        return (
            '<table width="100%" border="0" cellspacing="1" cellpadding="4" bgcolor="#cccccc" class="list">'
            f'<tr bgcolor="#eeeeee"><td width="6%">序号</td><td>事项名称</td><td width="18%">实施机构</td><td width="10%">操作</td></tr>{rows}</table>'
            "<script>function openGuide(k){window.open('guide.jsp?itemid='+k,'_self')}</script>"
        )

    async def index(request: web.Request) -> web.Response:
        logged_in = rt.site_user("portal", request) is not None
        who = (
            '<a href="/member/center.jsp">个人中心</a> | <a href="/logout.jsp">退出</a>'
            if logged_in
            else '<a href="/login.jsp">用户登录</a> | <a href="javascript:void(0)" onclick="alert(\'请到统一身份认证平台注册\')">注册</a>'
        )
        nav = "".join(
            f'<tr><td class="nav"><a href="/web/list.jsp?deptid={i}" target="mainFrame">{esc(d)}</a></td></tr>'
            for i, d in enumerate(depts)
        )
        body = (
            '<table width="980" align="center" border="0" cellspacing="0" cellpadding="0">'
            f'<tr><td height="60"><img src="/images/logo.gif" width="1" height="1" alt=""><font size="5"><b>{esc(plan.name)}</b></font></td>'
            f'<td align="right">{who}</td></tr>'
            '<tr><td colspan="2" bgcolor="#1d5fa8" height="34">'
            '<form name="searchForm" action="/search.jsp" method="get" target="mainFrame" style="margin:0">'
            '<font color="#ffffff">事项检索：</font><input type="text" name="keyword" size="30" maxlength="50">'
            '<input type="image" src="/images/search.gif" alt="检索" align="absmiddle"></form></td></tr>'
            '<tr><td colspan="2"><table width="100%" border="0" cellspacing="0" cellpadding="0"><tr>'
            '<td width="200" valign="top"><table width="100%" border="0" cellspacing="0" cellpadding="4">'
            '<tr><td bgcolor="#e8eef7"><b>部门导航</b></td></tr>'
            f'<tr><td class="nav"><a href="/web/hot.jsp" target="mainFrame">热门事项</a></td></tr>{nav}</table></td>'
            '<td valign="top"><iframe name="mainFrame" id="mainFrame" src="/web/hot.jsp" width="100%" height="640"'
            ' frameborder="0" scrolling="auto"></iframe></td></tr></table></td></tr>'
            '<tr><td colspan="2" align="center" class="foot">主办：蓉城市人民政府办公厅 '
            '<a href="javascript:void(0)" onclick="window.open(\'/web/sitemap.jsp\')">网站地图</a></td></tr></table>'
        )
        return _html(body, plan.name)

    async def hot(request: web.Request) -> web.Response:
        return _html("<b>热门事项</b>" + item_table(list(plan.items[:8])), "热门事项")

    async def dept_list(request: web.Request) -> web.Response:
        try:
            name = depts[int(request.query.get("deptid", ""))]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        items = [it for it in plan.items if it.department == name]
        return _html(f"<b>{esc(name)}</b>" + item_table(items), name)

    async def guide(request: web.Request) -> web.Response:
        item = by_key.get(request.query.get("itemid", ""))
        if item is None:
            raise web.HTTPNotFound()
        rows = "".join(
            f'<tr><td width="20%" bgcolor="#f2f2f2" align="right">{esc(label)}：</td><td bgcolor="#ffffff">{value}</td></tr>'
            for label, value in guide_rows(plan.portal_guide(item), LABELS)
        )
        dept = plan.dept_of(item)
        online = ""
        if dept is not None:
            href = rt.url(f"dept:{dept.id}", dept.entry_path, item=item.code)
            online = f'<a href="{esc(href)}" target="_blank"><b>在线办理</b></a>'
        key = _key(item.code)
        body = (
            f'<table width="100%" border="0"><tr><td align="center"><font size="4"><b>{esc(item.name)}</b></font></td></tr>'
            f'<tr><td align="right">{online} <a href="javascript:history.back()">返回</a></td></tr></table>'
            f'<table width="100%" border="0" cellspacing="1" cellpadding="5" bgcolor="#cccccc">{rows}</table>'
            f'<p>附件：<a href="/web/attach/{key}.doc">申请表下载</a></p>'
        )
        return _html(body, item.name)

    async def attachment(request: web.Request) -> web.Response:
        if request.path in broken or request.match_info["key"] not in by_key:
            raise web.HTTPNotFound()
        return web.Response(body=b"sandbox form\n", content_type="application/msword")

    async def search_page(request: web.Request) -> web.Response:
        query = _query(request)
        keyword = (query.get("keyword") or [""])[0].strip()
        try:
            page_no = max(1, int((query.get("page") or ["1"])[0]))
        except ValueError:
            page_no = 1
        found = search(plan, keyword)
        rows = "".join(
            f'<tr><td><a href="/web/guide.jsp?itemid={_key(it.code)}">{esc(it.name)}</a></td><td>{esc(it.department)}</td></tr>'
            for it in found[(page_no - 1) * 10 : page_no * 10]
        )
        pager = ""
        if len(found) > page_no * 10:
            kw = quote(keyword.encode(CHARSET, errors="ignore"))
            pager = f'<a href="/search.jsp?keyword={kw}&amp;page={page_no + 1}">下一页</a>'
        head = f"检索“{esc(keyword)}”，共 {len(found)} 条记录" if found else "没有检索到相关事项"
        table = (
            f'<table width="100%" border="0" cellspacing="1" cellpadding="4" class="result">{rows}</table>'
        )
        return _html(f"<p>{head}</p>{table}{pager}", "检索结果")

    async def login(request: web.Request) -> web.StreamResponse:
        raise common.login_redirect(rt, "/sso/callback.jsp", "/member/center.jsp")

    async def callback(request: web.Request) -> web.StreamResponse:
        raise common.accept_ticket(rt, request)

    async def logout(request: web.Request) -> web.StreamResponse:
        response = web.HTTPFound("/")
        response.del_cookie(rt.cookie("portal"), path="/")
        raise response

    async def centre(request: web.Request) -> web.StreamResponse:
        if rt.site_user("portal", request) is None:
            raise web.HTTPFound("/login.jsp")
        d = common.user_data(plan, masked=True)
        body = (
            f'<table width="600" align="center" border="1" cellspacing="0" cellpadding="6"><tr><td colspan="2"><b>个人中心 - {esc(plan.name)}</b></td></tr>'
            f'<tr><td width="30%">姓　　名</td><td>{esc(d["name"])}</td></tr>'
            f"<tr><td>身份证号</td><td>{esc(d['id_number'])}</td></tr>"
            f"<tr><td>手机号码</td><td>{esc(d['phone'])}</td></tr>"
            '<tr><td>上次登录</td><td id="lastLogin">-</td></tr></table>'
            '<p align="center"><a href="/">返回首页</a> | <a href="/logout.jsp">退出登录</a></p>'
            "<script>var x=new XMLHttpRequest();x.open('GET','/member/getUserInfo.do',true);"
            "x.onreadystatechange=function(){if(x.readyState==4&&x.status==200){var r=JSON.parse(x.responseText);"
            "document.getElementById('lastLogin').innerHTML=r.data.lastLoginTime;}};x.send();</script>"
        )
        return _html(body, "个人中心")

    async def user_info(request: web.Request) -> web.Response:
        if rt.site_user("portal", request) is None:
            return web.json_response({"success": False, "msg": "未登录"}, status=401)
        d = common.user_data(plan, masked=True)
        data = {"userName": d["name"], "certNo": d["id_number"], "mobile": d["phone"]}
        return web.json_response({"success": True, "data": {**data, "lastLoginTime": "2025-06-01 09:12:33"}})

    async def sitemap(request: web.Request) -> web.Response:
        return _html('<p>网站地图：<a href="/">首页</a></p>', "网站地图")

    async def gif(request: web.Request) -> web.Response:
        return web.Response(body=GIF, content_type="image/gif")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow:\n")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/index.jsp", index)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/images/{name}.gif", gif)
    app.router.add_get("/static/stat.js", common.stat_js)
    app.router.add_get("/web/hot.jsp", hot)
    app.router.add_get("/web/list.jsp", dept_list)
    app.router.add_get("/web/guide.jsp", guide)
    app.router.add_get("/web/attach/{key}.doc", attachment)
    app.router.add_get("/web/sitemap.jsp", sitemap)
    app.router.add_get("/search.jsp", search_page)
    app.router.add_get("/login.jsp", login)
    app.router.add_get("/sso/callback.jsp", callback)
    app.router.add_get("/logout.jsp", logout)
    app.router.add_get("/member/center.jsp", centre)
    app.router.add_get("/member/getUserInfo.do", user_info)
    return app
