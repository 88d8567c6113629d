"""duplicate_login: do department systems accept the unified login, or ask to log in / register?

Observe: log in on the portal, find services' online-handling links (在线办理 / 网上申报 …) through
the portal's own pages (or ``entry_urls`` / the profile's ``departments`` as override and
fallback; script-bound lists are clicked, listed departments named on a page are followed first:
:mod:`probes.common.discovery`), walking until every department system the profile lists has an entry or the page
budget (``max_pages``) is spent, follow a sample — one entry per department system first — and
record what a person sees on arrival (forms, the logout control, where the user's name shows and
in which form — never the name itself; a masked screenshot and the page text as evidence).

Judge (pure, on the stored :class:`DuplicateLoginWalk`): a registration form →
``re_registration``; a password form, or a login page on a host other than the unified
authentication → ``second_login``; the user shown as logged in (退出 / the user's name, masked or
not) with no password field → ``pass``; anything else → ``error`` (we could not tell), never a
guess. Every finding carries the coverage (systems seen in links, systems reached, departments
listed and reached); a listed department never reached is an ``error`` (element_not_found, "not
reached"), never silently absent. Without a test account the runner writes ``not_applicable``
(precondition ``test_account`` in ``config/checks.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field

from probes.common.discovery import discover
from probes.common.errors import ProbeError, classify_exception
from probes.common.evidence import masked_screenshot
from probes.common.login import LoginOptions, log_in
from probes.common.masking import load_rules, shown_forms, sightings
from probes.common.navigation import goto
from probes.common.page import has_visible_text, visible_password_fields, visible_text
from probes.common.systems import Coverage, Department, system_of
from zwaudit.checks import (
    CheckContext,
    CheckOptions,
    JudgeInput,
    Observation,
    Requires,
    TwoPhaseCheck,
)
from zwaudit.evidence import EvidenceWriter, safe_name
from zwaudit.findings import EvidenceRef, Finding, error_finding
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.registry import declarations, declared_codes
from zwaudit.targets import normalize_url

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

PROBE = "duplicate_login"
ONLINE_TEXTS = [
    "在线办理",
    "网上办理",
    "网上申报",
    "在线申报",
    "在线申请",
    "网上申请",
    "立即办理",
    "去办理",
    "我要办理",
]
LOGIN_URL_HINTS = ("login", "signin", "sign_in", "logon", "/sso", "/cas", "/auth", "denglu")

_REGISTRATION_JS = """
() => {
  const vis = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  for (const form of document.querySelectorAll('form')) {
    const pws = [...form.querySelectorAll('input[type=password]')].filter(vis);
    const labels = [...form.querySelectorAll('button, input[type=submit], input[type=button], [role=button]')]
      .filter(vis).map((b) => (b.innerText || b.value || '').replace(/\\s+/g, ''));
    const text = (form.innerText || '').replace(/\\s+/g, '');
    const register = labels.some((t) => t.includes('注册')) && !labels.some((t) => t.includes('登录'));
    if (pws.length >= 2 || (register && (pws.length >= 1 || /确认密码|设置密码|身份证号|手机号/.test(text)))) return true;
  }
  return false;
}
"""


@dataclass(frozen=True)
class Arrival:
    """What a person saw after following one online-handling link while logged in."""

    entry_url: str
    found_on: str
    final_url: str = ""
    password_form: bool = False
    registration_form: bool = False
    logged_in_sign: str | None = None  # the logout control seen (退出 …)
    title: str = ""
    error_kind: ErrorKind | None = None
    error: str = ""
    name_forms: tuple[str, ...] = ()  # the user's name on the page: "full" / "masked", per appearance
    evidence: tuple[EvidenceRef, ...] = ()  # the entry URL, final URL, screenshot, page text


@dataclass(frozen=True)
class DuplicateLoginObservation:
    """The arrivals, and the unified authentication's host they are compared with."""

    auth_host: str | None
    arrivals: tuple[Arrival, ...]


class DuplicateLoginWalk(Observation):
    """The stored observation: the login and the walk's arrivals (None: the login or the walk
    failed — ``error``), and how far the walk went (for the coverage)."""

    home_url: str
    visits: DuplicateLoginObservation | None = None
    error: ErrorKind | None = None
    error_message: str = ""
    error_stage: Literal["", "login", "discovery"] = ""
    source: str = "discovery"  # discovery, entry_urls, profile departments
    seen: tuple[str, ...] = ()  # systems of every online-handling link found (discovery)
    pages_read: int = 0
    page_budget: int = 0


@dataclass(frozen=True)
class WalkRules:
    """The profile's departments (coverage is reported over them) and what a system is."""

    listed: tuple[Department, ...]
    depth: int


def _host(url: str) -> str:
    """``host[:port]`` as normalised: sites on one machine differ by port."""
    return urlsplit(normalize_url(url)).netloc if url else ""


def looks_like_login_url(url: str, title: str) -> bool:
    path = urlsplit(url).path.lower()
    return any(h in path for h in LOGIN_URL_HINTS) or "登录" in title


def logged_in_sign(arrival: Arrival) -> str | None:
    """What shows the user logged in: the logout control, else the user's name (masked or not)."""
    return arrival.logged_in_sign or ("user name shown" if arrival.name_forms else None)


def judge_arrival(arrival: Arrival, auth_host: str | None) -> Finding:
    """The verdict on one department system entry (pure)."""
    target = normalize_url(arrival.entry_url)
    detail: dict[str, Any] = {"final_url": arrival.final_url, "found_on": arrival.found_on}
    if arrival.error_kind is not None:
        return error_finding(PROBE, target, arrival.error_kind, arrival.error, **detail)
    final_host = _host(arrival.final_url)
    detail["login_host"] = final_host
    detail["unified_auth_host"] = auth_host
    sign = logged_in_sign(arrival)
    if arrival.registration_form:
        return Finding(PROBE, target, Status.FAIL, "re_registration", detail)
    if arrival.password_form:
        detail["unified"] = auth_host is not None and final_host == auth_host
        return Finding(PROBE, target, Status.FAIL, "second_login", detail)
    if sign:
        return Finding(PROBE, target, Status.PASS, None, {**detail, "sign": sign})
    if (
        auth_host is not None
        and final_host != auth_host
        and looks_like_login_url(arrival.final_url, arrival.title)
    ):
        return Finding(
            PROBE,
            target,
            Status.FAIL,
            "second_login",
            {**detail, "unified": False, "form": "login page without password field"},
        )
    return error_finding(
        PROBE,
        target,
        ErrorKind.NOT_FOUND,
        "arrived neither logged in (no 退出 / user name) nor at a login or registration form",
        **detail,
    )


def judge(obs: DuplicateLoginObservation) -> list[Finding]:
    return [judge_arrival(a, obs.auth_host) for a in obs.arrivals]


def judge_walk(walk: DuplicateLoginWalk, rules: WalkRules) -> list[Finding]:
    """One finding per arrival, an ``error`` per listed department not reached, the coverage in
    every finding (pure)."""
    home = normalize_url(walk.home_url)
    if walk.error is not None or walk.visits is None:
        stage = {"stage": walk.error_stage} if walk.error_stage else {}
        return [error_finding(PROBE, home, walk.error or ErrorKind.INTERNAL, walk.error_message, **stage)]
    listed, depth = list(rules.listed), rules.depth
    coverage = Coverage(
        seen=set(walk.seen), pages_read=walk.pages_read, page_budget=walk.page_budget, source=walk.source
    )
    entries = [a.entry_url for a in walk.visits.arrivals]
    if not entries:
        return [
            error_finding(
                PROBE,
                home,
                ErrorKind.NOT_FOUND,
                "no online-handling links (在线办理) found on the portal; set entry_urls",
                coverage=coverage.detail(listed, depth),
            )
        ]
    coverage.visited = {system_of(u, depth) for u in entries}
    if coverage.source != "discovery":
        coverage.seen = set(coverage.visited)
    findings = judge(walk.visits) + not_reached(listed, coverage, depth)
    summary = coverage.detail(listed, depth)
    for finding in findings:
        finding.detail["coverage"] = summary
    return findings


class DuplicateLoginOptions(LoginOptions):
    entry_urls: list[str] = Field(default_factory=list)  # department entry URLs: skip discovery
    service_urls: list[str] = Field(default_factory=list)  # guide pages holding 在线办理 links
    online_texts: list[str] = Field(default_factory=lambda: list(ONLINE_TEXTS))
    sample_size: int = Field(default=12, ge=1, le=200)  # entries visited, one per system first
    max_pages: int = Field(default=40, ge=1, le=2000)  # the walk's budget: portal pages read
    system_path_depth: int = Field(default=1, ge=0, le=3)  # department system = host + N folders


class DuplicateLogin(TwoPhaseCheck):
    name: ClassVar[str] = PROBE
    version: ClassVar[str] = "2.0.0"
    codes: ClassVar[frozenset[str]] = declared_codes("duplicate_login")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.BROWSER
    logged_in: ClassVar[bool] = declarations().declared("duplicate_login").logged_in  # the saved session
    Options: ClassVar[type[CheckOptions]] = DuplicateLoginOptions
    observation_type: ClassVar[type[Observation]] = DuplicateLoginWalk

    def rules(self, where: JudgeInput) -> WalkRules:
        options = where.options
        assert isinstance(options, DuplicateLoginOptions)
        listed = tuple(Department(d.id, str(d.url)) for d in where.portal.departments)
        return WalkRules(listed, options.system_path_depth)

    async def observe(self, ctx: CheckContext) -> DuplicateLoginWalk:
        options = ctx.options
        assert isinstance(options, DuplicateLoginOptions) and ctx.browser_context is not None
        home = normalize_url(str(ctx.portal.home_url))
        context = await ctx.browser_context()
        page = await context.new_page()
        walk = DuplicateLoginWalk(home_url=home, page_budget=options.max_pages)
        stage: Literal["login", "discovery"] = "login"
        try:
            state = await log_in(page, ctx, options)
            stage = "discovery"
            entries: list[tuple[str, str]] = [
                (u, "probes.duplicate_login.entry_urls") for u in options.entry_urls
            ]
            walk = walk.model_copy(update={"source": "entry_urls"})
            if not entries:
                found = await discover(
                    page,
                    ctx,
                    options.service_urls,
                    options.online_texts,
                    options.sample_size,
                    options.max_pages,
                    options.system_path_depth,
                )
                entries = found.entries
                walk = walk.model_copy(
                    update={
                        "seen": tuple(sorted(found.systems_seen)),
                        "pages_read": found.pages_read,
                        "source": "discovery",
                    }
                )
            if not entries:
                entries = [(str(d.url), "profile departments") for d in ctx.portal.departments][
                    : options.sample_size
                ]
                walk = walk.model_copy(update={"source": "profile departments"})
        except Exception as exc:
            c = classify_exception(exc)
            return walk.model_copy(
                update={
                    "error": c.kind,
                    "error_message": ctx.evidence.redact(c.message),
                    "error_stage": stage,
                }
            )
        finally:
            await page.close()
        personal = dict(ctx.extra.get("personal", {}))
        arrivals = [await visit(context, ctx, options, url, found_on, personal) for url, found_on in entries]
        return walk.model_copy(update={"visits": DuplicateLoginObservation(state.auth_host, tuple(arrivals))})

    def judge(self, observation: DuplicateLoginWalk, rules: WalkRules) -> list[Finding]:
        return judge_walk(observation, rules)

    def document(
        self, findings: list[Finding], observation: DuplicateLoginWalk, evidence: EvidenceWriter
    ) -> None:
        """Each arrival's evidence (written while observing) on its finding."""
        if observation.error is None and observation.visits is not None and observation.visits.arrivals:
            for finding, arrival in zip(findings, observation.visits.arrivals, strict=False):
                finding.evidence = list(arrival.evidence)


def not_reached(listed: list[Department], coverage: Coverage, depth: int) -> list[Finding]:
    """An ``error`` for each department of the profile whose system no sampled entry reached."""
    _, missed = coverage.departments(listed, depth)
    where = (
        f"{coverage.pages_read} of at most {coverage.page_budget} portal pages read"
        if coverage.source == "discovery"
        else f"entries from {coverage.source}"
    )
    return [
        error_finding(
            PROBE,
            normalize_url(d.url),
            ErrorKind.NOT_FOUND,
            f"not reached: no online-handling link into department system {d.id!r} was found ({where}); "
            "raise max_pages or set service_urls / entry_urls",
            department=d.id,
        )
        for d in listed
        if d.id in missed
    ]


def name_forms(text: str, personal: dict[str, str], ctx: CheckContext) -> tuple[str, ...]:
    """How the user's name appears in ``text`` (``full`` / ``masked`` per appearance), never the name."""
    name = personal.get("name")
    if not name:
        return ()
    return tuple(s.form for s in sightings("name", name, text, load_rules(ctx.extra["config"])))


async def visit(
    context: BrowserContext,
    ctx: CheckContext,
    options: DuplicateLoginOptions,
    url: str,
    found_on: str,
    personal: dict[str, str],
) -> Arrival:
    """Open ``url`` in a fresh tab of the logged-in context and record what is shown (and its
    evidence)."""
    page = await context.new_page()
    entry = ctx.evidence.url(url)
    try:
        try:
            await goto(page, urljoin(str(ctx.portal.home_url), url), ctx, settle_ms=options.settle_ms)
        except Exception as exc:
            c = classify_exception(exc)
            return Arrival(
                url,
                found_on,
                page.url,
                error_kind=c.kind,
                error=ctx.evidence.redact(c.message),
                evidence=(entry,),
            )
        text = await visible_text(page)
        title = await page.title()
        arrival = Arrival(
            entry_url=url,
            found_on=found_on,
            final_url=page.url,
            password_form=bool(await visible_password_fields(page)),
            registration_form=await _registration(page),
            logged_in_sign=await has_visible_text(page, options.logout_texts),
            title=title,
            name_forms=name_forms(text, personal, ctx),
        )
        refs = await _evidence(page, ctx, arrival, personal, text)
        return replace(arrival, evidence=(entry, *refs))
    except ProbeError as exc:
        return Arrival(url, found_on, page.url, error_kind=exc.kind, error=exc.message, evidence=(entry,))
    finally:
        await page.close()


async def _registration(page: Any) -> bool:
    for frame in page.frames:
        try:
            if await frame.evaluate(_REGISTRATION_JS):
                return True
        except Exception:
            continue
    return False


async def _evidence(
    page: Any, ctx: CheckContext, arrival: Arrival, personal: dict[str, str], text: str
) -> list[EvidenceRef]:
    """A masked screenshot and the redacted page text of one arrival."""
    stem = f"arrival-{normalize_url(arrival.entry_url)}"
    refs: list[EvidenceRef] = [ctx.evidence.url(arrival.final_url, kind="final_url")]
    forms = shown_forms(text, personal, load_rules(ctx.extra["config"]))
    shot = await masked_screenshot(page, ctx.evidence, stem, forms)
    if shot is not None:
        refs.append(shot)
    refs.append(
        ctx.evidence.text(
            "dom_excerpt", f"{safe_name(stem)}.txt", f"URL: {arrival.final_url}\n\n{text[:4000]}\n"
        )
    )
    return refs
