"""auth_https: does the unified login (统一身份认证) protect the password in transit?

Observe (:mod:`probes.auth.observe`): from the home page, click the 登录 entry, follow redirects
across hosts to the password form, type dummy credentials and intercept (and abort) the
submission. Judge (:mod:`probes.auth.judge`): ``login_page_http``, ``form_posts_http``,
``mixed_content``, ``certificate_invalid`` (Python's ``ssl`` against the profile's CA bundle, not
the browser), ``hsts_missing`` — one finding per (target, code), one ``pass`` when compliant.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AnyHttpUrl, Field

from probes.auth.judge import AuthObservation, judge_auth
from probes.auth.observe import AuthSettings, observe_login
from probes.common.navigation import Manners
from zwaudit.checks import CheckContext, CheckOptions, Observation, Requires, TwoPhaseCheck
from zwaudit.findings import Finding
from zwaudit.registry import declared_codes


class AuthHttpsOptions(CheckOptions):
    """Per-portal overrides (profile key ``probes.auth_https``); all optional."""

    login_url: AnyHttpUrl | None = None  # the login page itself: skips finding the entry
    entry_selector: str | None = None  # the 登录 link/button on the home page
    submit_selector: str | None = None  # the 登录 button of the password form
    submit_wait_s: float = Field(default=3.0, gt=0, le=60)


def manners_for(ctx: CheckContext) -> Manners:
    """How this check navigates: the portal's pacer and egress guard, settings ``network``."""
    return Manners.of(ctx)


class AuthHttpsObservation(Observation):
    """The login entry followed to the password form (its URLs, form, submissions, HSTS header,
    the certificate verified in Python, the evidence files written while observing)."""

    login: AuthObservation


class AuthHttps(TwoPhaseCheck):
    name: ClassVar[str] = "auth_https"
    version: ClassVar[str] = "1.0.0"
    codes: ClassVar[frozenset[str]] = declared_codes("auth_https")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.BROWSER
    Options: ClassVar[type[CheckOptions]] = AuthHttpsOptions
    observation_type: ClassVar[type[Observation]] = AuthHttpsObservation

    async def observe(self, ctx: CheckContext) -> AuthHttpsObservation:
        options = ctx.options
        assert isinstance(options, AuthHttpsOptions)
        if ctx.browser_context is None:
            raise RuntimeError("auth_https needs a browser context")
        settings = AuthSettings(
            home_url=str(ctx.portal.home_url),
            login_url=str(options.login_url) if options.login_url else None,
            entry_selector=options.entry_selector,
            submit_selector=options.submit_selector,
            ca_bundle=ctx.portal.ca_bundle,
            submit_wait_s=options.submit_wait_s,
        )
        context = await ctx.browser_context()
        return AuthHttpsObservation(
            login=await observe_login(context, settings, ctx.evidence, manners_for(ctx))
        )

    def judge(self, observation: AuthHttpsObservation, rules: object) -> list[Finding]:
        return judge_auth(observation.login)
