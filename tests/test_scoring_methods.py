"""Every scoring method against values computed by hand (the engine is pure: no database here)."""

from __future__ import annotations

from typing import Any

import pytest
from test_scoring_helpers import Rows, framework

from scoring.engine import score_portals
from scoring.model import INCOMPLETE, MISSING, OK, VETOED, FindingRow, ManualValue, PortalInput


def one_leaf(leaf: dict[str, Any], **top: Any) -> Any:
    return framework(
        {"overall": {"name": "总体", "children": ["leaf"]}, "leaf": {"name": "叶", **leaf}}, **top
    )


def leaf_value(fw: Any, findings: list[FindingRow], manual: dict[str, ManualValue] | None = None) -> Any:
    [score] = score_portals(fw, [PortalInput("p", findings, manual or {})])
    return score.values["leaf"]


SEARCH = {"probes": ["search_accuracy"]}


def test_binary_is_all_or_nothing() -> None:
    r = Rows()
    fw = one_leaf({"method": "binary", **SEARCH})
    assert leaf_value(fw, [r("search_accuracy", "社保", "pass")]).value == 100.0
    failed = leaf_value(
        fw, [r("search_accuracy", "社保", "pass"), r("search_accuracy", "低保", "fail", "not_found")]
    )
    assert failed.value == 0.0
    assert failed.inputs["targets"] == 2 and failed.inputs["failed_targets"] == 1


def test_ratio_counts_targets_and_ignores_errors() -> None:
    r = Rows()
    fw = one_leaf({"method": "ratio", **SEARCH})
    rows = [r("search_accuracy", f"ok{i}", "pass") for i in range(6)]
    rows += [
        r("search_accuracy", "低保", "fail", "not_found"),
        r("search_accuracy", "个税", "fail", "imprecise"),
    ]
    # one target with two fail codes is still one failed target
    rows += [
        r("search_accuracy", "网约车", "fail", "incomplete"),
        r("search_accuracy", "网约车", "fail", "imprecise"),
    ]
    rows += [r("search_accuracy", "结婚", "error", "timeout")]  # never a failure
    value = leaf_value(fw, rows)
    # 9 concluded keywords, 3 failed: 6/9
    assert value.value == pytest.approx(66.6667)
    assert value.inputs["counts"] == {"pass": 6, "fail": 4, "error": 1, "not_applicable": 0}
    assert value.inputs["ignored"] == [rows[-1].id]
    assert rows[-1].id not in value.inputs["findings"]


def test_fail_with_a_code_the_leaf_does_not_count_is_a_pass_for_that_leaf() -> None:
    r = Rows()
    fw = one_leaf(
        {"method": "ratio", "probes": ["auth_https"], "codes": ["login_page_http", "form_posts_http"]}
    )
    rows = [
        r("auth_https", "https://a/login", "fail", "hsts_missing"),
        r("auth_https", "http://b/login", "fail", "login_page_http"),
    ]
    assert leaf_value(fw, rows).value == 50.0


def test_targets_glob_selects_a_channel() -> None:
    r = Rows()
    fw = one_leaf({"method": "ratio", "probes": ["data_same_source"], "targets": "*@mobile"})
    rows = [
        r("data_same_source", "A1@mobile", "pass"),
        r("data_same_source", "A2@mobile", "fail", "stale"),
        r("data_same_source", "A3@mobile", "pass"),
        r("data_same_source", "A4@mobile", "pass"),
        r("data_same_source", "A1@dept:gongan", "fail", "item_missing"),
    ]
    assert leaf_value(fw, rows).value == 75.0


def test_count_against_a_target() -> None:
    r = Rows()
    fw = one_leaf({"method": "count_target", "target": 5, **SEARCH})
    rows = [r("search_accuracy", f"k{i}", "pass") for i in range(3)] + [
        r("search_accuracy", "x", "fail", "not_found")
    ]
    assert leaf_value(fw, rows).value == 60.0  # 3 passing of the 5 wanted
    more = [r("search_accuracy", f"m{i}", "pass") for i in range(7)]
    assert leaf_value(fw, more).value == 100.0  # capped at the target


def test_benchmark_relative_to_the_best_portal_of_the_run() -> None:
    r = Rows()
    fw = one_leaf({"method": "benchmark", **SEARCH})
    portals = [
        PortalInput("a", [r("search_accuracy", f"k{i}", "pass") for i in range(4)]),
        PortalInput("b", [r("search_accuracy", f"k{i}", "pass") for i in range(8)]),
        PortalInput("c", [r("search_accuracy", "k", "fail", "not_found")]),
        PortalInput("d", [r("search_accuracy", "k", "error", "timeout")]),
    ]
    values = {s.portal_id: s.values["leaf"] for s in score_portals(fw, portals)}
    assert values["a"].value == 50.0  # 4 of the best's 8
    assert values["b"].value == 100.0
    assert values["c"].value == 0.0  # concluded, nothing passes
    assert values["d"].value is None and values["d"].state == MISSING  # errors only: missing, not 0
    assert values["a"].inputs["raw"] == 4 and values["a"].inputs["best"] == 8


def test_benchmark_of_pass_ratio() -> None:
    r = Rows()
    fw = one_leaf({"method": "benchmark", "benchmark_of": "pass_ratio", **SEARCH})
    portals = [
        PortalInput(
            "a", [r("search_accuracy", "k1", "pass"), r("search_accuracy", "k2", "fail", "not_found")]
        ),
        PortalInput(
            "b",
            [
                r("search_accuracy", "k1", "pass"),
                r("search_accuracy", "k2", "pass"),
                r("search_accuracy", "k3", "pass"),
                r("search_accuracy", "k4", "fail", "imprecise"),
            ],
        ),
    ]
    a, b = score_portals(fw, portals)
    assert b.values["leaf"].value == 100.0  # 0.75 is the best
    assert a.values["leaf"].value == pytest.approx(66.6667)  # 0.5 / 0.75


def test_capped_deduction() -> None:
    r = Rows()
    deduction = {"points": 20, "per_failure": 5, "per_code": {"certificate_invalid": 15}}
    fw = one_leaf({"method": "deduction", "probes": ["auth_https"], "deduction": deduction})
    two = [
        r("auth_https", "https://a/login", "fail", "hsts_missing"),
        r("auth_https", "https://a/login", "fail", "mixed_content"),
    ]
    value = leaf_value(fw, two)
    assert value.value == 50.0  # 20 − (5 + 5) = 10 of 20
    three = [*two, r("auth_https", "https://a/login", "fail", "certificate_invalid")]
    capped = leaf_value(fw, three)
    assert capped.value == 0.0  # 25 deducted, capped at the 20 points
    assert capped.inputs["deductions_before_cap"] == 25 and capped.inputs["deducted"] == 20
    assert leaf_value(fw, [r("auth_https", "https://a/login", "pass")]).value == 100.0


def test_deduction_cap_below_the_points() -> None:
    r = Rows()
    fw = one_leaf(
        {
            "method": "deduction",
            "probes": ["link_health"],
            "deduction": {"points": 100, "per_failure": 4, "cap": 10},
        }
    )
    rows = [r("link_health", f"https://a/{i}", "fail", "broken_link") for i in range(3)]
    assert leaf_value(fw, rows).value == 90.0  # 12 deducted, capped at 10


def veto_framework() -> Any:
    return framework(
        {
            "overall": {"name": "总体", "children": ["gate", "other"]},
            "gate": {
                "name": "传输加密",
                "method": "binary",
                "probes": ["auth_https"],
                "codes": ["login_page_http"],
                "veto": {"codes": ["login_page_http"]},
            },
            "other": {"name": "搜索", "method": "ratio", **SEARCH},
        },
        bands=[{"id": "g", "name": "组别", "limits": [{"band": "合格", "min": 60}, {"band": "不合格"}]}],
        veto_band="不合格(否决)",
    )


def test_veto_fails_the_unit_outright() -> None:
    r = Rows()
    fw = veto_framework()
    rows = [r("auth_https", "http://a/login", "fail", "login_page_http"), r("search_accuracy", "k", "pass")]
    [score] = score_portals(fw, [PortalInput("p", rows)])
    root = score.overall
    assert root.value == 0.0 and root.state == VETOED
    assert root.inputs["veto"] == {"by": ["gate"], "value_without_veto": 50.0}
    assert root.band == "不合格(否决)"
    clean = [r("auth_https", "https://a/login", "pass"), r("search_accuracy", "k", "pass")]
    [ok] = score_portals(fw, [PortalInput("p", clean)])
    assert ok.overall.value == 100.0 and ok.overall.state == OK and ok.overall.band == "合格"


def bonus_framework() -> Any:
    return framework(
        {
            "overall": {
                "name": "总体",
                "children": ["base", "extra1", "extra2"],
                "bonus": {"threshold": 80, "cap": 30},
            },
            "base": {"name": "扣分部分", "manual": True, "method": "score"},
            "extra1": {"name": "加分一", "role": "bonus", "points": 20, "manual": True, "method": "score"},
            "extra2": {"name": "加分二", "role": "bonus", "points": 20, "manual": True, "method": "binary"},
        }
    )


def manual(**values: float) -> dict[str, ManualValue]:
    return {k: ManualValue(i, v, "test", "tester") for i, (k, v) in enumerate(values.items(), start=1)}


def test_bonus_above_the_threshold_is_capped() -> None:
    fw = bonus_framework()
    [above, below, edge] = score_portals(
        fw,
        [
            PortalInput("above", manual=manual(base=85, extra1=75, extra2=1)),
            PortalInput("below", manual=manual(base=70, extra1=100, extra2=1)),
            PortalInput("edge", manual=manual(base=80, extra1=100, extra2=1)),
        ],
    )
    assert above.overall.value == 115.0  # 85 + min(15 + 20, 30)
    assert above.overall.inputs["bonus"] == 30.0 and above.overall.inputs["base"] == 85.0
    assert below.overall.value == 70.0  # not above 80: no bonus
    assert edge.overall.value == 80.0  # "above" is strict
    [partial] = score_portals(fw, [PortalInput("p", manual=manual(base=90, extra1=50))])
    assert partial.overall.value == 100.0  # 90 + 10; a missing bonus child adds nothing
    assert partial.overall.state == OK


def tree(rule: str) -> Any:
    return framework(
        {
            "overall": {"name": "总体", "children": ["group", "solo"]},
            "group": {"name": "分组", "weighting": "explicit", "missing": rule, "children": ["a", "b", "c"]},
            "a": {"name": "a", "weight": 0.5, "manual": True, "method": "score"},
            "b": {"name": "b", "weight": 0.3, "manual": True, "method": "score"},
            "c": {"name": "c", "weight": 0.2, "manual": True, "method": "score"},
            "solo": {"name": "solo", "manual": True, "method": "score"},
        }
    )


def test_missing_leaf_renormalises() -> None:
    [score] = score_portals(tree("renormalise"), [PortalInput("p", manual=manual(a=80, c=50, solo=60))])
    group = score.values["group"]
    assert score.values["b"].value is None and score.values["b"].state == MISSING
    assert group.value == pytest.approx(71.4286)  # (0.5·80 + 0.2·50) / 0.7
    assert group.state == OK and group.inputs["missing"] == ["b"]
    assert score.overall.value == pytest.approx(65.7143)  # equal weights: (71.4286 + 60) / 2


def test_missing_leaf_marks_incomplete_up_to_the_root() -> None:
    [score] = score_portals(tree("incomplete"), [PortalInput("p", manual=manual(a=80, c=50, solo=60))])
    assert score.values["group"].value == pytest.approx(71.4286)
    assert score.values["group"].state == INCOMPLETE
    assert score.overall.state == INCOMPLETE


def test_all_children_missing_makes_the_parent_missing_not_zero() -> None:
    [score] = score_portals(tree("renormalise"), [PortalInput("p", manual=manual(solo=60))])
    assert score.values["group"].value is None and score.values["group"].state == MISSING
    assert score.overall.value == 60.0 and score.overall.inputs["missing"] == ["group"]
    [empty] = score_portals(tree("renormalise"), [PortalInput("p")])
    assert empty.overall.value is None and empty.overall.state == MISSING and empty.overall.band is None


def test_min_present_share() -> None:
    fw = framework(
        {
            "overall": {"name": "总体", "weighting": "explicit", "min_present": 0.6, "children": ["a", "b"]},
            "a": {"name": "a", "weight": 0.5, "manual": True, "method": "score"},
            "b": {"name": "b", "weight": 0.5, "manual": True, "method": "score"},
        }
    )
    [score] = score_portals(fw, [PortalInput("p", manual=manual(a=80))])
    assert score.overall.value is None and score.overall.inputs["present_share"] == 0.5


def test_error_and_not_applicable_never_fail_a_leaf() -> None:
    r = Rows()
    fw = framework(
        {
            "overall": {"name": "总体", "children": ["search", "login"]},
            "search": {"name": "搜索", "method": "binary", **SEARCH},
            "login": {"name": "单点登录", "method": "ratio", "probes": ["duplicate_login"]},
        }
    )
    rows = [
        r("search_accuracy", "社保", "pass"),
        r("duplicate_login", "https://d/", "error", "login_failed"),
        r("duplicate_login", "https://e/", "not_applicable"),
    ]
    [score] = score_portals(fw, [PortalInput("p", rows)])
    assert score.values["login"].state == MISSING
    assert score.values["login"].inputs["counts"] == {"pass": 0, "fail": 0, "error": 1, "not_applicable": 1}
    assert score.overall.value == 100.0


def test_manual_methods() -> None:
    fw = framework(
        {
            "overall": {"name": "总体", "children": ["s", "b", "c", "m"]},
            "s": {"name": "s", "manual": True, "method": "score"},
            "b": {"name": "b", "manual": True, "method": "binary"},
            "c": {"name": "c", "manual": True, "method": "count_target", "target": 200},
            "m": {"name": "m", "manual": True, "method": "benchmark"},
        }
    )
    one, two = score_portals(
        fw,
        [
            PortalInput("x", manual=manual(s=72.5, b=1, c=115, m=115)),
            PortalInput("y", manual=manual(s=10, b=0, c=300, m=460)),
        ],
    )
    assert [one.values[k].value for k in "sbcm"] == [72.5, 100.0, 57.5, 25.0]
    assert [two.values[k].value for k in "sbcm"] == [10.0, 0.0, 100.0, 100.0]
    assert one.values["s"].inputs["manual"] == [1]


def test_band_limits_and_provisional_band_when_incomplete() -> None:
    limits = [
        {"band": "非常高", "min": 90, "inclusive": False},
        {"band": "高", "min": 80},
        {"band": "中", "min": 60},
        {"band": "低"},
    ]
    fw = framework(
        {
            "overall": {"name": "总体", "missing": "incomplete", "children": ["a", "b"]},
            "a": {"name": "a", "manual": True, "method": "score"},
            "b": {"name": "b", "manual": True, "method": "score"},
        },
        bands=[{"id": "national", "name": "等级", "limits": limits}],
    )
    cases = [
        ({"a": 90, "b": 90}, "高"),
        ({"a": 90, "b": 91}, "非常高"),
        ({"a": 80, "b": 80}, "高"),
        ({"a": 0, "b": 59.99}, "低"),
    ]
    for given, band in cases:
        [score] = score_portals(fw, [PortalInput("p", manual=manual(**given))])
        assert score.overall.band == band, given
    [partial] = score_portals(fw, [PortalInput("p", manual=manual(a=95))])
    assert partial.overall.state == INCOMPLETE and partial.overall.band is None  # no verdict on half a tree
    assert (
        partial.overall.inputs["bands"] == {"national": "非常高"}
        and partial.overall.inputs["bands_provisional"]
    )


def test_a_second_code_on_its_own_row_is_counted_by_a_leaf_of_that_code() -> None:
    """Issue 13, class 7: 搜不准 behind 搜不全 on the same keyword is a row of its own, so a leaf
    that counts only imprecise sees it (it was hidden in ``detail.also`` before)."""
    r = Rows()
    fw = one_leaf({"method": "ratio", "probes": ["search_accuracy"], "codes": ["imprecise"]})
    rows = [
        r("search_accuracy", "工业生产许可", "fail", "incomplete"),
        r("search_accuracy", "工业生产许可", "fail", "imprecise"),
        r("search_accuracy", "低保", "pass"),
    ]
    value = leaf_value(fw, rows)
    assert value.value == 50.0 and value.inputs["failed_targets"] == 1
