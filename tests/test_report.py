"""The HTML report: content from stored data, self-contained, rendered by headless Chromium."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from ops_data import F, store_run
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.evidence import EvidenceWriter
from zwaudit.report import charts
from zwaudit.report.render import write_report
from zwaudit.report.scores import FrameworkScore, ranking

CHROMIUM = Path("/usr/bin/chromium")


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00"  # one red pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def scored(portal: str, overall: float, first: dict[str, float | None], band: str) -> list[tuple]:  # type: ignore[type-arg]
    """Indicator rows shaped like the scorer's: the root stores its children and bands."""
    return [(portal, "ccps", k, v, None) for k, v in first.items()] + [
        (portal, "ccps", "overall", overall, band)
    ]


def sample(sf: sessionmaker[Session]) -> tuple[int, int]:
    from zwaudit.db import models

    first_a = {"服务方式完备度": 80.0, "办事指南准确度": 90.0, "在线办理成熟度": 70.0}
    a = store_run(
        sf,
        [
            F("sbx-shu", "search_accuracy", "低保", "fail", "incomplete"),
            F("sbx-zhe", "auth_https", "https://b/login", "pass"),
        ],
        indicators=scored("sbx-shu", 80.0, first_a, "高") + scored("sbx-zhe", 85.0, first_a, "高"),
    )
    writer = EvidenceWriter(2, "sbx-zhe", "auth_https")
    shot = writer.path_for("login.png")
    shot.write_bytes(tiny_png())
    ref = writer.register("screenshot", shot, "image/png")
    first_b = {"服务方式完备度": 60.0, "办事指南准确度": None, "在线办理成熟度": 75.0}
    b = store_run(
        sf,
        [
            F("sbx-shu", "search_accuracy", "低保", "pass"),
            F(
                "sbx-zhe",
                "auth_https",
                "https://b/login",
                "fail",
                "hsts_missing",
                {"url": "https://b/login"},
                [ref],
            ),
            F(
                "sbx-zhe",
                "search_accuracy",
                "<script>alert(1)</script>",
                "error",
                "timeout",
                {"error": "超时 30s"},
            ),
        ],
        indicators=scored("sbx-shu", 88.0, first_a, "高") + scored("sbx-zhe", 67.5, first_b, "中"),
    )
    # the scorer stores the children's values and the bands on the root
    with sf.begin() as session:
        for row in session.query(models.IndicatorValue).filter_by(indicator="overall"):
            children = first_b if (row.run_id == b and row.portal_id == "sbx-zhe") else first_a
            row.inputs = {"children": children, "bands": {"ccps_national": row.band or ""}}
    return a, b


def test_charts_are_svg_and_show_missing() -> None:
    bar = charts.bar_chart([("搜索", 80.0), ("指南", None)], title="x")
    assert bar.startswith("<svg") and "缺失" in bar and "80.0" in bar
    radar = charts.radar_chart([("a", 10.0), ("b", None), ("c", 100.0)])
    assert radar.count("<polygon") == 5  # 4 rings + the values
    assert "<script" not in charts.bar_chart([("<script>", 1.0)])


def test_ranking_ties_and_missing() -> None:
    def s(v: float | None) -> FrameworkScore:
        return FrameworkScore("ccps", "ccps", v, "ok", None, {}, [])

    rows = ranking({"a": s(80.0), "b": s(90.0), "c": s(None), "d": s(80.0)}, {"a": "甲"})
    assert [(r.rank, r.portal_id) for r in rows] == [(1, "b"), (2, "a"), (2, "d"), (None, "c")]
    assert rows[1].portal_name == "甲"


def test_report_content_from_stored_runs(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    _, b = sample(sessions)
    html_path = write_report(sessions, b, tmp_path / "report")
    html = html_path.read_text(encoding="utf-8")
    for text in (
        "门户排名",
        "门户评分卡",
        "检查结果",
        "变化情况",
        "浙省政务服务网",
        "统一登录HTTPS",
        "未启用HSTS",
        "新增问题",
    ):
        assert text in html, text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    # ranking: sbx-shu (88) above sbx-zhe (67.5), with the bands, and the drop of sbx-zhe
    assert html.index("蜀省政务服务网") < html.index("浙省政务服务网")
    assert "-17.5" in html and "+8.0" in html
    # no external URL except the findings' own links (which are data, not resources)
    resources = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert all(r.startswith("evidence/") or r == "https://b/login" for r in resources), resources
    assert (tmp_path / "report" / "evidence" / "run-2/sbx-zhe/auth_https/login.png").exists()


def test_first_report_without_scores_or_history(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    run = store_run(sessions, [F("sbx-shu", "link_health", "https://a/x", "fail", "broken_link")])
    html = write_report(sessions, run, tmp_path / "r").read_text(encoding="utf-8")
    assert "尚无指标得分" in html and "第一次运行" in html and "链接失效" in html


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium")
def test_report_renders_in_chromium_without_console_errors(tmp_path: Path) -> None:
    from zwaudit.report.snapshot import snapshot

    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")
    upgrade(engine)
    sf = session_factory(engine)
    _, b = sample(sf)
    html_path = write_report(sf, b, tmp_path / "report")
    shot = snapshot(html_path, tmp_path / "first.png", executable=CHROMIUM)
    assert shot.console_errors == []
    assert shot.external_requests == []
    assert shot.title.startswith("政务服务网检查报告")
    for text in ("门户排名", "蜀省政务服务网", "88.00", "不通过", "搜索准确性", "错误", "已整改"):
        assert text in shot.text, text
    assert (tmp_path / "first.png").read_bytes().startswith(b"\x89PNG")
    # a screenshot that went missing is a console error the test would see
    (tmp_path / "report" / "evidence" / "run-2/sbx-zhe/auth_https/login.png").unlink()
    assert snapshot(html_path, executable=CHROMIUM).console_errors
    engine.dispose()


def test_summary_keeps_scalars_and_the_error() -> None:
    from zwaudit.redact import Redactor
    from zwaudit.report.findings import summarise

    detail = {"error": "超时 30s", "top_n": 10, "page_url": "https://x", "how": {"a": 1}, "who": "张三丰"}
    assert summarise(detail, [Redactor({"name": "张三丰"})]) == "超时 30s；top_n=10；who=张**"
    assert summarise({}) == "" and summarise("x") == ""


def test_coverage_of_duplicate_login_and_search_is_shown(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Issue 13: how far a check looked is in the report (and, whole, in the CSV detail)."""
    coverage = {
        "systems_reached": 2,
        "systems_seen_in_links": 3,
        "departments_listed": 3,
        "departments_reached": 2,
        "departments_not_reached": ["zrt"],
        "pages_read": 40,
        "page_budget": 40,
        "source": "discovery",
        "systems": ["a", "b"],
    }
    catalogue = {"available": True, "run_id": 1, "items": 30, "note": "this run's crawl", "considered": {}}
    search = {
        "catalogue": catalogue,
        "not_offered": ["网络预约出租汽车运输证发放"],
        "coverage": {"catalogue_items_considered": 0, "not_offered": 1},
    }
    run = store_run(
        sessions,
        [
            F("sbx-shu", "duplicate_login", "https://d/wsbs/apply", "pass", None, {"coverage": coverage}),
            F(
                "sbx-shu",
                "duplicate_login",
                "https://z/",
                "error",
                "element_not_found",
                {"error": "not reached"},
            ),
            F("sbx-shu", "search_accuracy", "网约车", "fail", "imprecise", search),
            F("sbx-shu", "search_accuracy", "低保", "pass", None, {**search, "not_offered": []}),
            F(
                "sbx-zhe",
                "search_accuracy",
                "低保",
                "pass",
                None,
                {"catalogue": {"available": False, "note": "no crawl stored this portal's catalogue"}},
            ),
        ],
    )
    html = write_report(sessions, run, tmp_path / "r").read_text(encoding="utf-8")
    assert "部门系统：到达 2 个（在线办理链接中见到 3 个）；档案所列部门 3 个，到达 2 个，未到达：zrt" in html
    assert "读取门户页面 40/40" in html
    source = "本次运行采集的事项目录" if run == 1 else "运行 1 采集的事项目录"
    assert f"按门户事项目录判断 2 个关键词（{source}）" in html
    assert "门户未提供的服务 1 项：网络预约出租汽车运输证发放" in html
    assert "1 个关键词无事项目录（未采集或采集失败），未判断搜不全" in html
    assert "not_offered=网络预约出租汽车运输证发放" in html  # on the fail row itself
