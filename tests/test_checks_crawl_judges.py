"""The crawl-based checks' judges, on hand-made snapshots (no crawl, no database)."""

from __future__ import annotations

from typing import Any

import pytest

from probes.catalogue import cancelled_items, click_depth, data_same_source, guide_completeness, link_health
from probes.catalogue.common import ItemSnapshot, PageSnapshot, compare_key, qualifiers, unread_page
from zwaudit.config import load_config
from zwaudit.explain import explain
from zwaudit.outcomes import ErrorKind, Status

FULL = {
    "事项名称": "居住证办理",
    "实施编码": "C1",
    "实施主体": "公安厅",
    "申请材料": ["居民身份证", "申请表（原件）"],
    "承诺办结时限": "5个工作日",
    "是否收费": "否",
    "收费标准": "不收费",
    "更新时间": "2025-03-10",
}


def snap(channel: str, code: str | None, name: str, **fields: Any) -> ItemSnapshot:
    merged = {**FULL, "事项名称": name, **fields}
    if code:
        merged["实施编码"] = code
    else:
        merged.pop("实施编码", None)
    return ItemSnapshot(
        channel,
        code or compare_key(name),
        code,
        name,
        merged.get("实施主体"),
        merged,
        f"http://x/{channel}/{code}",
    )


def fails(findings: list[Any]) -> set[tuple[str, str | None]]:
    return {(f.target, f.code) for f in findings if f.status is Status.FAIL}


RULES = data_same_source.Rules(compared_fields=["申请材料", "承诺办结时限", "是否收费", "收费标准"])


def test_same_source_codes_names_and_verdicts() -> None:
    portal = [
        snap("portal", "C1", "居住证办理"),
        snap("portal", "C2", "失业登记"),
        snap("portal", "C3", "企业实行不定时工作制审批（县级）"),
        snap("portal", "C4", "旅馆业特种行业许可证核发"),
        snap("portal", "C5", "临时救助"),
    ]
    mobile = [
        snap("mobile", "C1", "居住证办理", 申请材料=["居民身份证", "其他材料"]),
        snap("mobile", "C2", "失业登记", 承诺办结时限="20个工作日"),
        snap("mobile", None, "企业实行不定时工作制审批(县级)"),  # no code, other bracket width
        snap("mobile", "C4", "旅馆业特种行业许可证核发", 更新时间="2024-08-22"),
    ]
    findings, _ = data_same_source.judge(portal, {"mobile": mobile}, {}, RULES)
    assert fails(findings) == {
        ("C1@mobile", "field_mismatch"),
        ("C2@mobile", "field_mismatch"),
        ("C4@mobile", "stale"),
        ("C5@mobile", "item_missing"),
    }
    assert {f.target for f in findings if f.status is Status.PASS} == {"C3@mobile"}
    mismatch = next(f for f in findings if f.target == "C2@mobile")
    assert mismatch.detail["mismatches"] == [
        {"field": "承诺办结时限", "portal": "5个工作日", "mobile": "20个工作日"}
    ]


def test_same_source_department_channels_only_for_their_items() -> None:
    portal = [snap("portal", "C1", "居住证办理"), snap("portal", "C9", "最低生活保障", 实施主体="民政厅")]
    dept = [snap("dept:gongan", "C1", "居住证办理", 收费标准="按件收取手续费80元", 是否收费="是")]
    findings, _ = data_same_source.judge(portal, {"dept:gongan": dept}, {"gongan": "蜀南省公安厅"}, RULES)
    assert {f.target for f in findings} == {"C1@dept:gongan"}
    assert fails(findings) == {("C1@dept:gongan", "field_mismatch")}


def test_same_source_never_matches_different_qualifiers_or_codes() -> None:
    portal = [snap("portal", "C1", "公共场所卫生许可新办审批（县级）")]
    other_level = [snap("mobile", None, "公共场所卫生许可新办审批（市级）")]
    findings, _ = data_same_source.judge(portal, {"mobile": other_level}, {}, RULES)
    assert fails(findings) == {("C1@mobile", "item_missing")}
    other_code = [snap("mobile", "C2", "公共场所卫生许可新办审批（县级）")]
    findings, _ = data_same_source.judge(portal, {"mobile": other_code}, {}, RULES)
    assert fails(findings) == {("C1@mobile", "item_missing")}
    assert qualifiers("甲（县级）") == qualifiers("甲(县级)") == ("县级",)


def test_an_item_not_found_on_a_channel_left_partly_unread_is_an_error_not_missing() -> None:
    """A page of the channel timed out (or its rendering did): the item may be on it. Found items
    are still compared; the portal may allow some unread pages (unread_pages_allowed)."""
    portal = [snap("portal", "C1", "居住证办理"), snap("portal", "C5", "临时救助")]
    mobile = [snap("mobile", "C1", "居住证办理", 承诺办结时限="20个工作日")]
    missed = [
        unread_page(
            PageSnapshot("http://x/m/list?p=2", "mobile", 200, "timeout: rendering took longer", 1, None)
        ),
        unread_page(PageSnapshot("http://x/m/list?p=3", "mobile", 502, None, 1, None)),
    ]
    assert all(missed)
    findings, _ = data_same_source.judge(portal, {"mobile": mobile}, {}, RULES, {"mobile": missed})  # type: ignore[dict-item]
    assert fails(findings) == {("C1@mobile", "field_mismatch")}
    (error,) = [f for f in findings if f.status is Status.ERROR]
    assert (error.target, error.code) == ("C5@mobile", "timeout")
    assert error.detail["unread_pages"] == 2
    assert "http://x/m/list?p=2" in error.detail["error"]
    # the CSV's and the report's sentence (config/checks.yaml, data_same_source errors)
    assert explain("data_same_source", error.target, "error", error.code, error.detail) == (
        "门户上的事项“临时救助”在移动端上未找到，但该渠道有2个页面未能读取（如 http://x/m/list?p=2），事项可能在其中，无法判断"
    )
    # two unread pages allowed: the accusation stands; another channel's unread pages never count
    allowed = data_same_source.Rules(**{**RULES.model_dump(), "unread_pages_allowed": 2})
    findings, _ = data_same_source.judge(portal, {"mobile": mobile}, {}, allowed, {"mobile": missed})  # type: ignore[dict-item]
    assert ("C5@mobile", "item_missing") in fails(findings)
    findings, _ = data_same_source.judge(portal, {"mobile": mobile}, {}, RULES, {"dept:x": missed})  # type: ignore[dict-item]
    assert ("C5@mobile", "item_missing") in fails(findings)


@pytest.mark.parametrize(
    ("status", "error", "unread"),
    [
        (200, None, False),
        (404, None, False),  # the portal's own answer: gone for a person too
        (None, "trap: more than 10 look-alike pages", False),  # look-alikes judged barren
        (200, "tls: expired: certificate has expired", False),  # read all the same
        (503, None, True),
        (None, "timeout: Getting u took longer than 30 seconds.", True),
        (200, "timeout: rendering u took longer than 120 s", True),
        (None, "robots_disallowed: Forbidden by robots.txt", False),  # login, search: not the catalogue
        (200, "not_html: application/msword", False),  # an attachment (申请表.doc), not a list page
        (None, "network: ResponseDataLossError", True),
        (None, "something odd", True),
    ],
)
def test_which_pages_of_a_channel_are_unread(status: int | None, error: str | None, unread: bool) -> None:
    missed = unread_page(PageSnapshot("http://x/p", "mobile", status, error, 1, None))
    assert (missed is not None) is unread
    if missed is not None:  # always a kind an error finding can carry
        assert missed.kind in {k.value for k in ErrorKind}
    if error == "something odd":
        assert missed is not None and missed.kind == "internal"


def test_same_source_absent_elements_and_dates_are_not_mismatches() -> None:
    portal = [snap("portal", "C1", "居住证办理", 收费标准="")]
    mobile = [snap("mobile", "C1", "居住证办理", 收费标准="按件收费", 更新时间="2025年3月1日")]
    findings, _ = data_same_source.judge(portal, {"mobile": mobile}, {}, RULES)
    assert fails(findings) == set()
    assert findings[0].detail["days_apart"] == 9


def test_guide_completeness_lists_missing_and_placeholder_elements() -> None:
    required = ["事项名称", "实施编码", "设定依据", "办理地点", "申请材料"]
    items = [
        snap("portal", "C1", "甲", 设定依据="《条例》", 办理地点="大厅"),
        snap("portal", "C2", "乙", 设定依据="暂无", 申请材料=[]),
    ]
    findings = guide_completeness.judge(items, required, guide_completeness.PLACEHOLDERS)
    assert fails(findings) == {("C2@portal", "element_missing")}
    assert findings[1].detail["missing"] == ["设定依据", "办理地点", "申请材料"]
    assert findings[0].status is Status.PASS
    config = load_config(validate_probes=False)
    assert "监督电话" in guide_completeness.required_elements(config.read_data("guide_elements.yaml"))


def test_cancelled_items_strict_name_match() -> None:
    config = load_config(validate_probes=False)
    reference = cancelled_items.reference_list(config.read_data("cancelled_items.yaml"))
    listed = [
        snap("portal", "C1", "石油天然气(含煤层气)对外合作项目总体开发方案审批"),  # half-width brackets
        snap("portal", "C2", "石油天然气对外合作项目总体开发方案备案"),  # similar, not the same item
    ]
    findings = cancelled_items.judge(listed, reference)
    assert fails(findings) == {("C1@portal", "still_listed")}
    assert "国发〔2019〕6号" in findings[0].detail["decision"]
    clean = cancelled_items.judge(listed[1:], reference)
    assert [(f.target, f.status) for f in clean] == [("catalogue@portal", Status.PASS)]


def test_click_depth_threshold_and_unreachable_guides() -> None:
    items = [snap("portal", "C1", "甲"), snap("portal", "C2", "乙"), snap("portal", "C3", "丙")]
    depth = {items[0].source_url: 2, items[1].source_url: 5}
    findings = click_depth.judge(items, depth, 3)
    assert [(f.target, f.status, f.code) for f in findings] == [
        ("C1@portal", Status.PASS, None),
        ("C2@portal", Status.FAIL, "too_deep"),
        ("C3@portal", Status.ERROR, "element_not_found"),
    ]


def page(
    url: str, status: int | None, error: str | None = None, referrer: str | None = "http://h/"
) -> PageSnapshot:
    return PageSnapshot(url, "portal", status, error, 1, referrer)


def test_link_health_judges_only_what_was_fetched() -> None:
    pages = [
        page("http://h/", 200, referrer=None),
        page("http://h/a.doc?x=1", 404, referrer="http://h/guide"),
        page("http://h/intro/2", 500),
        page("http://gone.example/", None, "dns: no such host"),
        page("http://h/internal/stats", None, "robots_disallowed: Forbidden by robots.txt"),
        page("http://h/busy", 429, "rate_limited"),
        page("http://h/slow", None, "timeout: took too long"),
    ]
    findings = link_health.judge(pages, "http://h/")
    assert fails(findings) == {
        ("http://h/a.doc", "broken_link"),
        ("http://h/intro/2", "broken_link"),
        ("http://gone.example/", "broken_link"),
    }
    assert next(f for f in findings if f.target == "http://h/a.doc").detail["found_on"] == "http://h/guide"
    errors = {(f.target, f.code) for f in findings if f.status is Status.ERROR}
    assert errors == {("http://h/busy", "rate_limited"), ("http://h/slow", "timeout")}
    healthy = link_health.judge([page("http://h/", 200, referrer=None), page("http://h/b", 200)], "http://h/")
    assert [(f.target, f.status) for f in healthy] == [("http://h/", Status.PASS)]


@pytest.mark.parametrize("value", ["", "-", " 暂无 ", None, [], ["", "—"]])
def test_placeholders_are_blank(value: Any) -> None:
    assert guide_completeness.is_blank(value, frozenset(guide_completeness.PLACEHOLDERS))


def test_same_source_compares_meaning_not_strings() -> None:
    """Issue 13, class 4: the same time limit, phone, fee and address written differently agree;
    a different number of days, another phone or another fee amount still differ."""
    rules = data_same_source.Rules(
        compared_fields=["承诺办结时限", "法定办结时限", "咨询电话", "办理地点", "是否收费", "申请材料"]
    )
    base = {"法定办结时限": "二十个工作日", "咨询电话": "0826-2345678", "办理地点": "政务服务中心2楼5号窗口"}
    portal = [snap("portal", f"C{i}", f"事项{i}", **base) for i in range(1, 5)]
    mobile = [
        snap(
            "mobile",
            "C1",
            "事项1",
            承诺办结时限="5 个工作日",
            法定办结时限="20个工作日",
            咨询电话="（0826）2345678",
            办理地点="政务服务中心 2楼 5号窗口。",
            是否收费="不收费",
            申请材料=["居民身份证 ", "申请表(原件)"],
        ),
        snap("mobile", "C2", "事项2", **{**base, "承诺办结时限": "5个自然日"}),
        snap("mobile", "C3", "事项3", **{**base, "咨询电话": "0826-2345679"}),
        snap("mobile", "C4", "事项4", **{**base, "办理地点": "政务服务中心2楼6号窗口"}),
    ]
    findings, _ = data_same_source.judge(portal, {"mobile": mobile}, {}, rules)
    assert fails(findings) == {
        ("C2@mobile", "field_mismatch"),
        ("C3@mobile", "field_mismatch"),
        ("C4@mobile", "field_mismatch"),
    }
    fields = {f.target: [m["field"] for m in f.detail["mismatches"]] for f in findings if f.code}
    assert fields == {"C2@mobile": ["承诺办结时限"], "C3@mobile": ["咨询电话"], "C4@mobile": ["办理地点"]}


def test_every_channel_is_judged_and_one_sided_elements_reported_once() -> None:
    """Issue 13, class 6: a department guide lacking the 窗口办理 section (办理地点, 办理时间) that the
    portal publishes is element_missing on that channel, reported by guide_completeness only."""
    required = ["事项名称", "实施编码", "申请材料", "办理地点", "办理时间"]
    schema = frozenset({"事项名称", "实施编码", "申请材料", "办理地点", "办理时间", "收费标准"})
    window = {"办理地点": "政务服务中心2楼", "办理时间": "工作日9:00-17:00"}
    portal = [snap("portal", "C1", "居住证办理", **window), snap("portal", "C2", "户口迁移", **window)]
    portal[1].fields.pop("收费标准")  # only the department site shows the fee standard of C2
    dept = [snap("dept:gongan", "C1", "居住证办理"), snap("dept:gongan", None, "户口迁移", **window)]
    mobile = [snap("mobile", "C1", "居住证办理", **window)]
    stored = {"portal": portal, "dept:gongan": dept, "mobile": mobile}
    findings = guide_completeness.judge_channels(
        stored, required, guide_completeness.PLACEHOLDERS, schema, 92
    )
    assert fails(findings) == {
        ("C1@dept:gongan", "element_missing"),
        ("C2@dept:gongan", "element_missing"),  # matched by name; its guide shows no 实施编码
        ("C2@portal", "element_missing"),
    }
    by_target = {f.target: f for f in findings}
    assert set(by_target) == {"C1@portal", "C2@portal", "C1@dept:gongan", "C2@dept:gongan", "C1@mobile"}
    dept_gap = by_target["C1@dept:gongan"].detail
    assert dept_gap["missing"] == ["办理地点", "办理时间"]
    assert dept_gap["published_elsewhere"] == {
        "办理地点": ["mobile", "portal"],
        "办理时间": ["mobile", "portal"],
    }
    assert by_target["C2@portal"].detail["published_elsewhere"] == {"收费标准": ["dept:gongan"]}
    assert by_target["C2@dept:gongan"].detail["missing"] == ["实施编码"]
    # data_same_source compares only what both show: the absent section is not also a mismatch
    same, _ = data_same_source.judge(portal, {"dept:gongan": dept}, {"gongan": "公安厅"}, RULES)
    assert fails(same) == set()


def test_meaning_of_time_limits_phones_and_fees() -> None:
    from probes.catalogue.meaning import phones, same_value, time_limits, yes_no

    assert (
        time_limits("10 个工作日 查看时限说明") == time_limits("10个工作日") == frozenset({(10.0, "工作日")})
    )
    assert time_limits("二十个工作日") == frozenset({(20.0, "工作日")})
    assert time_limits("3个月") == time_limits("三个月") != time_limits("3个工作日")
    assert time_limits("即办件，当场办结") == frozenset({(0.0, "即办")})
    assert time_limits("按规定办理") is None
    assert (
        phones("咨询电话：0826-2345678，12345")
        == phones("（0826）2345678；12345")
        == {"08262345678", "12345"}
    )
    assert (yes_no("不收费"), yes_no("免费"), yes_no("否"), yes_no("收费"), yes_no("详见文件")) == (
        "否",
        "否",
        "否",
        "是",
        None,
    )
    assert same_value("text", "按规定收取工本费10元", "按规定收取工本费 10 元。", 90)
    assert not same_value("text", "按规定收取工本费10元", "按规定收取工本费20元", 90)
    assert not same_value("time_limit", "10个工作日", "10个自然日", 90)
    assert same_value("time_limit", "按规定办理", "按规定 办理", 90)  # no number: compared as text


def test_api_flags_and_bare_numbers_compare_by_meaning() -> None:
    """An API's IS_FEE "0"/"1" is 否/是; a PROMISE_DAY shown without its unit equals a text with
    that number, and differs from one with another number (the unit is unknown, the number not)."""
    from probes.catalogue.meaning import same_value, yes_no

    assert yes_no("0") == "否" and yes_no("1") == "是" and yes_no("N") == "否" and yes_no("true") == "是"
    assert same_value("yes_no", "0", "不收费", 85)
    assert not same_value("yes_no", "0", "是", 85)
    assert same_value("time_limit", "3", "3个工作日", 85)
    assert same_value("time_limit", "20个工作日", "20", 85)
    assert not same_value("time_limit", "1", "20个工作日", 85)
