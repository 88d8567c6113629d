"""The sandbox: startup, generated profiles, ground-truth coverage, pages over plain HTTP."""

from __future__ import annotations

import re
import ssl
import stat
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from sandbox.server import Sandbox
from zwaudit.config.loader import load_config
from zwaudit.registry import declarations
from zwaudit.secrets import Secrets

#: every code every check declares (config/checks.yaml) must have a planted case in the sandbox
REQUIRED_CODES = {name: set(spec.code_names) for name, spec in declarations().checks.items()}


def _client(sb: Sandbox) -> httpx.Client:
    return httpx.Client(
        verify=ssl.create_default_context(cafile=str(sb.ca_bundle)), timeout=10, follow_redirects=False
    )


def test_profiles_validate_and_secrets_are_private(sandbox: Sandbox) -> None:
    config = load_config(sandbox.config_dir)
    assert sorted(config.portals) == sorted(sandbox.portal_ids)
    secrets_file = sandbox.config_dir / "secrets.yaml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    secrets = Secrets(secrets_file)
    for profile in config.portals.values():
        assert profile.ca_bundle is not None and profile.ca_bundle.exists()
        assert profile.account is not None
        personal = secrets.personal_data(profile.account)
        assert len(personal["id_number"]) == 18 and re.fullmatch(r"1\d{10}", personal["phone"])
        assert len(profile.departments) >= 3 and profile.mobile is not None
        assert str(profile.home_url).startswith("http://127.0.0.1:") or str(profile.home_url).startswith(
            "https://127.0.0.1:"
        )


def test_id_numbers_carry_valid_check_digits(sandbox: Sandbox) -> None:
    secrets = Secrets(sandbox.config_dir / "secrets.yaml")
    for pid in sandbox.portal_ids:
        number = secrets.resolve(load_config(sandbox.config_dir).portal(pid).account.id_number)  # type: ignore[union-attr, arg-type]
        weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
        assert number[17] == "10X98765432"[total % 11]


def test_ground_truth_covers_every_reason_code_and_a_pass_per_check(sandbox: Sandbox) -> None:
    fails: dict[str, set[str]] = {probe: set() for probe in REQUIRED_CODES}
    passes: Counter[str] = Counter()
    for pid in sandbox.portal_ids:
        truth = sandbox.ground_truth(pid)
        assert truth["portal_id"] == pid
        targets = Counter((e["probe"], e["target"], e.get("code")) for e in truth["expectations"])
        assert max(targets.values()) == 1, "an expectation is listed twice"
        for e in truth["expectations"]:
            if e["status"] == "fail":
                fails[e["probe"]].add(e["code"])
            else:
                assert e["status"] == "pass" and "code" not in e
                passes[e["probe"]] += 1
        assert 20 <= truth["item_counts"]["portal"] <= 80
        assert len({e["target"] for e in truth["expectations"] if e["probe"] == "search_accuracy"}) == 10
    missing = {probe: codes - fails[probe] for probe, codes in REQUIRED_CODES.items() if codes - fails[probe]}
    if len(sandbox.portal_ids) >= 4:
        assert not missing, f"reason codes without a planted case: {missing}"
    assert set(passes) == set(REQUIRED_CODES), "every check needs a compliant case"


def test_every_compliant_name_style_has_a_clean_user_centre(sandbox: Sandbox) -> None:
    """A false positive on a compliant style is only measurable where no name leak exists at all."""
    clean: set[str] = set()
    for pid in sandbox.portal_ids:
        truth = sandbox.ground_truth(pid)
        masking = [e for e in truth["expectations"] if e["probe"] == "name_masking"]
        assert len({e["target"] for e in masking}) == 1, "one user centre per portal"
        if not any(e.get("code") == "name_unmasked" for e in masking):
            clean.add(truth["notes"]["name_display"])
    if {"sbx-zhe", "sbx-yun", "sbx-rong", "sbx-min"} <= set(sandbox.portal_ids):
        assert {"张*", "张*三", "张**", "*大友"} <= clean


def test_new_portals_profiles(sandbox: Sandbox) -> None:
    config = load_config(sandbox.config_dir)
    assert config.portal("sbx-rong").level == "city"
    assert config.portal("sbx-min").level == "province"
    secrets = Secrets(sandbox.config_dir / "secrets.yaml")
    names = {pid: secrets.resolve(config.portal(pid).account.name) for pid in ("sbx-rong", "sbx-min")}  # type: ignore[union-attr, arg-type]
    assert len(names["sbx-rong"]) == 2 and len(names["sbx-min"]) == 3
    for pid in ("sbx-rong", "sbx-min"):
        truth = sandbox.ground_truth(pid)
        assert 20 <= truth["item_counts"]["portal"] <= 35
        codes = {(e["probe"], e.get("code")) for e in truth["expectations"]}
        assert ("name_masking", "name_unmasked") not in codes
    rong = {
        (e["probe"], e["target"], e.get("code")) for e in sandbox.ground_truth("sbx-rong")["expectations"]
    }
    # 身份证: the city's catalogue offers no 挂失 item, so its search cannot be incomplete (issue 13)
    assert ("search_accuracy", "低保", None) in rong and ("search_accuracy", "身份证", None) in rong
    min_codes = [
        e.get("code") for e in sandbox.ground_truth("sbx-min")["expectations"] if e["status"] == "fail"
    ]
    # the incomplete item lacks its elements on the portal, the mobile H5 and its department site
    assert sorted(min_codes) == sorted(
        ["imprecise", "hsts_missing", "phone_unmasked", "field_mismatch", "too_deep"]
        + ["element_missing"] * 3
    )


def test_rong_is_gb2312_with_an_iframe_and_a_get_search_form(sandbox: Sandbox) -> None:
    base = sandbox.urls["sbx-rong"]["portal"]
    assert base.startswith("http://")
    with _client(sandbox) as client:
        home = client.get(base + "/")
        assert home.headers["content-type"].lower() == "text/html; charset=gb2312"
        text = home.content.decode("gb2312")
        assert '<iframe name="mainFrame"' in text and 'action="/search.jsp"' in text
        assert 'type="image"' in text and 'alt="检索"' in text and 'name="keyword"' in text
        # what a GB2312 page's form sends: the keyword's GB2312 bytes, percent-encoded
        found = client.get(base + "/search.jsp?keyword=" + quote("身份证".encode("gb2312")))
        assert "居民身份证办理（包括临时）" in found.content.decode("gb2312")
        listing = client.get(base + "/web/list.jsp", params={"deptid": "0"}).content.decode("gb2312")
        assert "window.open(" in listing and 'href="guide.jsp?itemid=' in listing
        assert client.get(base + "/member/center.jsp").status_code == 302
        assert client.get(base + "/member/getUserInfo.do").status_code == 401


def test_min_is_a_history_mode_app_over_a_paginated_api(sandbox: Sandbox) -> None:
    base = sandbox.urls["sbx-min"]["portal"]
    with _client(sandbox) as client:
        shells = {
            client.get(base + path).text for path in ("/", "/service/guide/g0", "/theme/1/2", "/search")
        }
        assert len(shells) == 1 and '<script src="/static/app.js">' in shells.pop()
        depts = client.get(base + "/api/v2/depts").json()
        assert depts["code"] == 0 and len(depts["data"]["records"]) == 5 < depts["data"]["total"]
        seen: list[str] = []
        for dept in client.get(base + "/api/v2/depts", params={"size": 50}).json()["data"]["records"]:
            page, total = 1, None
            while total is None or len([r for r in seen if r.startswith(dept["id"])]) < total:
                data = client.get(
                    base + "/api/v2/items", params={"deptId": dept["id"], "page": page, "size": 3}
                ).json()["data"]
                total = data["total"]
                seen += [f"{dept['id']}:{r['id']}" for r in data["records"]]
                page += 1
            assert total == dept["itemCount"]
        assert (
            len(seen) == sandbox.ground_truth("sbx-min")["item_counts"]["portal"] - 1
        )  # one only via themes
        hit = client.get(base + "/api/v2/search", params={"keyword": "低保", "page": 1, "size": 10}).json()
        guide = client.get(base + "/api/v2/items/" + hit["data"]["records"][0]["id"]).json()["data"]
        assert guide["task_name"] == "最低生活保障" and guide["materials"][0]["name"]
        assert client.get(base + "/api/v2/user/profile").status_code == 401


def test_shu_portal_is_gbk_with_a_declared_charset(sandbox: Sandbox) -> None:
    base = sandbox.urls["sbx-shu"]["portal"]
    with _client(sandbox) as client:
        home = client.get(base + "/")
        assert home.status_code == 200
        assert home.headers["content-type"].lower() == "text/html; charset=gbk"
        text = home.content.decode("gbk")
        assert "charset=gbk" in text and "按部门办事" in text and "javascript:void(0)" in text
        robots = client.get(base + "/robots.txt").text
        assert "Disallow: /internal/" in robots
        assert client.get(base + "/internal/stats").status_code == 500
        result = client.get(base + "/zwdt/search", params={"keyword": "身份证"}).content.decode("gbk")
        assert "居民身份证办理" in result


@pytest.mark.parametrize("pid", ["sbx-shu"])
def test_sso_ticket_flow_over_http(sandbox: Sandbox, pid: str) -> None:
    """Portal login entry → auth host → ticket → portal session → user centre."""
    secrets = Secrets(sandbox.config_dir / "secrets.yaml")
    profile = load_config(sandbox.config_dir).portal(pid)
    assert profile.account is not None and profile.account.password is not None
    user = secrets.resolve(profile.account.username)
    password = secrets.resolve(profile.account.password)
    with httpx.Client(
        verify=ssl.create_default_context(cafile=str(sandbox.ca_bundle)), timeout=10, follow_redirects=True
    ) as client:
        login_page = client.get(str(profile.home_url).rstrip("/") + "/zwdt/login")
        assert login_page.status_code == 200 and 'type="password"' in login_page.text
        service = re.search(r'name="service" value="([^"]+)"', login_page.text)
        action = re.search(r'action="([^"]+)"', login_page.text)
        assert service and action
        target = httpx.URL(str(login_page.url)).join(action.group(1).replace("&amp;", "&"))
        centre = client.post(
            target,
            data={"service": service.group(1).replace("&amp;", "&"), "username": user, "password": password},
        )
        assert centre.status_code == 200 and "个人资料" in centre.content.decode("gbk")


def test_relative_directory_gives_profiles_that_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--dir var/sandbox`` (relative, as the demo passes it) must give loadable profiles."""
    from sandbox import server
    from zwaudit.config import load_config

    monkeypatch.chdir(tmp_path)
    sb = server.start(["sbx-shu"], base_port=0, directory="rel/sandbox")
    try:
        config = load_config(sb.config_dir)
        ca = config.portals["sbx-shu"].ca_bundle
        assert ca is not None and ca.is_absolute() and ca.exists()
    finally:
        sb.stop()
