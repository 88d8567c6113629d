"""Logging in as the test account, and finding the user centre, the way a person would.

Order of preference: a saved session (``zwaudit login``; captcha and SMS were done by a person),
else the profile's credentials typed into the password form found behind the visible 登录 entry.
A captcha on that form without a saved session is an ``error`` (``captcha``), never a verdict.

The host of the page holding the password form is the portal's *unified authentication* host;
it is remembered per portal (``LoginState``) so ``duplicate_login`` can tell a department's own
login from the unified one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from pydantic import Field

from probes.common.errors import ProbeError, classify_exception
from probes.common.masking import MaskingRules, MaskStyle, find_masked, find_unmasked
from probes.common.navigation import goto, settle
from probes.common.page import find_clickables, has_visible_text, visible_password_fields, visible_text
from zwaudit.checks import CheckContext, CheckOptions
from zwaudit.errors import ConfigError
from zwaudit.outcomes import ErrorKind
from zwaudit.sessions import name_signs
from zwaudit.targets import normalize_url

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

log = logging.getLogger("probes.login")

LOGIN_TEXTS = ["个人登录", "个人用户登录", "统一身份认证", "用户登录", "登录", "登 录", "Login", "Sign in"]
USER_CENTRE_TEXTS = [
    "用户中心",
    "个人中心",
    "我的空间",
    "个人空间",
    "个人主页",
    "账户中心",
    "账号中心",
    "我的",
]
LOGOUT_TEXTS = ["退出登录", "安全退出", "注销", "退出", "Logout", "Sign out"]
CAPTCHA_HINTS = re.compile(
    r"验证码|校验码|captcha|verif(y|ication)[-_ ]?code|vcode|yzm|checkcode|randcode", re.I
)
SUBMIT_TEXTS = ["登录", "登 录", "立即登录", "Login", "Sign in", "提交"]


class LoginOptions(CheckOptions):
    """Overrides for portals that defeat the login heuristics (all optional)."""

    login_url: str | None = None  # the page with the password form (skips the 登录 entry search)
    user_centre_url: str | None = None  # skips the 用户中心 link search
    username_selector: str | None = None
    password_selector: str | None = None
    submit_selector: str | None = None
    login_texts: list[str] = Field(default_factory=lambda: list(LOGIN_TEXTS))
    user_centre_texts: list[str] = Field(default_factory=lambda: list(USER_CENTRE_TEXTS))
    logout_texts: list[str] = Field(default_factory=lambda: list(LOGOUT_TEXTS))
    settle_ms: int = Field(default=5000, ge=0, le=60000)  # longest wait for the network to go idle


@dataclass
class LoginState:
    """How this portal's session was obtained, shared by the logged-in checks of one audit."""

    via: str  # "session" or "password"
    auth_url: str | None = None  # the page that held the unified-login password form
    user_centre_url: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def auth_host(self) -> str | None:
        """``host[:port]`` of the unified login (normalised; sites on one machine differ by port)."""
        return urlsplit(normalize_url(self.auth_url)).netloc if self.auth_url else None


async def is_logged_in(page: Page, options: LoginOptions, name: str | None = None) -> bool:
    """A person would say "logged in": no password field, and a logout control or their own
    name (in full or masked, e.g. 陈*国) is shown."""
    if await visible_password_fields(page):
        return False
    if await has_visible_text(page, options.logout_texts) is not None:
        return True
    if not name or not name_signs(name):
        return False
    return shows_name(await visible_text(page), name)


def shows_name(text: str, name: str) -> bool:
    """Whether ``text`` shows ``name`` in full or in a masked rendering aligned with it."""
    rules = MaskingRules("*＊●•·×", {"name": (MaskStyle(first=1),)})
    return bool(find_unmasked("name", name, text) or find_masked("name", name, text, rules))


async def follow(page: Page, texts: list[str], ctx: CheckContext, settle_ms: int) -> str | None:
    """Follow the best visible link or button among ``texts``; returns the text followed.

    A link that leads nowhere (a refused port, a reset, an error page) is passed over for the
    next candidate, as a person would go back and try the other 登录; if every one does, the last
    error is raised."""
    base = page.url
    dead_end: ProbeError | None = None
    for candidate in (await find_clickables(page, texts))[:3]:
        href = candidate.navigable_href
        if href:
            try:
                await goto(page, urljoin(base, href), ctx, settle_ms=settle_ms)
            except ProbeError as exc:
                if exc.kind not in _DEAD_ENDS:
                    raise
                dead_end = exc
                continue
            return candidate.text
        if dead_end is not None:  # the page is on the dead end's error page: back first
            await goto(page, base, ctx, settle_ms=settle_ms)
        try:
            async with page.context.expect_page(timeout=3000) as popup:
                await candidate.locator().click()
            new = await popup.value
            await new.wait_for_load_state("load")
            url = new.url
            await new.close()
            await goto(page, url, ctx, settle_ms=settle_ms)
            return candidate.text
        except Exception:
            await settle(page, settle_ms)  # a click that navigated in place, or opened a panel
            return candidate.text
    if dead_end is not None:
        raise dead_end
    return None


_DEAD_ENDS = frozenset(
    {
        ErrorKind.CONNECTION,
        ErrorKind.NETWORK,
        ErrorKind.DNS,
        ErrorKind.TLS,
        ErrorKind.HTTP_STATUS,
        ErrorKind.TIMEOUT,
        ErrorKind.EGRESS_REFUSED,
    }
)


async def open_login_form(page: Page, ctx: CheckContext, options: LoginOptions) -> None:
    """Bring ``page`` to a visible password form (the override URL, else via the 登录 entry)."""
    if options.login_url:
        await goto(page, options.login_url, ctx, settle_ms=options.settle_ms)
    else:
        await goto(page, str(ctx.portal.home_url), ctx, settle_ms=options.settle_ms)
        if (
            not await visible_password_fields(page)
            and await follow(page, options.login_texts, ctx, options.settle_ms) is None
        ):
            raise ProbeError(
                ErrorKind.NOT_FOUND,
                "no visible login entry (登录) on the home page; set probes.<check>.login_url",
            )
    if not await visible_password_fields(page):
        # a login page with tabs (个人 / 法人, 密码登录 / 扫码登录) may need one more click
        await follow(
            page, ["个人登录", "个人用户", "密码登录", "账号登录", "账号密码登录"], ctx, options.settle_ms
        )
    if not await visible_password_fields(page):
        raise ProbeError(ErrorKind.NOT_FOUND, f"no password form at {page.url}; set probes.<check>.login_url")


async def _username_field(password: Locator) -> Locator:
    """The text-like input before the password field in the same form."""
    form = password.locator("xpath=ancestor::form[1]")
    scope = (
        form
        if await form.count()
        else password.locator(
            "xpath=ancestor::*[.//input[@type='text' or @type='tel' or @type='email' or not(@type)]][1]"
        )
    )
    inputs = scope.locator("input[type=text], input[type=tel], input[type=email], input:not([type])")
    for i in range(await inputs.count()):
        field = inputs.nth(i)
        if not await field.is_visible():
            continue
        hint = " ".join(
            filter(None, [await field.get_attribute(a) for a in ("name", "id", "placeholder", "aria-label")])
        )
        if CAPTCHA_HINTS.search(hint):
            continue
        return field
    raise ProbeError(
        ErrorKind.NOT_FOUND, "no username field next to the password field; set username_selector"
    )


async def captcha_field(password: Locator) -> Locator | None:
    """A visible captcha input in the password's form (labels, names, placeholders, images)."""
    form = password.locator("xpath=ancestor::form[1]")
    if not await form.count():
        return None
    inputs = form.locator("input:not([type=hidden]):not([type=password])")
    for i in range(await inputs.count()):
        field = inputs.nth(i)
        if not await field.is_visible():
            continue
        hints: list[str] = [
            h
            for h in [await field.get_attribute(a) for a in ("name", "id", "placeholder", "aria-label")]
            if h
        ]
        field_id = await field.get_attribute("id")
        if field_id:
            label = form.locator(f'label[for="{field_id}"]')
            if await label.count():
                hints.append(await label.first.inner_text())
        if CAPTCHA_HINTS.search(" ".join(hints)):
            return field
    return None


async def submit_credentials(
    page: Page, username: str, password: str, options: LoginOptions, *, captcha_answer: Any = None
) -> None:
    """Fill and submit the password form. ``captcha_answer`` (async callable of the page) is only
    given by the calibration stand-in for a person; without it a captcha is an ``error``."""
    pw_field = (
        page.locator(options.password_selector).first
        if options.password_selector
        else (await visible_password_fields(page))[0]
    )
    user_field = (
        page.locator(options.username_selector).first
        if options.username_selector
        else await _username_field(pw_field)
    )
    captcha = await captcha_field(pw_field)
    if captcha is not None:
        if captcha_answer is None:
            raise ProbeError(
                ErrorKind.CAPTCHA, f"the login form at {page.url} asks for a captcha; run: zwaudit login"
            )
        await captcha.fill(await captcha_answer(page))
    await user_field.fill(username)
    await pw_field.fill(password)
    if options.submit_selector:
        button: Locator | None = page.locator(options.submit_selector).first
    else:
        form = pw_field.locator("xpath=ancestor::form[1]")
        buttons = (
            form.locator("button, input[type=submit], input[type=button], [role=button]")
            if await form.count()
            else None
        )
        button = None
        if buttons is not None:
            for i in range(await buttons.count()):
                b = buttons.nth(i)
                label = ((await b.inner_text()) or (await b.get_attribute("value")) or "").replace(" ", "")
                if await b.is_visible() and (
                    any(t.replace(" ", "") in label for t in SUBMIT_TEXTS)
                    or await b.get_attribute("type") == "submit"
                ):
                    button = b
                    break
    try:
        async with page.expect_navigation(wait_until="load", timeout=20000):
            if button is not None:
                await button.click()
            else:
                await pw_field.press("Enter")
    except Exception as exc:
        c = classify_exception(exc)
        if c.kind is not ErrorKind.TIMEOUT:
            raise ProbeError(c.kind, c.message) from exc
    await settle(page, options.settle_ms)


def credentials(ctx: CheckContext) -> tuple[str, str] | None:
    """The account's username and password, or None when the profile has no password."""
    account = ctx.portal.account
    if account is None or account.password is None:
        return None
    secrets = ctx.extra["secrets"]
    where = str(ctx.portal.source_file or ctx.portal.id)
    try:
        return secrets.resolve(account.username, where=where), secrets.resolve(account.password, where=where)
    except ConfigError as exc:
        raise ProbeError(ErrorKind.CONFIG, str(exc)) from exc


async def _logged_in_somewhere(
    page: Page, ctx: CheckContext, options: LoginOptions, name: str | None, urls: list[str]
) -> bool:
    """Whether one of ``urls`` (or the user centre linked from it) shows us logged in."""
    for url in dict.fromkeys(u for u in urls if u):
        await goto(page, url, ctx, settle_ms=options.settle_ms)
        if await is_logged_in(page, options, name):
            return True
        # a header showing neither 退出 nor the name: the user centre it links to will
        if await follow(page, options.user_centre_texts, ctx, options.settle_ms) and await is_logged_in(
            page, options, name
        ):
            return True
    return False


async def log_in(
    page: Page, ctx: CheckContext, options: LoginOptions, *, captcha_answer: Any = None
) -> LoginState:
    """A logged-in ``page`` (on whatever page login ended), reusing a saved session when valid."""
    shared: dict[str, LoginState] = ctx.extra.setdefault("login_state", {})
    state = shared.get("state")
    meta: dict[str, Any] | None = ctx.extra.get("session_meta")
    home = str(ctx.portal.home_url)
    name = ctx.extra.get("personal", {}).get("name")
    if state is not None or meta is not None:
        known = meta or {}
        urls = [
            options.user_centre_url or "",
            state.user_centre_url or "" if state else "",
            known.get("saved_from") or "",
            home,
        ]
        if await _logged_in_somewhere(page, ctx, options, name, urls):
            if state is None:
                state = LoginState("session", auth_url=known.get("auth_url"))
                shared["state"] = state
            return state
        log.info("saved session for %s is not logged in any more; logging in again", ctx.portal.id)
    creds = credentials(ctx)
    if creds is None:
        raise ProbeError(
            ErrorKind.LOGIN_FAILED,
            "no valid saved session and no password in the profile; run: zwaudit login",
        )
    try:
        await open_login_form(page, ctx, options)
    except ProbeError as exc:
        # the unified login may remember us and hand a ticket straight back (SSO): logged in
        if exc.kind is ErrorKind.NOT_FOUND and await is_logged_in(page, options, name):
            state = state or LoginState("session", auth_url=(meta or {}).get("auth_url"))
            shared["state"] = state
            return state
        raise
    auth_url = page.url
    await submit_credentials(page, *creds, options, captcha_answer=captcha_answer)
    if await visible_password_fields(page):
        raise ProbeError(
            ErrorKind.LOGIN_FAILED, f"the login form at {auth_url} did not accept the test account"
        )
    if not await is_logged_in(page, options, name) and not await _logged_in_somewhere(
        page, ctx, options, name, [options.user_centre_url or "", home]
    ):
        raise ProbeError(ErrorKind.LOGIN_FAILED, "after submitting the login form no logout control is shown")
    state = LoginState("password", auth_url=auth_url)
    shared["state"] = state
    return state


async def open_user_centre(page: Page, ctx: CheckContext, options: LoginOptions, state: LoginState) -> str:
    """Navigate a logged-in ``page`` to the user centre; returns its URL."""
    url = options.user_centre_url or state.user_centre_url
    if url:
        await goto(page, url, ctx, settle_ms=options.settle_ms)
    elif await follow(page, options.user_centre_texts, ctx, options.settle_ms) is None:
        await goto(page, str(ctx.portal.home_url), ctx, settle_ms=options.settle_ms)
        if await follow(page, options.user_centre_texts, ctx, options.settle_ms) is None:
            raise ProbeError(
                ErrorKind.NOT_FOUND,
                "no visible user-centre link (用户中心 / 个人中心 / 我的); set user_centre_url",
            )
    if await visible_password_fields(page):
        raise ProbeError(ErrorKind.LOGIN_FAILED, f"the user centre {page.url} asks to log in again")
    state.user_centre_url = page.url
    return page.url
