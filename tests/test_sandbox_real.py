"""The real-structure family (sbx-yue, sbx-zj): the sites over HTTP, and the ground truth's plants.

The sites must reproduce what real portals do (a JSON search API with CUSTOM/PAGEINFO, one POST
gateway, sczwfw-style guide sections, lists without href) and the ground truth must carry the
compliant and defective cases of issue 13's classes, so that calibration measures them.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.provinces import FAMILIES, PROVINCES, family_of
from sandbox.server import Sandbox, start
from zwaudit.config.loader import load_config
from zwaudit.targets import item_target

REAL = ["sbx-yue", "sbx-zj", "sbx-chuan"]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = start(REAL, base_port=0, directory=tmp_path_factory.mktemp("real"))
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="module")
def client(real: Sandbox) -> Iterator[httpx.Client]:
    verify = ssl.create_default_context(cafile=str(real.ca_bundle))
    with httpx.Client(verify=verify, timeout=10, follow_redirects=False) as c:
        yield c


def _fails(sb: Sandbox, pid: str) -> set[tuple[str, str, str]]:
    return {
        (e["probe"], e["target"], e["code"])
        for e in sb.ground_truth(pid)["expectations"]
        if e["status"] == "fail"
    }


def _status(sb: Sandbox, pid: str, probe: str, target: str) -> list[str | None]:
    return [
        e.get("code") or "pass"
        for e in sb.ground_truth(pid)["expectations"]
        if e["probe"] == probe and e["target"] == target
    ]


def test_families_are_registered_and_written_to_the_ground_truth(real: Sandbox) -> None:
    assert [family_of(p) for p in PROVINCES] == ["sandbox-1"] * 6 + ["real-structure"] * 3 + ["hostile"]
    assert set(FAMILIES) == {family_of(p) for p in PROVINCES}
    for pid in REAL:
        truth = real.ground_truth(pid)
        assert truth["family"] == "real-structure" and 30 <= truth["item_counts"]["portal"] <= 40
    config = load_config(real.config_dir)
    assert str(config.portal("sbx-zj").home_url).endswith("/zjservice-fe/#/home")
    assert [d.id for d in config.portal("sbx-yue").departments] == ["gat", "mzt", "jtt"]


def test_yue_catalogue_is_a_json_search_api_with_pageinfo(real: Sandbox, client: httpx.Client) -> None:
    api = real.urls["sbx-yue"]["portal"] + "/portal/api/v2/solr/getCommonAuditItem"
    total = real.ground_truth("sbx-yue")["item_counts"]["portal"]
    seen: list[str] = []
    page = 1
    while True:
        custom = client.post(api, json={"AREA_CODE": "440000", "PAGENO": page, "PAGESIZE": 8}).json()[
            "CUSTOM"
        ]
        assert custom["PAGEINFO"] == {"CURRENTPAGEINDEX": page, "PAGESIZE": 8, "TOTALNUM": total}
        if not custom["AUDIT_ITEMLIST"]:
            break
        seen += [it["TASK_CODE"] for it in custom["AUDIT_ITEMLIST"]]
        page += 1
    assert len(seen) == len(set(seen)) == total and page == 6
    assert client.post(api, content=b"not json").status_code == 400
    detail = client.get(
        real.urls["sbx-yue"]["portal"] + "/portal/api/v2/item-event/getAuditItemDetailCur",
        params={"TASK_CODE": seen[0]},
    ).json()["CUSTOM"]
    assert detail["PROMISE_DAY"].isdigit() and detail["PROMISE_TYPE_TEXT"] == "个工作日"
    assert detail["ANTICIPATE_DAY"].isdigit() and detail["LINK_TEL"] and detail["TSTEL"] == "12345"
    assert detail["AUDIT_MATERIAL"][0]["MATERIAL_NAME"] and detail["ACCEPT_CONDITION"]
    # the guide page is drawn by the bundle; its list handlers have no href
    guide = client.get(real.urls["sbx-yue"]["portal"] + f"/portal/v2/guide/{seen[0]}").text
    assert 'data-page="guide"' in guide and "/portal/static/js/portal.js" in guide
    bundle = client.get(real.urls["sbx-yue"]["portal"] + "/portal/static/js/portal.js").text
    assert "承诺办理时限" in bundle and "承诺期限" in bundle and "不收费" in bundle
    assert 'onclick="openGuide(' in bundle and "window.open('/portal/v2/guide/'" in bundle
    # search through the same API: the keyword narrows the list
    hits = client.post(api, json={"KEYWORD": "身份证", "PAGENO": 1, "PAGESIZE": 10}).json()["CUSTOM"]
    assert [h["TASK_NAME"] for h in hits["AUDIT_ITEMLIST"]][:1] == ["居民身份证办理（包括临时）"]


def test_zj_data_all_through_one_post_gateway(real: Sandbox, client: httpx.Client) -> None:
    base = real.urls["sbx-zj"]["portal"]
    shell = client.get(base + "/zjservice-fe/")
    assert shell.status_code == 200 and "/zjservice-fe/static/js/app.js" in shell.text
    assert client.get(base + "/").headers["location"] == "/zjservice-fe/#/home"
    assert client.get(base + "/interface/gateway.do").status_code == 405  # POST only

    def call(method: str, **params: Any) -> dict[str, Any]:
        reply: dict[str, Any] = client.post(
            base + "/interface/gateway.do", json={"method": method, "params": params}
        ).json()
        return reply

    depts = call("mgop.zj.dept.list")["data"]["data"]["list"]
    assert depts[0] == {"deptCode": "D01", "deptName": "市场监督管理局"}
    listed = []
    for dept in depts:
        page = 1
        while True:
            data = call("mgop.zj.matter.listByDept", deptCode=dept["deptCode"], pageNo=page, pageSize=4)[
                "data"
            ]["data"]
            listed += data["list"]
            if page * 4 >= data["total"]:
                break
            page += 1
    assert len(listed) == real.ground_truth("sbx-zj")["item_counts"]["portal"]
    guide = call("mgop.zj.matter.workGuide", localInnerCode=listed[0]["localInnerCode"])["data"]["data"]
    assert guide["qlCode"] != guide["localInnerCode"] and guide["promiseLimit"]["unit"] == "个工作日"
    assert call("mgop.zj.matter.workGuide", localInnerCode="nope")["code"] == "404"
    assert call("mgop.zj.user.info")["code"] == "401"
    assert call("mgop.zj.no.such")["code"] == "404"
    app = client.get(base + "/zjservice-fe/static/js/app.js").text
    assert "#/workguide?localInnerCode=" in app and "addEventListener('click'" in app and "onclick" not in app


def test_department_systems_use_the_sichuan_section_layout(real: Sandbox, client: httpx.Client) -> None:
    base = real.urls["sbx-yue"]["dept:gat"]
    listing = client.get(base + "/jiq/front/item/list").text
    assert "loadPage(1)" in listing and "function ywblurl(url) { window.open(url); }" in listing
    fragment = client.get(
        base + "/jiq/interface/item/tags", params={"dxType": "1002", "areaCode": "511602000000", "pageno": 1}
    ).text
    assert "href=" not in fragment  # names, 办事指南 and 在线办理 are onclick handlers only
    assert fragment.count('class="sx_title"') == real.ground_truth("sbx-yue")["item_counts"]["dept:gat"]
    guide_url = re.search(r"ywblurl\('([^']*ywTransToDetail[^']*)'\)", fragment)
    assert guide_url
    page = client.get(base + guide_url.group(1).replace("&amp;", "&")).text
    for part in (
        '<div class="section1">',
        'class="table22"',
        '<div class="section4">',
        '<div id="material"><ol>',
    ):
        assert part in page
    assert '<div class="section6">' in page and '<div class="section8">' in page and "到现场次数" in page
    assert re.search(
        r"<span>\d+</span>个工作日 <span class=\"sx-sm\" title=\"承诺办结时限说明\">查看时限说明</span>", page
    )
    assert "\n                        申请材料\n" in page  # a padded section title
    code = re.search(r"itemCode=([^&]+)&", guide_url.group(1).replace("&amp;", "&"))
    assert code
    found = client.get(base + "/jiq/interface/jitem/find-by-code", params={"code": code.group(1)}).json()
    assert found["code"] == 200 and found["data"]["itemCode"] == code.group(1)


def test_the_planted_section_gap_is_absent_only_on_that_department(
    real: Sandbox, client: httpx.Client
) -> None:
    """Class 6: the portal publishes 办理地点/办理时间; one department guide lacks the section rows."""
    truth = real.ground_truth("sbx-zj")
    gap = next(
        e["target"]
        for e in truth["expectations"]
        if e["probe"] == "guide_completeness" and e["target"].endswith("@dept:scjg") and e["status"] == "fail"
    )
    code = gap.split("@")[0]
    base = real.urls["sbx-zj"]["dept:scjg"]
    page = client.get(base + "/jiq/front/transition/ywTransToDetail", params={"itemCode": code}).text
    assert "办理地点" not in page and "办理时间" not in page and "咨询方式" in page
    assert _status(real, "sbx-zj", "guide_completeness", item_target(code, "portal")) == ["pass"]
    assert _status(real, "sbx-zj", "data_same_source", gap) == ["pass"]  # reported once, not twice
    portal = client.post(
        real.urls["sbx-zj"]["portal"] + "/interface/gateway.do",
        json={"method": "mgop.zj.matter.search", "params": {"keyword": "消费纠纷调解"}},
    ).json()["data"]["data"]["list"][0]
    guide = client.post(
        real.urls["sbx-zj"]["portal"] + "/interface/gateway.do",
        json={"method": "mgop.zj.matter.workGuide", "params": {"localInnerCode": portal["localInnerCode"]}},
    ).json()["data"]["data"]
    assert guide["qlCode"] == code and guide["handleAddress"] and guide["handleTime"]


def test_ground_truth_plants_the_issue_classes(real: Sandbox) -> None:
    for pid in REAL:
        truth = real.ground_truth(pid)
        fails = _fails(real, pid)
        # class 1: a keyword whose national items the portal lacks is compliant, another imprecise
        assert truth["notes"]["not_offered"]
        compliant = [
            k for k in truth["notes"]["not_offered"] if _status(real, pid, "search_accuracy", k) == ["pass"]
        ]
        imprecise = [
            k
            for k in truth["notes"]["not_offered"]
            if _status(real, pid, "search_accuracy", k) == ["imprecise"]
        ]
        assert compliant and imprecise
        offered_only = {k for p, k, c in fails if p == "search_accuracy" and c == "incomplete"}
        assert not offered_only & set(truth["notes"]["not_offered"])  # lacking ≠ missing from search
        # class 7: one target, two defects, two rows
        if pid == "sbx-yue":
            assert _status(real, pid, "search_accuracy", "网约车") == ["incomplete", "imprecise"]
        # class 2: the third department system (listed last) alone asks for its own login
        logins = [e for e in truth["expectations"] if e["probe"] == "duplicate_login"]
        assert [e.get("code") for e in logins][:2] == [None, None]
        assert logins[2].get("code") in ("second_login", "re_registration")
        # class 6: a section the portal publishes and a department lacks: guide_completeness's,
        # on that channel, and only there
        gaps = [
            t
            for p, t, c in fails
            if p == "guide_completeness"
            and "@dept:" in t
            and _status(real, pid, p, t.split("@")[0] + "@portal") == ["pass"]  # not an incomplete item
        ]
        assert len(gaps) == 1 and _status(real, pid, "data_same_source", gaps[0]) == ["pass"]
        # classes 4 and 5: every other department copy, with controls beside values, is a pass
        passes = [
            e for e in truth["expectations"] if e["probe"] == "data_same_source" and e["status"] == "pass"
        ]
        assert sum(1 for e in passes if "@dept:" in e["target"]) >= 12
        assert (
            sum(
                1
                for e in truth["expectations"]
                if e["probe"] == "guide_completeness" and e["status"] == "pass"
            )
            >= 30
        )


def test_mobile_h5_is_served_at_the_profile_address(real: Sandbox, client: httpx.Client) -> None:
    config = load_config(real.config_dir)
    for pid in REAL:
        mobile = config.portal(pid).mobile
        assert mobile is not None
        listing = client.get(str(mobile.catalogue_url)).text
        links = re.findall(r'href="([^"]+\?taskCode=[^"]+)"', listing)
        assert len(links) == real.ground_truth(pid)["item_counts"]["mobile"]
        guide = client.get(str(httpx.URL(str(mobile.catalogue_url)).join(links[0]))).text
        assert 'class="van-cell__title"' in guide and "更新时间" in guide


def test_portal_logins_bounce_through_the_unified_authentication(real: Sandbox, client: httpx.Client) -> None:
    yue = client.get(real.urls["sbx-yue"]["portal"] + "/portal/v2/usercenter")
    assert yue.status_code == 302 and "/sso/login?service=" in yue.headers["location"]
    zj = client.get(
        real.urls["sbx-zj"]["portal"] + "/zjservice-fe/login", params={"redirect": "#/usercenter"}
    )
    assert zj.status_code == 302 and zj.headers["location"].startswith(real.urls["sbx-zj"]["auth"])
    second = client.get(
        real.urls["sbx-yue"]["dept:jtt"] + "/jiq/front/online/apply", params={"itemCode": "x"}
    )
    assert second.status_code == 200 and 'type="password"' in second.text
    sso = client.get(real.urls["sbx-yue"]["dept:gat"] + "/jiq/front/online/apply", params={"itemCode": "x"})
    assert sso.status_code == 302 and "/sso/login" in sso.headers["location"]
    assert client.get(real.urls["sbx-yue"]["portal"] + "/portal/v2/zcjd/2025-01").status_code == 404


def test_sichuan_ground_truth_dir_is_written(real: Sandbox) -> None:
    assert sorted(p.stem for p in Path(real.ground_truth_dir).glob("*.json")) == sorted(REAL)


def test_chuan_portal_is_sichuan_style_with_a_five_click_theme_chain(
    real: Sandbox, client: httpx.Client
) -> None:
    base = real.urls["sbx-chuan"]["portal"]
    home = client.get(base + "/").text
    assert 'href="/jiq/front/item/list?deptCode=D01"' in home and 'href="/jiq/front/theme"' in home
    fragment = client.get(base + "/jiq/interface/item/tags", params={"deptCode": "D01", "pageno": 1}).text
    assert "href=" not in fragment and "ywblurl('/jiq/front/transition/ywTransToDetail?" in fragment
    assert client.get(base + "/jiq/interface/item/tags", params={"deptCode": "D99"}).status_code == 404
    # 主题服务 → 特殊群体 → 困难群众 → 临时困难 → the guide: five clicks from the home page
    chain = ["", "1", "1/2", "1/2/3"]
    last = ""
    for path in chain:
        last = client.get(base + "/jiq/front/theme", params={"path": path}).text
    deep = [
        e["target"] for e in real.ground_truth("sbx-chuan")["expectations"] if e.get("code") == "too_deep"
    ]
    assert len(deep) == 1 and deep[0].split("@")[0] in last
    assert deep[0].split("@")[0] not in home + client.get(base + "/jiq/interface/item/tags").text
    guide = re.search(r'href="([^"]*ywTransToDetail[^"]*)"', last)
    assert guide
    page = client.get(base + guide.group(1).replace("&amp;", "&")).text
    assert '<div class="section1">' in page and "临时救助" in page
    results = client.get(base + "/jiq/front/search", params={"keyword": "开公司"}).text
    assert 'class="sx_title"' in results and "href=" not in results.split('class="result"')[1]


@pytest.mark.browser
def test_real_structure_pages_in_chromium(real: Sandbox) -> None:
    """The bundles draw what a person sees: a no-href catalogue, a guide with label variants and
    a 不收费 badge or 许可收费 heading, a hash-routed guide opened in a new tab by a bound click."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian chromium not installed")
    from playwright.sync_api import sync_playwright

    from zwaudit.browser import LAUNCH_ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=list(LAUNCH_ARGS), headless=True)
        try:
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            yue = real.urls["sbx-yue"]["portal"]
            page.goto(yue + "/portal/v2/personal")
            page.locator(".item-name").first.wait_for(timeout=10_000)
            assert page.locator("#list a").count() == 0 and page.locator(".item-name").count() == 10
            page.goto(yue + "/portal/v2/guide/SBX-GJJ-0002")
            page.locator(".matters-table").wait_for(timeout=10_000)
            text = page.inner_text("#mainWrap")
            assert re.search(r"承诺(办结时限|办理时限|期限)", text) and (
                "不收费" in text or "许可收费" in text
            )
            assert page.locator("ol.material-list > li > table").count() >= 2
            zj = real.urls["sbx-zj"]["portal"]
            page.goto(zj + "/zjservice-fe/#/dept?deptCode=D01")
            page.locator(".matter-item").first.wait_for(timeout=10_000)
            with context.expect_page() as opened:
                page.locator(".matter-item").first.click()
            guide = opened.value
            guide.locator(".wg-online").wait_for(timeout=10_000)
            assert "#/workguide?localInnerCode=3300" in guide.url
            assert "查看时限说明" in guide.inner_text("#wg")
            assert guide.get_attribute(".wg-online", "href").startswith(real.urls["sbx-zj"]["dept:scjg"])  # type: ignore[union-attr]
        finally:
            browser.close()
