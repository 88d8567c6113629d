"""Calibration of hostile targets (expected errors of a kind) and of the politeness and data-safety
counters computed from the sandbox's request log and the run's outputs (pure functions)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sandbox.web.reqlog import Logged
from zwaudit.app.calibration import CalibrationReport, Reported, compare
from zwaudit.app.calibration_hostile import (
    HostileCounters,
    personal_data_in_files,
    politeness,
    unescaped_payloads,
    unneutralised_cells,
)
from zwaudit.app.cli.calibrate import hostile_tables
from zwaudit.app.export import neutralise

PID = "sbx-x"
BOMB = "https://h/zcwj/archive"
TARPIT = "http://h:1/slow"
DRIP = "http://h:1/drip"
OPTIONAL = "http://h:2/wsbs/apply"
TRUTH = {
    PID: [
        {"probe": "link_health", "target": BOMB, "status": "error", "code": "too_large"},
        {"probe": "link_health", "target": TARPIT, "status": "error", "code": "timeout"},
        {"probe": "link_health", "target": DRIP, "status": "error", "code": "timeout"},
        {"probe": "link_health", "target": "https://h/", "status": "pass"},
        {"probe": "link_health", "target": "https://h/gone", "status": "fail", "code": "broken_link"},
        {
            "probe": "duplicate_login",
            "target": OPTIONAL,
            "status": "error",
            "code": "network",
            "required": False,
        },
    ]
}


def _r(probe: str, target: str, status: str, code: str | None = None) -> Reported:
    return Reported(PID, probe, target, status, code)


def test_the_right_kind_of_error_is_correct_and_silence_on_an_optional_target_is_fine() -> None:
    report = compare(
        TRUTH,
        [
            _r("link_health", BOMB, "error", "too_large"),
            _r("link_health", TARPIT, "error", "timeout"),
            _r("link_health", DRIP, "error", "timeout"),
            _r("link_health", "https://h/gone", "fail", "broken_link"),
        ],
        ["link_health", "duplicate_login"],
    )
    assert report.per_error["link_health"].correct == 3 and report.per_error["link_health"].wrong == 0
    assert report.per_error["duplicate_login"].wrong == 0
    assert report.error_mismatches == [] and report.hostile_problems() == []
    assert (report.per_probe["link_health"].tp, report.per_probe["link_health"].fp) == (1, 0)


def test_wrong_kind_verdicts_and_missing_required_targets_count_against_the_auditor() -> None:
    report = compare(
        TRUTH,
        [
            _r("link_health", BOMB, "error", "internal"),  # wrong kind
            _r("link_health", TARPIT, "fail", "broken_link"),  # a verdict where nothing could be seen
            _r("duplicate_login", OPTIONAL, "pass"),  # optional, but a verdict is still wrong
            _r("link_health", "https://h/gone", "fail", "broken_link"),
        ],  # DRIP: silence on a required target
        ["link_health", "duplicate_login"],
    )
    lh = report.per_error["link_health"]
    assert (lh.correct, lh.wrong_kind, lh.verdict, lh.missing) == (0, 1, 1, 1)
    assert report.per_error["duplicate_login"].verdict == 1
    problems = {(m.problem, m.target, m.expected, m.got) for m in report.error_mismatches}
    assert problems == {
        ("wrong_kind", BOMB, "too_large", "error:internal"),
        ("verdict", TARPIT, "timeout", "fail:broken_link"),
        ("missing", DRIP, "timeout", ""),
        ("verdict", OPTIONAL, "network", "pass"),
    }
    # the fail on the tarpit is also a false positive of link_health
    assert report.per_probe["link_health"].fp == 1 and report.per_probe["link_health"].precision == 0.5
    assert len(report.hostile_problems()) == 4


def test_expected_errors_of_checks_not_run_are_ignored() -> None:
    report = compare(TRUTH, [], ["search_accuracy"])
    assert report.per_error == {} and report.error_mismatches == []


def _row(t: float, path: str, site: str = "portal", **kw: object) -> Logged:
    return Logged(
        t,
        site,
        "GET",
        path,
        str(kw.get("dest", "")),
        int(kw.get("status", 200)),  # type: ignore[call-overload]
        str(kw.get("tag", "")),
        kw.get("retry_after"),  # type: ignore[arg-type]
        str(kw.get("location", "")),
    )


NOTES = {"crawl_delay_s": {"portal": 2.0}, "disallow": {"portal": ["/admin/", "/internal/"]}, "trap_bound": 3}


def test_politeness_counters_from_the_request_log() -> None:
    rows = [
        _row(0.0, "/robots.txt"),
        _row(2.1, "/xf/search?kw=a", status=429, retry_after=3.0),
        _row(3.0, "/xf/search?kw=b"),  # same resource before Retry-After passed: violation
        _row(3.1, "/xf/app.js", dest="script"),  # a sub-resource: no Crawl-delay gap of its own
        _row(3.5, "/other", site="dept"),  # another host: neither
        _row(5.2, "/xf/search?kw=a"),  # after the wait (3.1 s later)
        _row(7.3, "/admin/console;jsessionid=1"),
        _row(8.0, "/internal/x?y=1"),  # 0.7 s after the previous page: Crawl-delay violation
        *(_row(10.0 + 2 * i, f"/bsrl/calendar?month={i}", tag="trap:calendar") for i in range(5)),
        _row(30.0, "/news/list;jsessionid=A", tag="trap:session"),
        _row(40.0, "/xf/user/sso?ticket=T", status=302, location="/xf/user/home"),
        _row(40.1, "/xf/user/home"),  # the redirect followed: one fetch, a hop, not a violation
        _row(40.2, "/xf/user/other"),  # a fetch the auditor chose 0.1 s later: a violation
        _row(42.0, "/xf/user/login", status=302, location="/sso/login"),
        _row(42.5, "/sso/authenticate", site="auth", status=302, location="/xf/user/sso?ticket=T2"),
        _row(42.6, "/xf/user/sso?ticket=T2"),  # the login host sent the browser back: a hop
    ]
    c = HostileCounters("sbx-x")
    politeness(rows, NOTES, c)
    assert c.requests == len(rows)
    assert c.disallowed_requests == 2
    assert c.retry_after_violations == 1
    assert (c.crawl_delay_violations, c.crawl_delay_pages) == (3, 17)  # 2.1→3.0, 7.3→8.0, 40.1→40.2
    assert c.crawl_delay_redirect_hops == 2  # 40.0→40.1, and 42.0→42.6 (sent back by the login host)
    assert c.trap_pages == {"calendar": 5, "session": 1} and c.traps_over_bound == 1
    assert any("calendar" in p for p in c.problems()) and any("retry_after" in p for p in c.problems())


def test_polite_log_has_no_problems() -> None:
    rows = [_row(2.0 * i, f"/p{i}") for i in range(5)] + [
        _row(10.0, "/s", status=503, retry_after=3.0),
        _row(13.0, "/s"),
    ]
    c = HostileCounters("sbx-x")
    politeness(rows, NOTES, c)
    c.csv_unneutralised = c.report_unescaped = 0
    c.personal_data = {"database": 0, "csv": 0}
    assert c.problems() == []


def test_csv_cells_report_payloads_and_personal_data(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "target"])
        w.writerow([neutralise('=HYPERLINK("x")'), neutralise("@SUM(A1)")])
        w.writerow(["+cmd|' /C calc'!A0", "-2+3 临时占道许可"])  # as a careless export would
    assert unneutralised_cells(path) == 2
    html = "<td>&lt;img src=x onerror=alert(1)&gt;</td><td><img src=x onerror=alert(1)></td><script>x</script><script>"
    assert unescaped_payloads(html, ["<img src=x onerror=", "</script><script>", "=HYPERLINK("]) == 2
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_text("姓名：赵*帆", encoding="utf-8")
    (tmp_path / "ev" / "b.txt").write_text("姓名：赵一帆", encoding="utf-8")
    assert personal_data_in_files([tmp_path / "ev"], ["赵一帆", "13709112345"]) == 1


def test_calibrate_prints_the_hostile_tables() -> None:
    report = compare(TRUTH, [_r("link_health", BOMB, "error", "internal")], ["link_health"])
    report.hostile["sbx-x"] = HostileCounters(
        "sbx-x", disallowed_requests=1, trap_pages={"calendar": 46}, trap_bound=20
    )
    titles = [t.title for t in hostile_tables(report)]
    assert titles[0] == "hostile targets: expected errors" and len(titles) == 3
    assert isinstance(report, CalibrationReport)


def test_calibrate_cli_with_hostile_starts_sbx_xian_and_fails_on_its_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from sandbox import server
    from zwaudit.app.cli import calibrate as calibrate_cli
    from zwaudit.app.cli import cli

    started: list[list[str] | None] = []
    real_start = server.start

    def start(provinces: list[str] | None = None, **kw: object) -> server.Sandbox:
        started.append(provinces)
        return real_start(["sbx-xian"], **kw)  # type: ignore[arg-type]

    def fake_calibrate(config: object, sf: object, **kw: object) -> tuple[None, CalibrationReport]:
        report = compare(TRUTH, [], ["link_health"], 7)
        report.hostile["sbx-xian"] = HostileCounters("sbx-xian", crawl_delay_violations=3)
        return None, report

    monkeypatch.setattr(server, "start", start)
    monkeypatch.setattr(calibrate_cli, "calibrate", fake_calibrate)
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    result = CliRunner().invoke(cli, ["--db", db, "calibrate", "--hostile"])
    # the hostile province alone, after the others (its hogs starved their script-drawn portals)
    assert started == [server.default_provinces(), ["sbx-xian"]]
    assert result.exit_code == 1, result.output
    assert "crawl_delay_violations=3" in result.output and "missing" in result.output
    assert "Crawl-delay violations" in result.output
    result = CliRunner().invoke(cli, ["--db", db, "calibrate"])
    assert started[-2:] == [server.default_provinces(), ["sbx-xian"]]  # a plain calibrate includes it
    result = CliRunner().invoke(cli, ["--db", db, "calibrate", "--no-hostile"])
    assert started[-1] is None  # the sandbox's default set, without sbx-xian
    result = CliRunner().invoke(cli, ["--db", db, "calibrate", "--province", "sbx-xian"])
    assert started[-1] == ["sbx-xian"]


def test_the_request_log_keeps_where_a_redirect_sent_the_client() -> None:
    from sandbox.web.reqlog import _sent_to

    assert _sent_to(302, {"Location": "https://127.0.0.1:1/xf/user/home?x=1"}) == "/xf/user/home?x=1"
    assert _sent_to(301, {"Location": "/a"}) == "/a"
    assert _sent_to(200, {"Location": "/a"}) == ""
