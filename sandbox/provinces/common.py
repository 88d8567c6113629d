"""Helpers shared by the province definitions: item selection, test identities, login plumbing."""

from __future__ import annotations

from aiohttp import web

from sandbox.catalogue import Item, find
from sandbox.plan import Plan
from sandbox.web.kit import Runtime, mask_id, mask_name, mask_phone

# The services a good answer to each of the ten keywords contains (real names where the 四川
# catalogue has them; data/synthetic_items.csv otherwise).
KEYWORD_ITEMS = {
    "公积金": ("住房公积金提取", "住房公积金缴存登记"),
    "个税": ("个人所得税综合所得年度汇算申报", "开具个人所得税纳税记录（县级行使）"),
    "社保": ("企业社会保险登记", "机关事业单位社会保险缴费申报与变更"),
    "结婚": ("内地居民结婚登记", "补领结婚证"),
    "低保": ("最低生活保障",),
    "网约车": ("网络预约出租汽车运输证发放（新增）", "网络预约出租汽车驾驶员证核发"),
    "卫生证": ("从业人员预防性健康检查（健康证明）办理", "公共场所卫生许可新办审批（县级）"),
    "身份证": ("居民身份证办理（包括临时）", "居民身份证挂失申报、丢失招领"),
    "开公司": ("公司设立登记",),
    "工业生产许可": ("工业产品生产许可证核发",),
}
CANCELLED_ITEM = "石油天然气（含煤层气）对外合作项目总体开发方案审批"
FULL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "低保": ("最低生活保障",),
    "网约车": ("网络预约出租汽车",),
    "个税": ("个人所得税",),
    "开公司": ("设立登记", "开办企业"),
    "卫生证": ("健康证", "公共场所卫生许可"),
    "工业生产许可": ("工业产品生产许可",),
    "社保": ("社会保险",),
    "结婚": ("结婚登记", "结婚证"),
}


def select(
    province: str,
    departments: list[tuple[str, int, int]],
    keyword_names: tuple[str, ...],
    extra_names: tuple[str, ...] = (),
) -> tuple[Item, ...]:
    """Keyword items, then ``count`` items of each source department starting at ``skip``."""
    out: list[Item] = list(find(province, names=keyword_names + extra_names))
    seen = {it.code for it in out}
    for source, skip, count in departments:
        for it in find(province, department=source, limit=skip + count)[skip:]:
            if it.code not in seen:
                out.append(it)
                seen.add(it.code)
    return tuple(out)


def offered_keyword_names(not_offered: tuple[str, ...]) -> tuple[str, ...]:
    """The keyword items a province offers: every one of :data:`KEYWORD_ITEMS` but ``not_offered``."""
    return tuple(n for ns in KEYWORD_ITEMS.values() for n in ns if n not in not_offered)


def codes_of(items: tuple[Item, ...], department: str) -> list[str]:
    """The codes of ``department``'s items, in listing order (plants pick them by position)."""
    return [it.code for it in items if it.department == department]


def id_number(body17: str) -> str:
    """An 18-digit resident ID number with its GB 11643 check digit."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


def user_data(plan: Plan, *, masked: bool) -> dict[str, str]:
    """What the user centre shows (masked per the plan) or what the leaky API returns."""
    a, m = plan.account, plan.masking
    return {
        "name": mask_name(a.name, m.name) if masked else a.name,
        "id_number": mask_id(a.id_number, m.id_number) if masked else a.id_number,
        "phone": mask_phone(a.phone, m.phone) if masked else a.phone,
    }


def login_redirect(rt: Runtime, callback_path: str, goto: str) -> web.HTTPFound:
    """The portal's 登录 entry: off to the unified authentication host."""
    return web.HTTPFound(rt.sso_login_url(rt.url("portal", callback_path, goto=goto)))


def accept_ticket(rt: Runtime, request: web.Request) -> web.HTTPFound:
    """The portal's SSO callback: validate the ticket server-side, open a portal session."""
    user = rt.validate_ticket(request.query.get("ticket", ""))
    if user is None:
        raise web.HTTPForbidden(text="invalid ticket")
    goto = request.query.get("goto", "/")
    response = web.HTTPFound(goto if goto.startswith("/") else "/")
    rt.login_site("portal", user, response)
    return response


async def stat_js(request: web.Request) -> web.Response:
    """A statistics script, fetched over http by a province whose login page has mixed content."""
    return web.Response(text="/* visit statistics */\n", content_type="application/javascript")
