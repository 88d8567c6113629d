"""The search observer in real Chromium on hand-made portal styles (sandbox styles: see calibration)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from probe_fixtures import BrowserHarness
from search_auth_site import RESULTS, Site, serve

from probes.search.judge import SearchObservation
from probes.search.observe import SearchSettings, SearchTab, observe_keyword

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve() as s:
        yield s


def search(harness: BrowserHarness, settings: SearchSettings, keyword: str) -> SearchObservation:
    async def go() -> SearchObservation:
        context = await harness.browser.new_context()
        try:
            return await observe_keyword(context, keyword, settings)
        finally:
            await context.close()

    return harness.run(go())


@pytest.mark.parametrize("home", ["/form", "/form-newtab", "/spa", "/framed"])
def test_reads_result_titles_not_chrome(browser_harness: BrowserHarness, site: Site, home: str) -> None:
    obs = search(browser_harness, SearchSettings(home_url=site.base + home), "低保")
    assert obs.error is None, obs.error_message
    assert [r.title for r in obs.results] == RESULTS["低保"]
    assert obs.results[0].url and obs.results[0].url.startswith(site.base)


def test_reads_clickable_cards_beside_an_icon_button(browser_harness: BrowserHarness, site: Site) -> None:
    """A component-framework app: no search word anywhere, an icon button, cards without links."""
    obs = search(browser_harness, SearchSettings(home_url=site.base + "/app"), "低保")
    assert obs.error is None, obs.error_message
    assert [r.title for r in obs.results] == RESULTS["低保"]
    assert obs.how["submit"] == "button" and set(obs.how["signals"]) == {"prompt", "button"}


@pytest.mark.parametrize(
    ("home", "message"), [("/form", "没有找到"), ("/spa", "暂无数据"), ("/app", "暂无相关事项")]
)
def test_no_results_message(browser_harness: BrowserHarness, site: Site, home: str, message: str) -> None:
    obs = search(browser_harness, SearchSettings(home_url=site.base + home), "个税")
    assert obs.error is None, obs.error_message
    assert obs.results == [] and obs.empty_message is not None and message in obs.empty_message


def test_search_url_override(browser_harness: BrowserHarness, site: Site) -> None:
    settings = SearchSettings(home_url=site.base + "/form", search_url=site.base + "/search?q={q}")
    obs = search(browser_harness, settings, "公积金")
    assert [r.title for r in obs.results] == RESULTS["公积金"] and obs.how["submit"] == "search_url"


def test_no_search_box_is_element_not_found(browser_harness: BrowserHarness, site: Site) -> None:
    obs = search(browser_harness, SearchSettings(home_url=site.base + "/login-home"), "低保")
    assert obs.error is not None and obs.error.value == "element_not_found"


def test_layout_tables_around_a_single_result_are_not_results(
    browser_harness: BrowserHarness, site: Site
) -> None:
    """One result between an unchanged header and footer table: the header's site name and the
    footer's 网站地图 are not results (they made the keyword look imprecise)."""
    obs = search(browser_harness, SearchSettings(home_url=site.base + "/tables"), "网约车")
    assert obs.error is None, obs.error_message
    assert [r.title for r in obs.results] == ["网约车车辆信息备案"]


def test_keywords_share_one_tab_until_one_ends_in_an_error(
    browser_harness: BrowserHarness, site: Site
) -> None:
    """A portal's keywords are searched one after another in one tab (each from the home page);
    a keyword that ends in an error retires the tab, and the next keyword reads its results in a
    new one just as well. A tab the portal opened for its results is closed after reading."""

    async def go() -> tuple[list[SearchObservation], list[bool], int]:
        context = await browser_harness.browser.new_context()
        tab = SearchTab(context)
        try:
            obs: list[SearchObservation] = []
            same: list[bool] = []
            previous = await tab.page()
            for home, keyword in [
                ("/form", "低保"),
                ("/form-newtab", "公积金"),
                ("/login-home", "低保"),  # no search box: element_not_found
                ("/spa", "低保"),
            ]:
                obs.append(
                    await observe_keyword(
                        context, keyword, SearchSettings(home_url=site.base + home), tab=tab
                    )
                )
                page = await tab.page()
                same.append(page is previous)
                previous = page
            return obs, same, len(context.pages)
        finally:
            await tab.retire()
            await context.close()

    obs, same, open_tabs = browser_harness.run(go())
    assert [o.error.value if o.error else None for o in obs] == [None, None, "element_not_found", None]
    assert [r.title for r in obs[0].results] == RESULTS["低保"]
    assert [r.title for r in obs[1].results] == RESULTS["公积金"]
    assert [r.title for r in obs[3].results] == RESULTS["低保"]
    assert same == [True, True, False, True]  # a new tab only after the error
    assert open_tabs == 1  # the results tab /form-newtab opened was closed


def test_a_slow_results_tab_is_waited_for_not_searched_again(
    browser_harness: BrowserHarness, site: Site
) -> None:
    """A portal that opens its results in a new tab and takes a second to answer: Playwright
    reports that tab only once the results answer, so until then Enter looked as if it did
    nothing and 搜索 sent the search a second time (twice the load on the portal, and a results
    tab left open). The results tab is waited for instead: one search, one tab left."""

    async def go() -> tuple[SearchObservation, int]:
        context = await browser_harness.browser.new_context()
        tab = SearchTab(context)
        try:
            settings = SearchSettings(home_url=site.base + "/form-newtab-slow")
            obs = await observe_keyword(context, "公积金", settings, tab=tab)
            await tab.page()
            return obs, len(context.pages)
        finally:
            await tab.retire()
            await context.close()

    before = len(site.searches)
    obs, open_tabs = browser_harness.run(go())
    assert site.searches[before:] == [("/search-slow", "公积金")]  # searched once, not again by 搜索
    assert obs.error is None, obs.error_message
    assert [r.title for r in obs.results] == RESULTS["公积金"]
    assert obs.how["submit"] == "enter"
    assert open_tabs == 1  # the results tab was read and closed; none left behind
