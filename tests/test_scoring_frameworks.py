"""The shipped frameworks load and validate; a broken framework is one line naming file and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_scoring_helpers import NINE, nine_codes, project_config

from scoring.api import load_framework
from scoring.framework import Framework, available_frameworks, load_framework_file
from zwaudit.config import load_config
from zwaudit.errors import ConfigError

# Seed 004, "评估指标具体考察内容关注点" tables.
CSTC_LEVEL1 = ["基础保障度", "数据支撑度", "服务成熟度", "治理精准度", "社会满意度", "优秀创新案例"]
CSTC_LEVEL2 = [
    "组织保障", "制度保障", "基础设施保障", "应用支撑",
    "清单目录", "数据共享", "数据同源", "数据安全",
    "政务服务成熟度", "公共服务成熟度", "数据服务成熟度",
    "社会治理", "市场监管", "生态环境治理",
    "政务服务好差评", "数据服务满意度", "咨询投诉答复满意度",
]  # fmt: skip
CSTC_LEVEL3 = [
    "领导机制", "管理机构", "规划设计", "制度标准", "政务云平台", "政务系统迁移",
    "搜索功能", "身份认证", "统一互动", "办事系统", "线上支付",
    "数据资源目录", "数据资源库", "共享平台", "共享利用", "数据同源", "数据安全体系", "隐私保护",
    "服务覆盖度", "网办深度", "服务准确性", "服务集成度", "移动政务服务", "服务智能化",
    "数字化战疫", "医疗服务", "教育服务", "交通服务", "社保服务", "就业服务",
    "公共资源交易服务", "数据开放", "开放数据质量", "数据加工运营", "数据交易流通", "数据利用",
    "网格化管理", "公共安全", "市场主体监管", "市场产品监管",
    "好差评渠道建设", "好差评效果", "评价功能", "评价效果", "咨询投诉答复",
]  # fmt: skip


def test_cstc_tree_has_6_17_45_indicators_named_as_in_seed_004() -> None:
    fw = load_framework(project_config(), "cstc2021")
    assert [n.name for n in fw.at_level(1)] == CSTC_LEVEL1
    assert [n.name for n in fw.at_level(2)] == CSTC_LEVEL2
    assert [n.name for n in fw.at_level(3)] == CSTC_LEVEL3
    assert (len(fw.at_level(1)), len(fw.at_level(2)), len(fw.at_level(3))) == (6, 17, 45)
    # every leaf is either automatic (fed by probes) or manual
    for node in fw.nodes.values():
        if node.is_leaf:
            assert node.spec.manual != bool(node.spec.probes), node.id
    automatic = {p for n in fw.nodes.values() for p in n.spec.probes}
    assert automatic == set(NINE)  # every check feeds the CSTC tree somewhere


def test_ccps_has_the_provincial_first_level_indices_and_both_band_sets() -> None:
    fw = load_framework(project_config(), "ccps")
    assert [n.name for n in fw.at_level(1)] == [
        "在线服务成效度", "在线办理成熟度", "服务方式完备度", "服务事项覆盖度", "办事指南准确度", "政务信息系统整合共享",
    ]  # fmt: skip
    assert [b.id for b in fw.bands] == ["national", "provincial"]
    under_completeness = {p for n in fw.children("completeness") for p in n.spec.probes}
    assert {"search_accuracy", "auth_https", "name_masking"} <= under_completeness
    under_maturity = {p for n in fw.children("maturity") for p in n.spec.probes}
    assert "duplicate_login" in under_maturity
    assert {p for n in fw.children("integration") for p in n.spec.probes} == {"data_same_source"}
    assert {p for n in fw.children("guides") for p in n.spec.probes} == {"guide_completeness"}
    assert {p for n in fw.nodes.values() for p in n.spec.probes} == set(NINE)


def test_both_frameworks_are_found_on_the_search_path() -> None:
    assert {"ccps", "cstc2021"} <= set(available_frameworks(project_config()))


def test_unregistered_probe_is_a_config_error() -> None:
    config = load_config(validate_probes=False)
    config.check_registry.clear()
    with pytest.raises(ConfigError) as info:
        load_framework(config, "cstc2021")
    assert "unknown probe" in str(info.value) and "cstc2021.yaml: indicators." in str(info.value)


VALID = """
id: t
name: test
root: overall
indicators:
  overall: {name: 总体, children: [a, b]}
  a: {name: a, method: ratio, probes: [search_accuracy]}
  b: {name: b, manual: true, method: score}
"""


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (
            ("probes: [search_accuracy]", "probes: [search_acuracy]"),
            "indicators.a.probes[0]",
            "unknown probe",
        ),
        (
            ("probes: [search_accuracy]", "probes: [search_accuracy], codes: [missing]"),
            "indicators.a.codes",
            "unknown reason code 'missing'",
        ),
        (
            ("manual: true, method: score", "manual: true, method: ratio"),
            "indicators.b.method",
            "a manual leaf cannot use the automatic method 'ratio'",
        ),
        (("method: ratio, probes", "method: score, probes"), "indicators.a.method", "for manual leaves"),
        (
            (
                "children: [a, b]}",
                "children: [a, b]}\n  x: {name: x, children: [overall]}",
            ),
            "indicators.overall",
            "the root cannot be the child",
        ),
        (
            (
                "  a: {name: a, method",
                "  c: {name: c, manual: true, method: score}\n  a: {name: a, children: [c], method",
            ),
            "indicators.a.method",
            "only a leaf",
        ),
        (
            ("children: [a, b]}", "children: [a, b, a]}"),
            "indicators.overall.children[2]",
            "already has the parent",
        ),
        (
            ("children: [a, b]}", "children: [a, b, zz]}"),
            "indicators.overall.children[2]",
            "unknown indicator 'zz'",
        ),
        (
            ("  b: {name: b,", "  c: {name: c, manual: true, method: score}\n  b: {name: b,"),
            "indicators.c",
            "not reachable from the root",
        ),
        (("method: score}", "method: score, colour: red}"), "indicators.b.colour", "unknown key"),
        (("method: score}", "method: count_target}"), "indicators.b.target", "required key is missing"),
    ],
)
def test_broken_framework_is_one_line_naming_file_and_key(
    tmp_path: Path, edit: tuple[str, str], key: str, message: str
) -> None:
    text = VALID.replace(*edit)
    assert text != VALID
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_framework_file(path, nine_codes)
    line = str(info.value)
    assert line.startswith(f"{path}: {key}: "), line
    assert message in line and "\n" not in line


def test_cycle_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        textwrap.dedent("""
        id: t
        name: t
        root: overall
        indicators:
          overall: {name: o, children: [a]}
          a: {name: a, manual: true, method: score}
          x: {name: x, children: [y]}
          y: {name: y, children: [x]}
        """),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"cycle: x -> y -> x"):
        load_framework_file(path, nine_codes)


@pytest.mark.parametrize(
    ("weights", "ok"),
    [((0.5, 0.5), True), ((0.5, 0.4), False), ((0.7, 0.30000001), True)],
)
def test_explicit_weights_must_add_up(tmp_path: Path, weights: tuple[float, float], ok: bool) -> None:
    text = VALID.replace("children: [a, b]}", "children: [a, b], weighting: explicit}")
    text = text.replace("{name: a,", f"{{name: a, weight: {weights[0]},").replace(
        "{name: b,", f"{{name: b, weight: {weights[1]},"
    )
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    if ok:
        assert isinstance(load_framework_file(path, nine_codes), Framework)
    else:
        with pytest.raises(
            ConfigError, match=r"indicators.overall.children: weights of 'overall'.* add up to 0.9, not 1"
        ):
            load_framework_file(path, nine_codes)


def test_equal_weighting_refuses_a_stray_weight(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(VALID.replace("{name: a,", "{name: a, weight: 0.3,"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"indicators.a.weight: the parent uses equal weights"):
        load_framework_file(path, nine_codes)


def test_user_config_dir_overrides_a_framework(tmp_path: Path) -> None:
    (tmp_path / "frameworks").mkdir()
    (tmp_path / "frameworks" / "cstc2021.yaml").write_text(
        VALID.replace("id: t", "id: cstc2021"), encoding="utf-8"
    )
    config = load_config(tmp_path, validate_probes=False)
    config.check_registry.update(project_config().check_registry)
    config._check_classes.update(project_config()._check_classes)
    fw = load_framework(config, "cstc2021")
    assert set(fw.nodes) == {"overall", "a", "b"}
    assert fw.source == tmp_path / "frameworks" / "cstc2021.yaml"
