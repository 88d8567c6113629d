"""name_masking's judge and the masking rules, with hand-made observations (no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.common.masking import find_masked, find_unmasked, parse_rules, shown_forms
from probes.name_masking import MaskingObservation, Surface, find_leaks, judge, sanitise
from zwaudit.config.yamlfile import read_yaml
from zwaudit.errors import ConfigError
from zwaudit.outcomes import Status
from zwaudit.paths import DEFAULT_CONFIG_DIR

MASKING = DEFAULT_CONFIG_DIR / "masking.yaml"
RULES = parse_rules(read_yaml(MASKING), MASKING)
PERSON = {"name": "张大友", "id_number": "33010219800101123X", "phone": "13800138000"}
URL = "https://zw.example.gov.cn:443/uc/index?sid=1#me"


def obs(page: str, *apis: tuple[str, str]) -> MaskingObservation:
    return MaskingObservation(URL, (Surface("page", URL, page), *(Surface("api", u, t) for u, t in apis)))


def codes(findings: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {f.code or "pass": f.status.value for f in findings}


@pytest.mark.parametrize(
    "page",
    [
        "姓名：张*  证件号：3****************X  手机：138****8000",
        "姓名：张**  证件号：3***02198001*****X  手机：138****8000",  # 浙里办 ordinary ID rule
        "姓名：张*友  证件号：330102********123X  手机：138 **** 8000",
        "欢迎您，*大友  退出",  # 浙里办 hides the first character; ID and phone not shown
    ],
)
def test_compliant_masking_passes(page: str) -> None:
    findings = judge(obs(page), PERSON, RULES)
    assert codes(findings) == {"pass": "pass"}
    assert findings[0].target == "https://zw.example.gov.cn/uc/index"


@pytest.mark.parametrize(
    ("page", "code"),
    [
        ("姓名：张大友 手机：138****8000", "name_unmasked"),
        ("证件号码 330102 19800101 123x", "id_number_unmasked"),  # separators, lower-case x
        ("联系电话：138-0013-8000", "phone_unmasked"),
        ("证件号：33010219800101****", "id_number_unmasked"),  # hides less than any compliant style
    ],
)
def test_unmasked_values_fail(page: str, code: str) -> None:
    findings = judge(obs(page), PERSON, RULES)
    fails = [f for f in findings if f.status is Status.FAIL]
    assert [f.code for f in fails] == [code]
    assert fails[0].detail["surface"] == "page"
    assert all(v not in str(f.detail) for f in findings for v in PERSON.values())


def test_leak_in_api_only_names_the_api_surface() -> None:
    api = ("https://zw.example.gov.cn/api/user/info", '{"userName": "张大友", "mobile": "138****8000"}')
    findings = judge(obs("欢迎您，张*友", api), PERSON, RULES)
    (fail,) = [f for f in findings if f.status is Status.FAIL]
    assert fail.code == "name_unmasked"
    assert fail.detail["surface"] == "api"
    assert fail.detail["api_url"] == api[0]


def test_unknown_personal_data_is_not_applicable_not_pass() -> None:
    findings = judge(obs("姓名：张*"), {"name": "张大友"}, RULES)
    assert codes(findings) == {
        "pass": "pass",
        "id_number_unmasked": "not_applicable",
        "phone_unmasked": "not_applicable",
    }
    none = judge(obs("姓名：张大友"), {}, RULES)
    assert {f.status for f in none} == {Status.NOT_APPLICABLE}


def test_digits_inside_longer_numbers_are_not_a_phone() -> None:
    assert find_unmasked("phone", "13800138000", "订单号 913800138000123") == []
    assert find_unmasked("phone", "13800138000", "电话13800138000。") == [(2, 13)]


def test_masked_renderings_must_align_with_the_value() -> None:
    assert [r.text for r in find_masked("name", "张大友", "张*友 李*", RULES)] == ["张*友"]
    # 张*三 is someone else; its "张*" part could be us, and is compliant either way
    assert [(r.text, r.compliant) for r in find_masked("name", "张大友", "张*三", RULES)] == [("张*", True)]
    assert find_masked("phone", "13800138000", "******", RULES) == []  # reveals nothing: not a rendering


def test_sanitise_removes_weak_masks_the_redactor_does_not_know() -> None:
    o = obs("证件号：33010219800101**** 其他")
    leaks, _ = find_leaks(o, "id_number", PERSON["id_number"], RULES)
    safe = sanitise(o.surfaces[0].text, leaks, PERSON)
    assert "33010219800101" not in safe
    assert shown_forms("姓名 张*友", PERSON, RULES)[:2] == ["33010219800101123X", "13800138000"]


def test_bad_masking_yaml_names_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"masking.yaml: id_number\[0\].positions"):
        parse_rules({"id_number": [{"positions": "1,x"}]}, tmp_path / "masking.yaml")
    with pytest.raises(ConfigError, match="name: expected a list"):
        parse_rules({"name": "张*"}, tmp_path / "masking.yaml")
