"""Representative sandbox pages in real Chromium, plus the WAF's answers to a plain HTTP client."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from sandbox.server import Sandbox
from zwaudit.browser import LAUNCH_ARGS

CHROMIUM = Path("/usr/bin/chromium")
ARGS = list(LAUNCH_ARGS)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _context(browser: object) -> object:
    # The sandbox CA is not in Chromium's store; certificate checks are the auditor's job (ca_bundle).
    return browser.new_context(ignore_https_errors=True)  # type: ignore[attr-defined]


@pytest.mark.browser
def test_spa_search_renders_results_from_the_json_api(sandbox: Sandbox, browser: object) -> None:
    page = _context(browser).new_page()  # type: ignore[attr-defined]
    page.goto(sandbox.urls["sbx-zhe"]["portal"] + "/zsfw/")
    page.get_by_role("searchbox").fill("网约车")  # answered through the synonym 网络预约出租汽车
    page.get_by_role("button", name="搜索").click()
    hit = page.get_by_text("网络预约出租汽车运输证发放（新增）", exact=True)
    hit.wait_for(timeout=10_000)
    assert "#/search" in page.url
    hit.click()
    page.get_by_text("材料清单").wait_for(timeout=10_000)
    assert page.get_by_role("link", name="网上申报").count() == 1


@pytest.mark.browser
def test_signed_search_works_in_the_browser_and_refuses_unsigned_posts(
    sandbox: Sandbox, browser: object
) -> None:
    base = sandbox.urls["sbx-jin"]["portal"]
    page = _context(browser).new_page()  # type: ignore[attr-defined]
    page.goto(base + "/bsdt/search.html?kw=" + "身份证")
    page.get_by_role("link", name="居民身份证办理（包括临时）").wait_for(timeout=10_000)
    verify = ssl.create_default_context(cafile=str(sandbox.ca_bundle))
    unsigned = httpx.post(
        base + "/bsdt/api/search", json={"keyword": "身份证", "pageNo": 1, "pageSize": 10}, verify=verify
    )
    assert unsigned.status_code == 403


@pytest.mark.browser
def test_cookie_challenge_passes_in_the_browser(sandbox: Sandbox, browser: object) -> None:
    page = _context(browser).new_page()  # type: ignore[attr-defined]
    first = page.goto(sandbox.urls["sbx-yun"]["portal"] + "/portal/index")
    assert first is not None and first.status == 521
    page.get_by_text("部门服务").wait_for(timeout=10_000)
    page.get_by_role("link", name="税务局").click()
    page.get_by_role("link", name="个人所得税综合所得年度汇算申报").wait_for(timeout=10_000)


def test_plain_client_gets_the_challenge_then_429_with_retry_after(sandbox: Sandbox) -> None:
    verify = ssl.create_default_context(cafile=str(sandbox.ca_bundle))
    url = sandbox.urls["sbx-yun"]["portal"] + "/portal/index"
    statuses = []
    with httpx.Client(verify=verify, headers={"User-Agent": "sandbox-test-plain-client"}) as client:
        first = client.get(url)
        assert first.status_code == 521 and "document.cookie" in first.text
        for _ in range(80):
            response = client.get(url)
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) >= 1
                break
    assert set(statuses[:-1]) == {521} and statuses[-1] == 429


@pytest.mark.browser
def test_captcha_login_and_the_leaky_user_centre_api(sandbox: Sandbox, browser: object) -> None:
    """sbx-jin: log in once as a person would (captcha answer read off DIR/captcha), then the XHR leak."""
    from zwaudit.secrets import Secrets

    secrets = Secrets(sandbox.config_dir / "secrets.yaml")
    values = {k: secrets.resolve(secrets_ref(k)) for k in ("username", "password", "name")}
    page = _context(browser).new_page()  # type: ignore[attr-defined]
    page.goto(sandbox.urls["sbx-jin"]["portal"] + "/")
    page.get_by_role("link", name="个人登录").click()
    page.get_by_label("验证码").wait_for(timeout=10_000)
    cid = page.locator("input[name=cid]").get_attribute("value")
    answer = (sandbox.captcha_dir / f"{cid}.txt").read_text().strip()
    page.get_by_label("用户名/手机号/身份证号").fill(values["username"])
    page.get_by_label("密码").fill(values["password"])
    page.get_by_label("验证码").fill(answer)
    with page.expect_response(lambda r: "/bsdt/api/uc/profile" in r.url) as leak:
        page.get_by_role("button", name="登录").click()
    assert leak.value.json()["result"]["xm"] == values["name"]
    page.locator("#uc-name").filter(has_text="*").wait_for(timeout=10_000)
    assert values["name"] not in page.locator("body").inner_text()


def secrets_ref(key: str) -> object:
    from zwaudit.config.schema import SecretRef

    return SecretRef(secret=f"sbx-jin.{key}")


def _secrets(sandbox: Sandbox, pid: str) -> dict[str, str]:
    from zwaudit.config.schema import SecretRef
    from zwaudit.secrets import Secrets

    store = Secrets(sandbox.config_dir / "secrets.yaml")
    return {
        k: store.resolve(SecretRef(secret=f"{pid}.{k}")) for k in ("username", "password", "name", "phone")
    }


@pytest.mark.browser
def test_rong_guide_and_search_results_render_inside_the_iframe(sandbox: Sandbox, browser: object) -> None:
    page = _context(browser).new_page()  # type: ignore[attr-defined]
    page.goto(sandbox.urls["sbx-rong"]["portal"] + "/")
    frame = page.frame_locator("iframe[name=mainFrame]")
    page.get_by_role("link", name="公安厅").click()
    row = frame.locator("tr", has_text="居民身份证办理（包括临时）")
    row.get_by_role("link", name="办事指南").click()
    frame.get_by_text("申报材料：").wait_for(timeout=10_000)
    assert frame.get_by_role("link", name="在线办理").count() == 1
    assert page.url.rstrip("/") == sandbox.urls["sbx-rong"]["portal"]  # the outer page never moved
    page.locator("input[name=keyword]").fill("低保")  # answered through the synonym 最低生活保障
    page.get_by_role("button", name="检索").click()
    frame.get_by_role("link", name="最低生活保障").wait_for(timeout=10_000)


@pytest.mark.browser
def test_min_search_fetches_results_while_typing_and_guides_are_accordions(
    sandbox: Sandbox, browser: object
) -> None:
    page = _context(browser).new_page()  # type: ignore[attr-defined]
    base = sandbox.urls["sbx-min"]["portal"]
    page.goto(base + "/")
    page.get_by_role("heading", name="部门服务").wait_for(timeout=10_000)
    # the answer to the whole keyword: on a loaded machine the keys can come more than the app's
    # 300 ms apart, and a search for 低 alone answers first; its list holds the hit too, and the
    # app's later search for 低保 would then take the page back to the results after the click
    whole = "keyword=" + quote("低保")
    with page.expect_response(lambda r: "/api/v2/search" in r.url and whole in r.url):
        page.get_by_role("textbox", name="搜索").press_sequentially("低保", delay=50)  # no Enter, no click
    hit = page.get_by_role("link", name="最低生活保障", exact=True)
    hit.wait_for(timeout=10_000)
    assert page.url.startswith(base + "/search?keyword=")
    hit.click()
    page.get_by_role("heading", name="最低生活保障").wait_for(timeout=10_000)
    assert "/service/guide/g" in page.url and "#" not in page.url
    materials = page.get_by_role("button", name="申请材料")
    assert materials.get_attribute("aria-expanded") == "false"
    assert not page.get_by_text("申请人居民身份证").or_(page.get_by_text("申请表（原件）")).first.is_visible()
    materials.click()
    assert materials.get_attribute("aria-expanded") == "true"
    page.get_by_role("region", name="申请材料").locator("li").first.wait_for(timeout=10_000)


@pytest.mark.browser
def test_sso_ticket_round_trip_into_a_department_system(sandbox: Sandbox, browser: object) -> None:
    """Log in once on the portal, then arrive logged in on a department system that accepts SSO."""
    values = _secrets(sandbox, "sbx-min")
    page = _context(browser).new_page()  # type: ignore[attr-defined]
    page.goto(sandbox.urls["sbx-min"]["portal"] + "/user/profile")
    page.get_by_label("用户名/手机号/身份证号").fill(values["username"])
    page.get_by_label("密码").fill(values["password"])
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="个人中心").wait_for(timeout=10_000)
    text = page.locator("#view").inner_text()
    assert "林*华" in text and values["name"] not in text and values["phone"] in text  # the planted defect
    entry = sandbox.urls["sbx-min"]["dept:jtt"] + "/jtt/handle?item=x"
    hops: list[str] = []
    page.on("request", lambda r: hops.append(r.url) if r.is_navigation_request() else None)
    page.goto(entry)
    page.get_by_text("欢迎您，林*华").wait_for(timeout=10_000)
    assert any("/sso/login" in u for u in hops) and any("ticket=ST-" in u for u in hops)
    assert page.locator("input[type=password]").count() == 0


@pytest.mark.parametrize(
    ("pid", "start", "clicks", "guide_text"),
    [
        (
            "sbx-zhe",
            "/zsfw/",
            ["更多主题服务", "特殊群体", "老年人", "优待服务", "申领《四川省老年人优待证》"],
            "材料清单",
        ),
        (
            "sbx-min",
            "/",
            ["主题服务", "特殊人群", "老年人服务", "高龄关爱", "80周岁以上老年人高龄津贴发放"],
            "基本信息",
        ),
    ],
)
@pytest.mark.browser
def test_five_click_chain_reaches_the_deep_guide(
    sandbox: Sandbox, browser: object, pid: str, start: str, clicks: list[str], guide_text: str
) -> None:
    page = _context(browser).new_page()  # type: ignore[attr-defined]
    page.goto(sandbox.urls[pid]["portal"] + start)
    for name in clicks:
        link = page.get_by_role("link", name=name).first  # a card's name also carries its department
        link.wait_for(timeout=10_000)
        link.click()
    page.get_by_text(guide_text, exact=True).first.wait_for(timeout=10_000)
    assert len(clicks) == 5
