"""duplicate_login samples department systems, not links, and says how far it reached (issue 13, class 2)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from local_http import Reply, serve
from probe_fixtures import BrowserHarness

from probes.common.discovery import discover, spread
from probes.common.systems import Coverage, Department, reaches, system_of
from probes.duplicate_login import ONLINE_TEXTS, not_reached
from zwaudit.outcomes import Status


def test_a_system_is_the_host_and_the_application_folder() -> None:
    assert system_of("https://zwfw.gov.cn/gaj/wsbs/apply?item=1") == "zwfw.gov.cn/gaj"
    assert system_of("https://zwfw.gov.cn/gaj/wsbs/apply", 2) == "zwfw.gov.cn/gaj/wsbs"
    assert system_of("https://zwfw.gov.cn/apply.do?x=1") == "zwfw.gov.cn"
    assert system_of("https://ZWFW.gov.cn:443/mzt/a", 0) == "zwfw.gov.cn"
    assert reaches(Department("gaj", "https://zwfw.gov.cn/gaj/"), "zwfw.gov.cn/gaj", 1)
    assert not reaches(Department("gaj", "https://zwfw.gov.cn/gaj/"), "zwfw.gov.cn/mzt", 1)
    assert reaches(Department("x", "https://x.gov.cn/"), "x.gov.cn/wsbs", 1)  # a site of its own


def test_sample_takes_one_entry_per_system_first() -> None:
    entries = [(f"https://h.gov.cn/gaj/apply/{i}", "p") for i in range(6)]
    entries += [(f"https://h.gov.cn/mzt/apply/{i}", "p") for i in range(6)] + [
        ("https://h.gov.cn/rst/a/1", "p")
    ]
    sample = spread(entries, 3, key=system_of)
    assert [system_of(u) for u, _ in sample] == ["h.gov.cn/gaj", "h.gov.cn/mzt", "h.gov.cn/rst"]


def test_a_listed_department_never_reached_is_an_error_and_coverage_says_so() -> None:
    listed = [Department("gaj", "https://h.gov.cn/gaj/"), Department("zrt", "https://h.gov.cn/zrt/")]
    coverage = Coverage({"h.gov.cn/gaj", "h.gov.cn/mzt"}, {"h.gov.cn/gaj"}, pages_read=40, page_budget=40)
    [error] = not_reached(listed, coverage, 1)
    assert (error.status, error.code, error.target) == (
        Status.ERROR,
        "element_not_found",
        "https://h.gov.cn/zrt/",
    )
    assert error.detail["error"].startswith("not reached") and "40 of at most 40" in error.detail["error"]
    assert coverage.detail(listed, 1) == {
        "systems_reached": 1,
        "systems_seen_in_links": 2,
        "departments_listed": 2,
        "departments_reached": 1,
        "departments_not_reached": ["zrt"],
        "pages_read": 40,
        "page_budget": 40,
        "source": "discovery",
        "systems": ["h.gov.cn/gaj"],
    }


def _links(prefix: str, n: int) -> str:
    return "".join(f"<li>事项{i} <a href='/{prefix}/apply/{i}'>在线办理</a></li>" for i in range(n))


PAGES = {
    "/home": "<a href='/dept/a'>公安厅</a> <a href='/dept/b'>民政厅</a> <a href='/dept/c'>人力资源和社会保障厅</a>",
    # two departments with many entries each: a link-count sample would stop here
    "/dept/a": f"<ul>{_links('gaj', 8)}</ul>",
    "/dept/b": f"<ul>{_links('mzt', 8)}</ul>",
    "/dept/c": f"<ul>{_links('rst', 1)}</ul>",
}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    def respond(path: str) -> Reply:
        path = urlsplit(path).path
        body = PAGES.get(path, "<p>请登录</p>")
        return Reply(f"<html><body>{body}</body></html>".encode())

    with serve(respond) as base:
        yield base


@pytest.mark.browser
def test_the_walk_goes_on_until_every_listed_department_is_reached(
    browser_harness: BrowserHarness, site: str
) -> None:
    departments = [SimpleNamespace(id=d, url=f"{site}/{d}/") for d in ("gaj", "mzt", "rst", "zrt")]
    ctx: Any = SimpleNamespace(
        portal=SimpleNamespace(home_url=site + "/home", departments=departments),
        extra={},
        evidence=SimpleNamespace(redact=lambda text: text),
    )

    async def go() -> Any:
        context = await browser_harness.browser.new_context()
        try:
            page = await context.new_page()
            return await discover(page, ctx, [], ONLINE_TEXTS, sample_size=12, max_pages=10)
        finally:
            await context.close()

    found = browser_harness.run(go())
    host = urlsplit(site).netloc
    assert {system_of(u) for u, _ in found.entries} == {f"{host}/gaj", f"{host}/mzt", f"{host}/rst"}
    assert [system_of(u) for u, _ in found.entries[:3]] == [f"{host}/gaj", f"{host}/mzt", f"{host}/rst"]
    assert found.pages_read == 4  # zrt is linked from nowhere: the walk read every page there was
    listed = [Department(d.id, d.url) for d in departments]
    coverage = Coverage(found.systems_seen, {system_of(u) for u, _ in found.entries}, found.pages_read, 10)
    assert coverage.departments(listed, 1) == (["gaj", "mzt", "rst"], ["zrt"])
