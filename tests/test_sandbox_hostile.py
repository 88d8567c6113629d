"""sbx-xian, the hostile province, over plain HTTP: every hostile behaviour does what it claims.

The province runs with shortened delays and small floods (``xian_hostile.configure``), in its own
sandbox (it is opt-in: the default sandbox never starts it).
"""

from __future__ import annotations

import json
import ssl
import time
import zlib
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import server
from sandbox.provinces import xian, xian_hostile
from sandbox.server import Sandbox
from sandbox.web.reqlog import read
from zwaudit.config.loader import load_config
from zwaudit.outcomes import ErrorKind
from zwaudit.secrets import Secrets

SHORT = {
    "first_byte_delay_s": 1.5,
    "drip_interval_s": 0.05,
    "drip_bytes": 20,
    "bomb_inflated_mib": 64,
    "huge_page_mib": 3,
    "flood_links": 500,
    "retry_after_s": 2,
    "retry_after_date_s": 3,
    "hang_s": 5,
}


@pytest.fixture(scope="module")
def xf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    xian_hostile.configure(**SHORT)
    sb = server.start([xian.ID], base_port=0, directory=tmp_path_factory.mktemp("xian"))
    try:
        yield sb
    finally:
        sb.stop()
        xian_hostile.configure()


def _client(sb: Sandbox, **kw: Any) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(sb.ca_bundle))
    return httpx.Client(verify=ctx, timeout=kw.pop("timeout", 10), follow_redirects=False, **kw)


def _url(sb: Sandbox, site: str, path: str) -> str:
    return sb.urls[xian.ID][site] + path


def test_opt_in_and_its_port_block() -> None:
    assert xian.ID not in server.default_provinces()
    assert server.province_index(xian.ID) == 9
    listeners = server._listeners(xian.ID, 9, 28000)
    assert listeners["portal"].port == 28180 and listeners["dept:mzt"].port == 28187
    assert {listeners[s].port for s in xian.EXTRA_SITES} == set(range(28188, 28194))
    assert max(lst.port for lst in listeners.values()) < 28200


def test_robots_crawl_delay_and_disallowed_links_visible_and_hidden(xf: Sandbox) -> None:
    with _client(xf) as c:
        robots = c.get(_url(xf, "portal", "/robots.txt")).text
        home = c.get(_url(xf, "portal", "/xf/index")).text
        internal = c.get(_url(xf, "portal", "/internal/report"))
    assert "Crawl-delay: 2" in robots and "Disallow: /admin/" in robots and "Disallow: /internal/" in robots
    assert 'href="/internal/report">内部统计' in home
    assert '<a href="/admin/console" style="display:none">' in home
    assert internal.status_code == 200  # only robots.txt forbids it: a polite client never asks
    assert "alert(" in home and "window.open('/survey/popup'" in home


def test_tarpit_first_byte_and_drip(xf: Sandbox) -> None:
    with _client(xf, timeout=0.5) as c, pytest.raises(httpx.ReadTimeout):
        c.get(_url(xf, "tarpit", "/slow/first-byte"))
    with _client(xf, timeout=5) as c:
        t = time.monotonic()
        assert c.get(_url(xf, "tarpit", "/slow/first-byte")).status_code == 200
        assert time.monotonic() - t >= SHORT["first_byte_delay_s"] - 0.05
        t = time.monotonic()
        body = c.get(_url(xf, "tarpit", "/slow/drip")).content
        assert len(body) == SHORT["drip_bytes"] and time.monotonic() - t >= 0.8


def test_reset_mid_body_and_refused_port(xf: Sandbox) -> None:
    with _client(xf) as c:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            c.get(_url(xf, "reset", "/wsbs/apply?item=x"))
        with pytest.raises(httpx.ConnectError):
            c.get(_url(xf, "refused", "/login"))


def test_redirect_loop_and_thirty_hop_chain(xf: Sandbox) -> None:
    with _client(xf) as c:
        seen = [c.get(_url(xf, "portal", "/old/bszn")).headers["location"]]
        seen.append(c.get(_url(xf, "portal", seen[0])).headers["location"])
        assert seen == ["/old/bszn/index", "/old/bszn"]
        path, hops = "/jump/30", 0
        while (r := c.get(_url(xf, "portal", path))).status_code == 302:
            path, hops = r.headers["location"], hops + 1
        assert hops == 30 and r.status_code == 200


def test_gzip_bomb_is_small_on_the_wire_and_inflates_to_its_size(xf: Sandbox) -> None:
    with _client(xf) as c, c.stream("GET", _url(xf, "portal", "/zcwj/archive")) as r:
        assert r.headers["content-encoding"] == "gzip"
        wire = b"".join(r.iter_raw())
    assert len(wire) == int(r.headers["content-length"]) < SHORT["bomb_inflated_mib"] * 2**20 / 500
    inflate = zlib.decompressobj(wbits=31)
    total = 0
    for i in range(0, len(wire), 4096):
        out = inflate.decompress(wire[i : i + 4096])
        assert not out.strip(b"\0")
        total += len(out)
    assert inflate.eof and total == SHORT["bomb_inflated_mib"] * 2**20


def test_huge_page_is_streamed_without_length_and_links_flood(xf: Sandbox) -> None:
    with _client(xf) as c:
        with c.stream("GET", _url(xf, "portal", "/zcwj/all")) as r:
            assert "content-length" not in r.headers
            size = sum(len(chunk) for chunk in r.iter_raw())
        assert size >= SHORT["huge_page_mib"] * 2**20
        links = c.get(_url(xf, "portal", "/zcwj/index")).text
        dom = c.get(_url(xf, "portal", "/hdjl/live")).text
    assert links.count('<a href="/zcwj/doc?id=') == SHORT["flood_links"]
    assert "setInterval" in dom and "appendChild" in dom


def test_traps_never_end_and_session_ids_are_fresh(xf: Sandbox) -> None:
    with _client(xf) as c:
        month = "2026-01"
        for _ in range(14):
            page = c.get(_url(xf, "portal", f"/bsrl/calendar?month={month}")).text
            nxt = page.split("month=")[-1].split('"')[0]
            assert nxt > month
            month = nxt
        assert month == "2027-03"
        a = c.get(_url(xf, "portal", "/news/list;jsessionid=X?sid=1")).text
        b = c.get(_url(xf, "portal", "/news/list;jsessionid=X?sid=1")).text
        ids = lambda text: {s.split("?")[0] for s in text.split(";jsessionid=")[1:]}  # noqa: E731
        assert ids(a) and not ids(a) & ids(b)
        v1 = c.get(_url(xf, "portal", "/zt/list?page=1")).text
        assert "v=1" in v1 and "v=2" in c.get(_url(xf, "portal", "/zt/list?page=1&v=1")).text


def test_429_with_seconds_then_503_with_a_date(xf: Sandbox) -> None:
    with _client(xf) as c:
        first = c.get(_url(xf, "portal", "/xf/search?kw=社保"))
        assert first.status_code == 429 and first.headers["retry-after"] == str(SHORT["retry_after_s"])
        again = c.get(_url(xf, "portal", "/xf/search?kw=社保"))
        assert again.status_code == 200 and "社会保险" in again.text
        assert "fetch('/api/hotwords')" in again.text and "onbeforeunload" in again.text
        busy = c.get(_url(xf, "dept:spj", "/spj/list"))
        assert busy.status_code == 503
        when = parsedate_to_datetime(busy.headers["retry-after"])
        assert 1 < when.timestamp() - time.time() <= SHORT["retry_after_date_s"] + 1
        assert c.get(_url(xf, "dept:spj", "/spj/list")).status_code == 200
    with _client(xf, timeout=0.5) as c, pytest.raises(httpx.ReadTimeout):
        c.get(_url(xf, "portal", "/api/hotwords"))


def test_tls_faults_fail_verification_and_the_portal_does_not(xf: Sandbox) -> None:
    with _client(xf) as c:
        assert c.get(_url(xf, "portal", "/xf/index")).status_code == 200
        for site, why in (
            ("tls_unknown_ca", "self-signed certificate in certificate chain"),
            ("tls_expired", "certificate has expired"),
            ("tls_mismatch", "mismatch"),
        ):
            with pytest.raises(httpx.ConnectError, match=why):
                c.get(_url(xf, site, "/"))


def test_lying_encodings_and_content_types(xf: Sandbox) -> None:
    with _client(xf) as c:
        gbk = c.get(_url(xf, "portal", "/zxgg/list"))
        assert "charset=utf-8" in gbk.headers["content-type"]
        with pytest.raises(UnicodeDecodeError):
            gbk.content.decode("utf-8")
        assert "最新公告" in gbk.content.decode("gbk")
        home = c.get(_url(xf, "portal", "/xf/index")).text
        dept = next(h for h in home.split('href="')[1:] if h.startswith("/xf/dept") and "政务服务管理局" in h)
        listing = c.get(_url(xf, "portal", dept.split('"')[0])).text
        octet = next(h for h in listing.split('href="')[1:] if h.startswith("/xf/file/")).split('"')[0]
        pdf = next(h for h in listing.split('href="')[1:] if h.startswith("/xf/pdf/")).split('"')[0]
        assert c.get(_url(xf, "portal", octet)).headers["content-type"] == "application/octet-stream"
        got = c.get(_url(xf, "portal", pdf))
        assert got.headers["content-type"] == "application/pdf" and got.content.startswith(b"%PDF-")
        nul = c.get(_url(xf, "portal", "/xf/guide/" + xian._slug(xian.plan().items[1].code))).content
        assert b"\x00" in nul
        unclosed = c.get(_url(xf, "portal", "/xf/guide/" + xian._slug(xian.plan().items[2].code))).text
        assert "</table>" not in unclosed and "</html>" not in unclosed and "办理流程" in unclosed


def test_hostile_names_are_served_escaped_and_others_data_is_not_the_account(xf: Sandbox) -> None:
    plan = xian.plan()
    with _client(xf) as c:
        home = c.get(_url(xf, "portal", "/xf/index")).text
        dept = next(h for h in home.split('href="')[1:] if "政务服务管理局" in h.split("<")[0]).split('"')[0]
        listing = c.get(_url(xf, "portal", dept)).text
    assert "<img src=x" not in listing and "&lt;img src=x onerror=" in listing
    assert "</script><script>" not in listing
    assert max(len(it.name) for it in plan.items) >= 5000
    assert any("\u202e" in it.name and "\u200b" in it.name for it in plan.items)
    config = load_config(xf.config_dir)
    personal = Secrets.for_config_dir(xf.config_dir).personal_data(config.portal(xian.ID).account)  # type: ignore[arg-type]
    guide = next(it for it in plan.items if it.name == "最低生活保障").guide.fields["受理条件"]
    assert xian.OTHERS_ID in guide and xian.OTHERS_PHONE in guide
    assert not set(personal.values()) & {xian.OTHERS_ID, xian.OTHERS_PHONE}


def test_ground_truth_declares_hostile_targets_as_errors_beside_ordinary_defects(xf: Sandbox) -> None:
    truth = xf.ground_truth(xian.ID)
    errors = [e for e in truth["expectations"] if e["status"] == "error"]
    assert len(errors) == len(xian.plan().error_targets)
    assert all(ErrorKind(e["code"]) for e in errors)
    kinds = {e["code"] for e in errors if e.get("required", True)}
    assert {
        "timeout",
        "network",
        "connection",
        "redirect_loop",
        "too_large",
        "tls",
        "egress_refused",
    } <= kinds
    targets = {e["target"] for e in errors}
    assert "http://169.254.169.254/latest/meta-data/" in targets and "http://127.0.0.1:5432/" in targets
    assert _url(xf, "tarpit", "/slow/first-byte") in targets and f"{xian.FILE_GUIDES[0]}@portal" in targets
    fails = {(e["probe"], e["code"]) for e in truth["expectations"] if e["status"] == "fail"}
    assert {
        ("search_accuracy", "imprecise"),
        ("name_masking", "name_unmasked"),
        ("duplicate_login", "second_login"),
        ("guide_completeness", "element_missing"),
        ("data_same_source", "item_missing"),
    } <= fails
    hostile = truth["notes"]["hostile"]
    assert hostile["crawl_delay_s"] == {"portal": 2.0} and hostile["trap_bound"] == xian.TRAP_BOUND


def test_request_log_records_every_request_with_time_site_and_tag(xf: Sandbox) -> None:
    since = time.time()
    with _client(xf) as c:
        c.get(_url(xf, "portal", "/bsrl/calendar?month=2030-01"), headers={"Sec-Fetch-Dest": "document"})
        c.get(_url(xf, "portal", "/xf/search?kw=结婚"))
        c.get(_url(xf, "portal", "/admin/console"))
    asked = ("/bsrl/calendar", "/xf/search", "/admin/console")
    # only this test's requests: an earlier test's client may still be reading the portal
    rows = [
        r
        for r in read(xf.directory / "requests" / f"{xian.ID}.jsonl", since - 0.01)
        if r.path.startswith(asked)
    ]
    assert [(r.site, r.tag) for r in rows] == [
        ("portal", "trap:calendar"),
        ("portal", "rate_limit:429"),
        ("portal", "disallowed"),
    ]
    assert rows[0].dest == "document" and rows[0].is_page and rows[1].retry_after == SHORT["retry_after_s"]
    assert rows[0].t <= rows[1].t <= rows[2].t and rows[1].status == 429
    log = (xf.directory / "requests" / f"{xian.ID}.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["t"] > 0 for line in log)
    counts = json.loads((xf.directory / "requests" / f"{xian.ID}.counts.json").read_text(encoding="utf-8"))
    assert counts["trap:calendar"] >= 1 and counts["disallowed"] >= 1


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZWAUDIT_SBX_XIAN_FIRST_BYTE_DELAY_S", "0.5")
    monkeypatch.setenv("ZWAUDIT_SBX_XIAN_FLOOD_LINKS", "7")
    s = xian_hostile.from_env()
    assert s.first_byte_delay_s == 0.5 and s.flood_links == 7 and s.huge_page_mib == 300
    assert xian_hostile.Settings().first_byte_delay_s == 90.0


def test_hostile_counters_on_a_stored_run_read_the_log_export_report_and_database(
    xf: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plumbing of calibrate's counters: a run whose findings carry the hostile names (the
    export must neutralise, the report escape) and, once, the account's full name (found)."""
    from zwaudit.app.calibration_hostile import hostile_counters
    from zwaudit.db import store
    from zwaudit.db.engine import make_engine, session_factory, upgrade
    from zwaudit.findings import Finding
    from zwaudit.outcomes import Status

    monkeypatch.setenv("ZWAUDIT_EVIDENCE", str(tmp_path / "evidence"))
    engine = make_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    upgrade(engine)
    sf = session_factory(engine)
    config = load_config(xf.config_dir)
    run_id = store.start_run(sf, "calibrate", portals=[config.portal(xian.ID)])
    names = [it.name for it in xian.plan().items if it.synthetic and it.code.startswith("SBX-XF")]
    findings = [
        Finding("guide_completeness", n, Status.FAIL, "element_missing", {"name": n, "missing": [n]})
        for n in names
    ]
    findings.append(Finding("guide_completeness", "leak@portal", Status.PASS, None, {"shown": "赵一帆"}))
    store.replace_findings(sf, run_id, xian.ID, "guide_completeness", "1", findings)
    since = time.time()
    with _client(xf) as c:
        c.get(_url(xf, "portal", "/internal/report"))
        c.get(_url(xf, "portal", "/xf/search?kw=开公司"))
        c.get(_url(xf, "portal", "/xf/search?kw=开公司"))  # at once: Retry-After ignored
    notes = xf.ground_truth(xian.ID)["notes"]["hostile"]
    log = tmp_path / "run.log"
    log.write_text("nothing personal here\n", encoding="utf-8")
    counters = hostile_counters(
        config, sf, xian.ID, run_id, notes, xf.directory, (since, time.time()), tmp_path, log
    )
    engine.dispose()
    assert counters.disallowed_requests == 1 and counters.retry_after_violations == 1
    assert counters.csv_unneutralised == 0 and counters.report_unescaped == 0
    assert counters.personal_data["database"] == 1 and counters.personal_data["log"] == 0
    assert counters.personal_data["csv"] == 0  # the export re-redacts the account's data
    report = (tmp_path / f"report-{xian.ID}" / "index.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=" in report or "&#34;" in report  # the names reached the report
    assert "'=HYPERLINK(" in (tmp_path / f"{xian.ID}.csv").read_text(encoding="utf-8-sig")


@pytest.mark.browser
def test_browser_hostility_alert_popup_and_the_two_login_entries(xf: Sandbox) -> None:
    """In real Chromium: alert() on the home page, the real 登录 opens a survey pop-up while the
    page goes on to the unified login, the other 登录 leads to a refused port."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian chromium not installed")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from zwaudit.browser import LAUNCH_ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=list(LAUNCH_ARGS), headless=True)
        try:
            page = browser.new_context(ignore_https_errors=True).new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(_url(xf, "portal", "/xf/index"))
            assert dialogs == ["欢迎访问险峰省政务服务网"]
            logins = page.get_by_role("link", name="登录", exact=True)
            assert logins.count() == 2
            assert logins.nth(0).get_attribute("href") == _url(xf, "refused", "/login")
            with page.expect_popup() as popup:
                logins.nth(1).click()
            assert popup.value.url.endswith("/survey/popup")
            page.wait_for_url("**/sso/login?**", timeout=10_000)
            assert page.locator("input[type=password]").count() == 1
            with pytest.raises(PlaywrightError, match="ERR_CONNECTION_REFUSED"):
                page.goto(_url(xf, "refused", "/login"))
        finally:
            browser.close()
