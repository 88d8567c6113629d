"""The HTML report: content from stored data, self-contained, rendered by headless Chromium."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from ops_data import F, store_run
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.report import charts
from zwaudit.app.report.render import write_report
from zwaudit.app.report.scores import FrameworkScore, ranking
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.evidence import EvidenceWriter

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
    assert "尚无指标得分" in html and "此前没有同类（夜间例行）且已完成的运行" in html and "链接失效" in html
    assert "状态 完成 ·" in html  # the run's own status, in Chinese


def test_a_nightly_report_is_not_compared_with_a_calibration(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """A calibration of two checks stored before the first nightly is not its "last run": the
    report said 较上次新增问题 against it while the nightly itself had nothing to compare with."""
    store_run(sessions, [F("sbx-shu", "auth_https", "https://a/login", "pass")], trigger="calibrate")
    run = store_run(sessions, [F("sbx-shu", "auth_https", "https://a/login", "fail", "hsts_missing")])
    html = write_report(sessions, run, tmp_path / "r").read_text(encoding="utf-8")
    assert "此前没有同类（夜间例行）且已完成的运行" in html and "对比第" not in html


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium")
def test_report_renders_in_chromium_without_console_errors(tmp_path: Path) -> None:
    from zwaudit.app.report.snapshot import snapshot

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


def test_summary_is_the_findings_sentence_redacted() -> None:
    from zwaudit.app.report.findings import summarise
    from zwaudit.redact import Redactor

    detail = {"error": "timed out", "url": "https://x/?q=张三丰", "top_n": 10, "how": {"a": 1}}
    text = summarise("search_accuracy", "低保", "error", "timeout", detail, [Redactor({"name": "张三丰"})])
    assert text == "搜索准确性：访问 https://x/?q=张** 超时，未能得出结论"
    assert "top_n" not in text
    assert summarise("search_accuracy", "低保", "fail", "not_found", {}) == "搜索“低保”：没有任何结果"
    assert summarise("search_accuracy", "低保", "fail", "not_found", "x") == "搜索“低保”：没有任何结果"


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
    assert "本门户未提供：网络预约出租汽车运输证发放" in html  # on the fail row itself


def filtered_run(sf: sessionmaker[Session]) -> int:
    """Two portals, three checks, hostile text where scraped text can be (target, detail)."""
    writer = EvidenceWriter(1, "sbx-shu", "auth_https")
    shot = writer.path_for("login.png")
    shot.write_bytes(tiny_png())
    ref = writer.register("screenshot", shot, "image/png")
    return store_run(
        sf,
        [
            F("sbx-shu", "auth_https", "https://a/login", "fail", "hsts_missing", {"login_url": "https://a/login"}, [ref]),
            F("sbx-shu", "search_accuracy", '"><img src=x onerror=alert(1)>', "fail", "not_found"),
            F("sbx-zhe", "search_accuracy", "低保", "fail", "imprecise", {"top_n": 10, "results_read": 4,
              "irrelevant_ranks": [1, 2, 3], "precision_at_n": 0.25}),
            F(
                "sbx-zhe",
                "link_health",
                "https://b/x",
                "error",
                "timeout",
                {"error": "t", "url": "https://b/</style><script>alert(2)</script>"},
            ),
        ],
    )  # fmt: skip


def test_report_filters_offer_the_findings_portals_checks_and_codes(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from html.parser import HTMLParser

    class Options(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.select: str | None = None
            self.options: dict[str, list[str]] = {}
            self.tags: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)
            if tag == "select":
                self.select = dict(attrs)["id"]
                self.options[self.select or ""] = []
            if tag == "option" and self.select:
                self.options[self.select].append(dict(attrs)["value"] or "")

    run = filtered_run(sessions)
    html = write_report(sessions, run, tmp_path / "r").read_text(encoding="utf-8")
    parser = Options()
    parser.feed(html)
    assert parser.options == {
        "filter-portal": ["", "p1", "p2"],
        "filter-check": ["", "c1", "c2", "c3"],
        "filter-code": ["", "k1", "k2", "k3", "k4"],
    }
    assert "蜀省政务服务网（sbx-shu）" in html and ">统一登录HTTPS<" in html and "搜不准（imprecise）" in html
    # every finding row carries the keys the CSS rules test; no scraped value is in the stylesheet
    assert html.count('<tr class="finding"') == 4
    style = html[html.index('<form class="filters"') : html.index('<div class="probe-section"')]
    assert "alert" not in style and 'tr.finding:not([data-portal="p2"])' in style
    assert '.probe-section:not(:has(tr.finding[data-code="k1"]))' in style  # no empty section left
    # hostile text stays text; no script, no handler
    assert "script" not in parser.tags and "<img src=x" not in html and "</style><script>" not in html
    assert "&lt;/style&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html
    # the sentence, not the detail's keys
    assert "搜索“低保”：前4条结果中3条与关键词无关，准确率25%" in html and "top_n" not in html
    # the screenshot: a thumbnail linking to its enlarged view (CSS :target), both local
    thumb = re.search(r'<a class="thumb" href="#(shot-[\d-]+)"[^>]*><img src="(evidence/[^"]+)"', html)
    assert thumb is not None
    assert f'<a class="lightbox" id="{thumb.group(1)}" href="#_close"' in html


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium")
def test_report_filters_and_enlarging_work_in_chromium(tmp_path: Path) -> None:
    import asyncio

    from playwright.async_api import async_playwright

    from zwaudit.browser import LAUNCH_ARGS

    engine = make_engine(f"sqlite:///{tmp_path / 'f.sqlite'}")
    upgrade(engine)
    sf = session_factory(engine)
    html_path = write_report(sf, filtered_run(sf), tmp_path / "report")
    engine.dispose()

    async def visit() -> dict[str, object]:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS))
            page = await browser.new_page()
            await page.goto(html_path.as_uri())
            rows = page.locator("tr.finding")
            sections = page.locator(".probe-section")

            async def visible(loc: object) -> int:
                return sum([await x.is_visible() for x in await loc.all()])  # type: ignore[attr-defined]

            out: dict[str, object] = {"all": await visible(rows)}
            await page.select_option("#filter-portal", label="蜀省政务服务网（sbx-shu）")
            out["portal"] = await visible(rows)
            await page.select_option("#filter-code", label="搜不到（not_found）")
            out["portal+code"] = (await visible(rows), await visible(sections))
            await page.select_option("#filter-portal", "")
            await page.select_option("#filter-code", "")
            await page.select_option("#filter-check", label="链接可用性")
            out["check"] = (await visible(rows), await visible(sections))
            await page.select_option("#filter-check", "")
            thumb = page.locator("a.thumb").first
            box = page.locator("a.lightbox").first
            out["closed"] = await box.is_visible()
            await thumb.click()
            out["open"] = await box.is_visible()
            await box.click()
            out["closed_again"] = await box.is_visible()
            await browser.close()
            return out

    seen = asyncio.run(visit())
    assert seen == {
        "all": 4,
        "portal": 2,
        "portal+code": (1, 1),
        "check": (1, 1),
        "closed": False,
        "open": True,
        "closed_again": False,
    }
