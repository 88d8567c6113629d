"""Issue 14: one registry of checks and codes (``config/checks.yaml``), and one Chinese sentence
per finding rendered from it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from zwaudit.app.report import labels
from zwaudit.config import load_config
from zwaudit.errors import ConfigError
from zwaudit.explain import explain
from zwaudit.findings import Finding, UndeclaredCodeError
from zwaudit.outcomes import ErrorKind, RunStatus, Status
from zwaudit.paths import DEFAULT_CONFIG_DIR
from zwaudit.registry import declarations, parse_registry

#: a realistic ``detail`` of each declared code, as its judge writes it, and what the sentence says
REALISTIC: dict[tuple[str, str], tuple[str, dict[str, Any], list[str]]] = {
    ("search_accuracy", "not_found"): (
        "个税",
        {"top_n": 10, "results_read": 0, "titles": [], "missing": [], "empty_message": "没有找到相关结果"},
        ["搜索“个税”", "没有找到相关结果"],
    ),
    ("search_accuracy", "incomplete"): (
        "个税",
        {
            "top_n": 10,
            "results_read": 10,
            "recall": 0.5,
            "precision_at_n": 0.8,
            "missing": ["个人所得税纳税申报"],
            "matched": {"个人所得税汇算": [1]},
            "irrelevant_ranks": [4, 9],
            "page_url": "https://zwfw.example.gov.cn/search?q=个税",
        },
        ["搜索“个税”：前10条结果缺少“个人所得税纳税申报”，召回率50%"],
    ),
    ("search_accuracy", "imprecise"): (
        "低保",
        {
            "top_n": 10,
            "results_read": 8,
            "precision_at_n": 0.25,
            "recall": 1.0,
            "irrelevant_ranks": [1, 2, 3, 5, 6, 8],
        },
        ["前8条结果中6条与关键词无关", "准确率25%"],
    ),
    ("auth_https", "login_page_http"): (
        "http://login.example.gov.cn/sso/login",
        {
            "login_url": "http://login.example.gov.cn/sso/login?service=x",
            "chain": ["https://www.example.gov.cn/"],
        },
        ["http://login.example.gov.cn/sso/login?service=x", "明文"],
    ),
    ("auth_https", "form_posts_http"): (
        "https://login.example.gov.cn/sso/login",
        {
            "login_url": "https://login.example.gov.cn/sso/login",
            "form_action": "http://login.example.gov.cn/sso/auth",
            "password_destinations": ["http://login.example.gov.cn/sso/auth"],
            "submissions": [{"method": "POST", "url": "http://login.example.gov.cn/sso/auth", "via": "form"}],
        },
        ["密码经 http://login.example.gov.cn/sso/auth 明文提交"],
    ),
    ("auth_https", "mixed_content"): (
        "https://login.example.gov.cn/sso/login",
        {
            "login_url": "https://login.example.gov.cn/sso/login",
            "insecure_subresources": [
                "http://cdn.example.gov.cn/jquery.js",
                "http://cdn.example.gov.cn/a.css",
            ],
        },
        ["加载了2个资源", "http://cdn.example.gov.cn/jquery.js"],
    ),
    ("auth_https", "certificate_invalid"): (
        "https://login.example.gov.cn/sso/login",
        {
            "login_url": "https://login.example.gov.cn/sso/login",
            "certificate": {"valid": False, "problem": "certificate has expired", "error_kind": None},
        },
        ["证书无效：certificate has expired"],
    ),
    ("auth_https", "hsts_missing"): (
        "https://login.example.gov.cn/sso/login",
        {"login_url": "https://login.example.gov.cn/sso/login", "hsts": None},
        ["未返回 HSTS"],
    ),
    ("name_masking", "name_unmasked"): (
        "https://zwfw.example.gov.cn/user/center",
        {"field": "name", "surface": "page", "form": "full", "surfaces": ["page"], "locations": []},
        ["用户中心页面显示未经脱敏的姓名"],
    ),
    ("name_masking", "id_number_unmasked"): (
        "https://zwfw.example.gov.cn/user/center",
        {
            "field": "id_number",
            "surface": "api",
            "form": "insufficiently_masked",
            "api_url": "https://zwfw.example.gov.cn/api/user/info",
        },
        ["接口 https://zwfw.example.gov.cn/api/user/info 返回脱敏不足的身份证号"],
    ),
    ("name_masking", "phone_unmasked"): (
        "https://zwfw.example.gov.cn/user/center",
        {"field": "phone", "surface": "page", "form": "full"},
        ["未经脱敏的手机号"],
    ),
    ("duplicate_login", "second_login"): (
        "https://mzt.example.gov.cn/wsbs/apply",
        {
            "final_url": "https://mzt.example.gov.cn/login.jsp",
            "found_on": "https://zwfw.example.gov.cn/guide/123",
            "login_host": "mzt.example.gov.cn",
            "unified_auth_host": "login.example.gov.cn",
            "unified": False,
        },
        ["部门系统 https://mzt.example.gov.cn/wsbs/apply", "要求再次登录"],
    ),
    ("duplicate_login", "re_registration"): (
        "https://gat.example.gov.cn/yw/apply",
        {"final_url": "https://gat.example.gov.cn/register", "found_on": "https://zwfw.example.gov.cn/g/9"},
        ["要求重新注册"],
    ),
    ("data_same_source", "item_missing"): (
        "11510000MB1234567X4000@mobile",
        {"name": "最低生活保障金给付", "matched_by": None, "item_counts": {"portal": 30, "mobile": 29}},
        ["最低生活保障金给付", "在移动端上找不到"],
    ),
    ("data_same_source", "field_mismatch"): (
        "11510000MB1234567X4000@dept:mzt",
        {
            "name": "最低生活保障金给付",
            "matched_by": "code",
            "mismatches": [{"field": "承诺办结时限", "portal": "10个工作日", "dept:mzt": "15个工作日"}],
        },
        ["“承诺办结时限”不一致：门户为“10个工作日”，部门网站 mzt为“15个工作日”"],
    ),
    ("data_same_source", "stale"): (
        "11510000MB1234567X4000@mobile",
        {"name": "结婚登记", "matched_by": "name", "days_apart": 45},
        ["结婚登记", "相差45天"],
    ),
    ("guide_completeness", "element_missing"): (
        "11510000MB1234567X4000@portal",
        {
            "missing": ["法定办结时限", "收费标准"],
            "name": "结婚登记",
            "source_url": "https://zwfw.example.gov.cn/guide/1",
            "published_elsewhere": {"收费标准": ["mobile"]},
        },
        ["门户上事项“结婚登记”的办事指南缺少2项要素：法定办结时限、收费标准"],
    ),
    ("cancelled_items", "still_listed"): (
        "11510000MB1234567X4001@portal",
        {
            "listed_name": "台港澳人员在内地就业许可",
            "cancelled_name": "台港澳人员在内地就业许可",
            "department": "人力资源社会保障部",
            "decision": "国发〔2018〕28号",
            "source_url": "https://zwfw.example.gov.cn/guide/2",
        },
        ["“台港澳人员在内地就业许可”已由国发〔2018〕28号取消，门户仍在列"],
    ),
    ("click_depth", "too_deep"): (
        "11510000MB1234567X4002@portal",
        {"clicks": 5, "max_clicks": 3, "source_url": "https://zwfw.example.gov.cn/guide/3"},
        ["至少需点击5次，超过3次"],
    ),
    ("link_health", "broken_link"): (
        "https://zwfw.example.gov.cn/zcjd/2025-01",
        {
            "url": "https://zwfw.example.gov.cn/zcjd/2025-01",
            "found_on": "https://zwfw.example.gov.cn/",
            "status": 404,
        },
        [
            "https://zwfw.example.gov.cn/ 上的链接 https://zwfw.example.gov.cn/zcjd/2025-01 无法打开（HTTP 404）"
        ],
    ),
}


def test_every_declared_code_has_a_realistic_case() -> None:
    declared = {(check, code) for check, spec in declarations().checks.items() for code in spec.codes}
    assert declared == set(REALISTIC)


@pytest.mark.parametrize(("check", "code"), sorted(REALISTIC))
def test_every_declared_code_renders_its_sentence(check: str, code: str) -> None:
    target, detail, expected = REALISTIC[(check, code)]
    spec = declarations().declared(check)
    text = explain(check, target, "fail", code, detail)
    for part in expected:
        assert part in text, (text, part)
    # the first template fitted: a realistic detail never falls back to the generic sentence
    assert text != f"{spec.label}：{target} {spec.codes[code].label}"
    assert "{" not in text and "None" not in text and "[" not in text, text
    # a finding with the same code builds (the code is declared)
    Finding(check, target, Status.FAIL, code, detail)


@pytest.mark.parametrize(("check", "code"), sorted(REALISTIC))
def test_missing_fields_fall_back_and_never_crash(check: str, code: str) -> None:
    for detail in ({}, None, "x", {"missing": None, "mismatches": [1], "certificate": "x", "recall": "n/a"}):
        text = explain(check, "t@mobile", "fail", code, detail)
        assert text and "{" not in text and "None" not in text, text


def test_several_missing_services_are_quoted_one_by_one() -> None:
    detail = {"top_n": 10, "recall": 0.0, "missing": ["社会保险登记", "社会保险缴费申报"]}
    text = explain("search_accuracy", "社保", "fail", "incomplete", detail)
    assert text == "搜索“社保”：前10条结果缺少“社会保险登记”、“社会保险缴费申报”，召回率0%"


def test_other_statuses_and_unknown_names_have_a_sentence() -> None:
    """Errors and not-applicable findings are explained from their kind / precondition, in
    Chinese — the English message of the detail stays a machine fact."""
    assert (
        explain("auth_https", "https://a/", "error", "timeout", {"error": "30s"})
        == "统一登录HTTPS：访问 https://a/ 超时，未能得出结论"
    )
    assert (
        explain(
            "auth_https", "https://a/", "error", "timeout", {"error": "check exceeded 120s", "timeout_s": 120}
        )
        == "检查超时（超过 120 秒未完成）"
    )
    assert explain("x", "t", "error", "{bad}", {"error": "e"}) == "x：未能得出结论（未知原因）"
    assert explain("x", "t", "error", None, {"error": ["not", "text"]}) == "x：未能得出结论（未知原因）"
    assert (
        explain("name_masking", "u", "not_applicable", "name_unmasked", {"reason": "无账号"})
        == "姓名脱敏：不适用"
    )
    assert (
        explain("name_masking", "u", "not_applicable", "name_unmasked", {"field": "name", "reason": "x"})
        == "测试账号未配置姓名，不检查姓名是否脱敏"
    )
    assert explain("link_health", "h", "pass", None, {}) == "链接可用性检查通过"
    assert explain("nope", "t", "fail", "odd", {}) == "nope：t odd"
    assert explain("search_accuracy", "k", "fail", "not_declared", {}) == "搜索准确性：k not_declared"


def test_a_finding_with_an_undeclared_code_is_refused() -> None:
    with pytest.raises(UndeclaredCodeError, match="second_logn"):
        Finding("duplicate_login", "https://a/", Status.FAIL, "second_logn")
    with pytest.raises(UndeclaredCodeError):  # a code of another check
        Finding("search_accuracy", "个税", Status.FAIL, "broken_link")
    with pytest.raises(UndeclaredCodeError):
        Finding("name_masking", "https://a/u", Status.NOT_APPLICABLE, "nickname_unmasked")
    with pytest.raises(ValueError, match="ErrorKind"):
        Finding("search_accuracy", "个税", Status.ERROR, "not_found")
    # a check the project does not declare is held to its class's codes by the runner instead
    Finding("stand_in", "t", Status.FAIL, "anything")


def test_runner_turns_a_code_the_class_does_not_declare_into_an_internal_error() -> None:
    from zwaudit.app.check_runner import undeclared_as_internal

    class StandIn:
        name = "stand_in"
        codes = frozenset({"bad"})

    ok = Finding("stand_in", "t", Status.FAIL, "bad")
    assert undeclared_as_internal(StandIn, ok) is ok  # type: ignore[arg-type]
    out = undeclared_as_internal(StandIn, Finding("stand_in", "t", Status.FAIL, "worse"))  # type: ignore[arg-type]
    assert (
        out.status is Status.ERROR and out.code == ErrorKind.INTERNAL.value and "worse" in out.detail["error"]
    )


def test_everything_derives_from_the_registry() -> None:
    from scoring.framework import registry_codes
    from zwaudit.app.calibration import LOGGED_IN_CHECKS

    reg = declarations()
    config = load_config(DEFAULT_CONFIG_DIR, validate_probes=False)
    assert set(config.check_registry) == set(reg.checks)
    lookup = registry_codes(config)
    for name, spec in reg.checks.items():
        cls = config.check_class(name)
        assert cls.codes == spec.code_names, name  # the class takes its codes from the registry
        assert bool(getattr(cls, "logged_in", False)) == spec.logged_in, name
        assert lookup(name) == spec.code_names
        assert labels.probe(name) == spec.label
        for code, c in spec.codes.items():
            assert labels.code(code) == c.label
        assert spec.evidence, f"{name} declares no evidence kinds"
    assert {"name_masking", "duplicate_login"} == LOGGED_IN_CHECKS
    assert set(labels.STATUSES) == {s.value for s in Status}
    assert set(labels.RUN_STATUSES) == {s.value for s in RunStatus}
    assert labels.run_status("interrupted") == "中断"
    assert {k.value for k in ErrorKind} <= set(labels.CODES)


def test_a_reason_code_is_declared_once_in_the_code() -> None:
    """Grepping the source for a reason code's label finds it only in the registry."""
    root = DEFAULT_CONFIG_DIR.parent
    sources = [p for d in ("zwaudit", "probes", "crawler", "scoring") for p in (root / d).rglob("*.py")]
    for spec in declarations().checks.values():
        for code in spec.codes.values():
            for path in sources:
                assert f'"{code.label}"' not in path.read_text(encoding="utf-8"), (code.label, path)


def test_registry_file_is_validated(tmp_path: Path) -> None:
    base = {
        "checks": {
            "a": {"class": "m:C", "label": "甲", "codes": {"x": {"label": "叉", "explain": ["{target}"]}}}
        }
    }
    reg = parse_registry(base, tmp_path / "checks.yaml")
    assert reg.declared("a").code_names == {"x"}
    with pytest.raises(ConfigError):  # an error kind is not a reason code
        parse_registry(
            {
                "checks": {
                    "a": {
                        "class": "m:C",
                        "label": "甲",
                        "codes": {"timeout": {"label": "t", "explain": ["x"]}},
                    }
                }
            },
            tmp_path / "c.yaml",
        )
    with pytest.raises(ConfigError):  # a template that does not parse
        parse_registry(
            {
                "checks": {
                    "a": {"class": "m:C", "label": "甲", "codes": {"x": {"label": "t", "explain": ["{oops"]}}}
                }
            },
            tmp_path / "c.yaml",
        )
    with pytest.raises(ConfigError, match="unlabelled"):  # the project's file labels every status
        parse_registry({**base, "statuses": {"pass": "通过"}}, tmp_path / "c.yaml", complete=True)
    short = parse_registry({"checks": {"duplicate_login": "m:Other"}}, tmp_path / "c.yaml")
    merged = declarations().merged(short)
    assert merged.declared("duplicate_login").cls == "m:Other"
    assert merged.declared("duplicate_login").code_names == {"second_login", "re_registration"}


def test_the_sandbox_truth_refuses_an_undeclared_code() -> None:
    from sandbox.truth import _exp

    assert _exp("link_health", "https://a/x", "broken_link")["code"] == "broken_link"
    with pytest.raises(ValueError, match="broken_links"):
        _exp("link_health", "https://a/x", "broken_links")


def test_templates_name_only_plain_fields() -> None:
    """Template fields are detail keys, ``target``, ``channel(_zh)``, ``*_count`` or ``*_zh``."""
    field = re.compile(r"\{([a-z_]+)")
    for spec in declarations().checks.values():
        for code in spec.codes.values():
            for template in code.explain:
                assert field.findall(template), template


def test_a_stored_finding_row_has_a_status_of_the_enum() -> None:
    from zwaudit.db import models

    assert models.Finding(status="fail").status == "fail"
    with pytest.raises(ValueError):
        models.Finding(status="failed")


def test_the_reports_diff_cells_are_in_chinese() -> None:
    assert labels.observation("fail:hsts_missing,error:timeout") == "不通过（未启用HSTS）、错误（超时）"
    assert labels.observation("pass") == "通过" and labels.observation("-") == "—"
    assert labels.observation("fail:unknown_code") == "不通过（unknown_code）"


def test_migration_0004_closes_the_status_of_stored_findings(db_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from zwaudit.db.engine import make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine, "0003")
    insert = (
        "INSERT INTO finding (run_id, portal_id, probe, target, status, code, detail, probe_version, observed_at) "
        "VALUES (1, 'p', 'link_health', 't', :s, :c, '{}', '1', CURRENT_TIMESTAMP)"
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO portal (id, name, home_url, level, updated_at) VALUES ('p', 'P', 'https://p/', 'province', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO run (trigger, status, started_at, host, config_dir, summary) VALUES ('audit', 'ok', CURRENT_TIMESTAMP, 'h:1', '', '{}')"
            )
        )
        conn.execute(text(insert), {"s": "fail", "c": "broken_link"})
        conn.execute(text(insert), {"s": "failed", "c": "broken_link"})  # a hand edit
    upgrade(engine)
    with engine.begin() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT status, code FROM finding ORDER BY id"))]
    assert rows == [("fail", "broken_link"), ("error", "internal")]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(insert), {"s": "passed", "c": None})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE finding SET status = 'ok'"))
    engine.dispose()


def test_coverage_travels_in_the_sentence_of_the_checks_that_depend_on_it() -> None:
    """Issue 13: duplicate_login's department systems and search_accuracy's catalogue (items
    considered, services not offered, or no catalogue) are in the CSV detail, passes included."""
    coverage = {
        "systems_reached": 2,
        "systems_seen_in_links": 3,
        "departments_listed": 3,
        "departments_reached": 2,
        "departments_not_reached": ["医疗保障局"],
        "source": "discovery",
        "pages_read": 31,
        "page_budget": 40,
    }
    text = explain("duplicate_login", "https://a/", "pass", None, {"coverage": coverage})
    assert text.startswith("重复登录检查通过。覆盖：部门系统：到达 2 个")
    assert "未到达：医疗保障局" in text and "读取门户页面 31/40" in text
    offered = {
        "catalogue": {"available": True},
        "coverage": {"catalogue_items_considered": 2},
        "not_offered": ["住房公积金提取"],
    }
    text = explain("search_accuracy", "公积金", "pass", None, offered)
    assert "参与判断的目录事项 2 项" in text and "门户未提供：住房公积金提取" in text
    none = {"catalogue": {"available": False, "note": "no crawl"}}
    assert "无门户事项目录，未判断搜不全" in explain("search_accuracy", "公积金", "pass", None, none)
    # other checks and errors carry no clause
    assert "覆盖" not in explain("auth_https", "https://a/", "pass", None, {"coverage": coverage})
    assert "覆盖" not in explain("duplicate_login", "https://a/", "error", "timeout", {"coverage": coverage})
