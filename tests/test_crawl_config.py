"""The crawl's typed configuration and its small pure helpers (no network)."""

from __future__ import annotations

from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from crawl_site import CrawlSite
from scrapy.http import HtmlResponse
from sqlalchemy import func, select

from crawler.config import PortalCrawl
from crawler.middlewares import looks_like_challenge
from crawler.pipelines import StoragePipeline
from crawler.run import CLEAN_MARKER, prepare_jobdir
from zwaudit.app.cli import cli
from zwaudit.config import load_config
from zwaudit.config.schema import PortalProfile
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.db.store import start_run
from zwaudit.errors import ConfigError, UsageError
from zwaudit.findings import utcnow
from zwaudit.net.retry_after import parse_retry_after

PROFILE = """id: demo
name: 演示政务服务网
home_url: https://www.example.gov.cn/
departments:
  - {id: gongan, name: 公安厅, url: "https://www.example.gov.cn/dept/gongan/index.html"}
mobile: {url: "https://m.example.gov.cn/h5/index"}
crawl:
  catalogue_url: https://www.example.gov.cn/bsfw/list
  api: {field_aliases: {办理时间: [窗口时间]}}
"""


def write_profile(tmp_path: Path, text: str) -> Path:
    (tmp_path / "portals").mkdir(parents=True)
    (tmp_path / "portals" / "demo.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_profile_becomes_channels_and_polite_scrapy_settings(tmp_path: Path) -> None:
    config = load_config(write_profile(tmp_path, PROFILE), validate_probes=False)
    crawl = PortalCrawl.from_profile(config.portal("demo"), config)
    assert [c.channel for c in crawl.channels] == ["portal", "dept:gongan", "mobile"]
    assert crawl.channels[0].extra_seeds == ("https://www.example.gov.cn/bsfw/list",)
    assert crawl.channel_for("https://www.example.gov.cn/dept/gongan/item?id=1").channel == "dept:gongan"
    assert crawl.channel_for("https://www.example.gov.cn/dept/other.html").channel == "portal"
    assert crawl.channel_for("https://m.example.gov.cn/h5/detail?idx=2").channel == "mobile"
    assert crawl.channel_for("https://www.gov.cn/") is None
    assert crawl.elements.element_for("窗口时间") == "办理时间"
    settings = crawl.scrapy_settings(tmp_path / "job")
    # no politeness in the profile: settings.yaml's (1 request at a time, 1 s, robots, AutoThrottle)
    assert settings["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert settings["DOWNLOAD_DELAY"] == 1.0
    assert settings["ROBOTSTXT_OBEY"] is True
    assert settings["AUTOTHROTTLE_ENABLED"] is True
    assert settings["USER_AGENT"].startswith("zwaudit/")
    assert settings["JOBDIR"] == str(tmp_path / "job")


def test_a_crawl_limited_to_channels_leaves_the_others_to_no_channel(tmp_path: Path) -> None:
    config = load_config(write_profile(tmp_path, PROFILE), validate_probes=False)
    crawl = PortalCrawl.from_profile(config.portal("demo"), config)
    portal = crawl.only(["portal"])
    assert [c.channel for c in portal.crawled_channels] == ["portal"]
    assert portal.channel_for("https://www.example.gov.cn/bsfw/item?id=1").channel == "portal"
    # a department site in a folder of the portal's host stays the department's, and is skipped
    assert portal.channel_for("https://www.example.gov.cn/dept/gongan/item?id=1") is None
    assert portal.channel_for("https://m.example.gov.cn/h5/detail?idx=2") is None
    assert [c.channel for c in crawl.only(["dept", "mobile"]).crawled_channels] == ["dept:gongan", "mobile"]
    assert [c.channel for c in crawl.only(["dept:gongan"]).crawled_channels] == ["dept:gongan"]
    assert crawl.crawled_channels == crawl.channels
    with pytest.raises(UsageError, match=r"demo: no channel 'dept:nope' \(channels: dept, dept:gongan"):
        crawl.only(["dept:nope"])


def test_unknown_crawl_api_key_is_a_config_error(tmp_path: Path) -> None:
    config = load_config(
        write_profile(tmp_path, PROFILE.replace("field_aliases", "fields")), validate_probes=False
    )
    with pytest.raises(ConfigError, match=r"demo.yaml: crawl.api.fields: unknown key"):
        PortalCrawl.from_profile(config.portal("demo"), config)


def test_retry_after_parsing() -> None:
    assert parse_retry_after(b"7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(utcnow().replace(microsecond=0), usegmt=True)
    parsed = parse_retry_after(later)
    assert parsed is not None and 0.0 <= parsed <= 1.0


def test_cookie_challenge_is_recognised_and_content_is_not() -> None:
    challenge = (
        "<html><head><script>document.cookie='clr=1.2; path=/';location.reload();</script></head>"
        "<body>正在进行安全验证，请稍候……</body></html>"
    )
    response = HtmlResponse("https://h/", status=521, body=challenge.encode(), encoding="utf-8")
    assert looks_like_challenge(response)
    page = (
        "<html><body><h1>办事指南</h1>"
        + "<p>内容</p>" * 100
        + "<script>document.cookie='a=1'</script></body></html>"
    )
    assert not looks_like_challenge(HtmlResponse("https://h/", body=page.encode(), encoding="utf-8"))


def test_jobdir_after_a_kill_is_discarded_and_after_a_clean_stop_resumed(tmp_path: Path) -> None:
    job = tmp_path / "job"
    assert prepare_jobdir(job) == "new"
    job.mkdir()
    (job / "requests.seen").write_text("x")
    assert prepare_jobdir(job) == "restart"
    assert not job.exists()
    job.mkdir()
    (job / CLEAN_MARKER).write_text("shutdown")
    assert prepare_jobdir(job) == "resume"
    assert job.exists() and not (job / CLEAN_MARKER).exists()


def test_cli_crawl_prints_counts_per_channel(tmp_path: Path) -> None:
    site = CrawlSite().start()
    try:
        config_dir = site.write_config(tmp_path / "config")
        db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
        result = CliRunner().invoke(
            cli, ["--config", str(config_dir), "--db", db, "crawl", "--portal", "site"]
        )
    finally:
        site.stop()
    assert result.exit_code == 0, result.output
    assert "site" in result.output
    assert "dept:gongan=1, mobile=3, portal=4" in result.output
    bad = CliRunner().invoke(cli, ["--config", str(config_dir), "--db", db, "crawl", "--portal", "nope"])
    assert bad.exit_code == 2
    assert "unknown portal 'nope'" in bad.output


def test_a_script_drawn_login_page_answering_200_is_no_challenge() -> None:
    """Issue 13, class 3: a small login page whose script sets a cookie and moves on is content."""
    page = (
        "<html><head><title>统一身份认证</title></head><body><div id='app'></div><script>"
        "document.cookie='lang=zh; path=/';if(!window.ok){window.location.href='/login#/pwd';}"
        "</script></body></html>"
    )
    assert not looks_like_challenge(
        HtmlResponse("https://h/login", status=200, body=page.encode(), encoding="utf-8")
    )
    # the same page answering 521 is the challenge it looks like
    assert looks_like_challenge(
        HtmlResponse("https://h/login", status=521, body=page.encode(), encoding="utf-8")
    )


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        ("DownloadTimeoutError('Getting u took longer than 1.5 seconds.')", "timeout"),
        ("ResponseDataLossError()", "network"),
        ("DownloadFailedError('Connection lost')", "network"),
        ("DownloadCancelledError()", "too_large"),
        ("DownloadConnectionRefusedError('refused')", "connection"),
        ("CannotResolveHostError('no such host')", "dns"),
        ("IgnoreRequest('Ignored response because its body exceeded DOWNLOAD_MAXSIZE')", "too_large"),
        ("IgnoreRequest('max redirections reached')", "redirect_loop"),
        ("IgnoreRequest('Forbidden by robots.txt')", "robots_disallowed"),
        ("EgressRefused('egress_refused: 10.0.0.1 is a private address')", "egress_refused"),
        ("RedirectLoop('redirect_loop: /a redirects back to /a')", "redirect_loop"),
    ],
)
def test_download_failures_get_their_precise_kind(exc: str, kind: str) -> None:
    """A timeout is never ``internal`` and a reset mid-body is ``network`` (issue 16)."""
    from scrapy import exceptions as sx
    from twisted.python.failure import Failure

    from crawler import network
    from crawler.rows import error_kind

    scope = {**vars(sx), "EgressRefused": network.EgressRefused, "RedirectLoop": network.RedirectLoop}
    assert error_kind(Failure(eval(exc, scope)))[0] == kind


def test_the_pipeline_writes_a_batch_when_full_or_when_it_has_waited_long_enough(tmp_path: Path) -> None:
    """A polite crawl of a slow portal reads a batch in minutes: rows must not wait for it."""
    url = f"sqlite:///{tmp_path / 'p.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    sf = session_factory(engine)
    portal = PortalProfile.model_validate({"id": "p", "name": "门户p", "home_url": "https://p.example/"})
    run_id = start_run(sf, "crawl", portals=[portal])

    def page(n: int) -> dict[str, object]:
        row = {"run_id": run_id, "portal_id": "p", "url": f"https://p.example/{n}", "channel": "portal"}
        return {"kind": "page", "row": {**row, "status_code": 200, "depth": 1, "fetched_at": utcnow()}}

    def stored() -> int:
        with sf() as s:
            return int(s.scalar(select(func.count()).select_from(models.CrawledPage)) or 0)

    pipeline = StoragePipeline(url, batch_size=3, flush_s=3600)
    pipeline.open_spider()
    pipeline.process_item(page(1))
    pipeline.process_item(page(2))
    assert stored() == 0  # neither full nor old
    pipeline.process_item(page(3))
    assert stored() == 3  # full
    pipeline.flushed_at -= 3600  # an hour since the last write
    pipeline.process_item(page(4))
    assert stored() == 4
    pipeline.process_item(page(5))
    pipeline.close_spider()
    assert stored() == 5
    engine.dispose()


def test_a_page_whose_rendering_failed_in_the_same_batch_keeps_the_error() -> None:
    """The pipeline merges the rows of one page as the database does across batches
    (test_storage: a page read again that failed)."""
    from crawler.pipelines import merged_page

    fetched = {"url": "u", "status_code": 200, "error": None, "depth": 2}
    failed = {
        "url": "u",
        "status_code": None,
        "error": "timeout: rendering u took longer than 120 s",
        "depth": 2,
    }
    assert merged_page(fetched, failed) == {**fetched, "error": failed["error"]}
    assert merged_page(failed, fetched) == failed  # the error is not lost to the row it came after
    shallower = {**fetched, "depth": 1}
    assert merged_page(failed, shallower) == shallower  # fewer clicks: as before
    placeholder = {"url": "u", "status_code": None, "error": None, "depth": 1}
    assert merged_page(placeholder, fetched) == fetched
    assert merged_page(fetched, placeholder) == fetched


def test_a_rendered_page_is_bounded_by_network_page_timeout_s(tmp_path: Path) -> None:
    """settings.yaml network.page_timeout_s reaches the crawl (crawler.runaway), 120 s unset."""
    config = load_config(write_profile(tmp_path, PROFILE), validate_probes=False)
    crawl = PortalCrawl.from_profile(config.portal("demo"), config)
    assert crawl.scrapy_settings(None)["ZWAUDIT_PAGE_TIMEOUT"] == 120.0
    (tmp_path / "settings.yaml").write_text("network:\n  page_timeout_s: 7\n", encoding="utf-8")
    config = load_config(tmp_path, validate_probes=False)
    assert (
        PortalCrawl.from_profile(config.portal("demo"), config).scrapy_settings(None)["ZWAUDIT_PAGE_TIMEOUT"]
        == 7.0
    )
