"""The auth_https observer in real Chromium on a hand-made login journey (sandbox: calibration)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from probe_fixtures import BrowserHarness
from search_auth_site import Site, serve

from probes.auth.judge import AuthObservation, judge_auth
from probes.auth.observe import AuthSettings, observe_login

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve() as s:
        yield s


def observe(harness: BrowserHarness, settings: AuthSettings) -> AuthObservation:
    async def go() -> AuthObservation:
        context = await harness.browser.new_context()
        try:
            return await observe_login(context, settings)
        finally:
            await context.close()

    return harness.run(go())


@pytest.mark.parametrize("home", ["/login-home", "/app-login-home"])
def test_follows_entry_tab_and_intercepts_the_password(
    browser_harness: BrowserHarness, site: Site, home: str
) -> None:
    """登录 (a link, or a div with a script click) → 302 → QR tab → 账号密码登录; the fetch carrying
    the password is seen and aborted."""
    site.posts.clear()
    obs = observe(browser_harness, AuthSettings(home_url=site.base + home))
    assert obs.error is None, obs.error_message
    assert obs.login_url is not None and obs.login_url.startswith(site.base + "/sso/login")
    assert site.base + "/sso/entry" in obs.chain
    carried = [s for s in obs.submissions if s.carries_password]
    assert [(s.method, s.url) for s in carried] == [("POST", site.base + "/api/login")]
    assert obs.form_action is not None and obs.form_action.endswith("/sso/form-action")
    assert site.posts == []  # nothing carrying a credential reached the portal
    codes = [(f.status.value, f.code) for f in judge_auth(obs)]
    assert codes == [("fail", "login_page_http")]


def test_no_login_entry_is_element_not_found(browser_harness: BrowserHarness, site: Site) -> None:
    obs = observe(browser_harness, AuthSettings(home_url=site.base + "/spa"))
    [f] = judge_auth(obs)
    assert (f.status.value, f.code) == ("error", "element_not_found")
