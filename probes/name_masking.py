"""name_masking: does the user centre show the account's name, ID number or phone unmasked?

Observe: log in (saved session, else the profile's credentials), open the user centre, keep its
rendered text (with form-field values) and every JSON/XHR response it loaded. Judge (pure): a value
found in full on a surface is a leak (``name_unmasked`` …, surface ``page`` or ``api`` in the
detail); a masked rendering is compliant unless it reveals more than every style in
``config/masking.yaml`` allows. A field the profile does not give is ``not_applicable``.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from probes.common.errors import ProbeError, classify_exception
from probes.common.evidence import excerpt, masked_screenshot
from probes.common.login import LoginOptions, log_in, open_user_centre
from probes.common.masking import FIELDS, MaskingRules, find_masked, find_unmasked, load_rules, shown_forms
from probes.common.page import visible_text
from zwaudit.checks import CheckContext, Requires
from zwaudit.findings import EvidenceRef, Finding, error_finding
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.redact import mask_value
from zwaudit.registry import declarations, declared_codes
from zwaudit.targets import normalize_url

if TYPE_CHECKING:
    from playwright.async_api import Page, Response

PROBE = "name_masking"
CODES = {"name": "name_unmasked", "id_number": "id_number_unmasked", "phone": "phone_unmasked"}
MAX_API_BYTES = 2_000_000


@dataclass(frozen=True)
class Surface:
    """Text the user centre exposed: the rendered ``page`` or one ``api`` response."""

    kind: str  # page | api
    url: str
    text: str


@dataclass(frozen=True)
class MaskingObservation:
    user_centre_url: str
    surfaces: tuple[Surface, ...]


@dataclass(frozen=True)
class Leak:
    field: str
    surface: Surface
    start: int
    end: int
    form: str  # full | insufficiently_masked


def find_leaks(
    obs: MaskingObservation, field: str, value: str, rules: MaskingRules
) -> tuple[list[Leak], list[str]]:
    """Leaks of one field over all surfaces, and the compliant renderings seen."""
    leaks: list[Leak] = []
    compliant: list[str] = []
    for surface in obs.surfaces:
        for start, end in find_unmasked(field, value, surface.text):
            leaks.append(Leak(field, surface, start, end, "full"))
        for r in find_masked(field, value, surface.text, rules):
            if r.compliant:
                compliant.append(r.text)
            else:
                leaks.append(Leak(field, surface, r.start, r.start + len(r.text), "insufficiently_masked"))
    leaks.sort(key=lambda lk: (lk.surface.kind != "page", lk.form != "full"))
    return leaks, compliant


def judge(obs: MaskingObservation, personal: dict[str, str], rules: MaskingRules) -> list[Finding]:
    """Findings for the user centre: a fail per leaking field, ``not_applicable`` per unknown
    field, and one ``pass`` when nothing leaked. Details carry no personal value."""
    target = normalize_url(obs.user_centre_url)
    findings: list[Finding] = []
    shown: dict[str, str] = {}
    for field in FIELDS:
        code = CODES[field]
        value = personal.get(field, "")
        if not value:
            findings.append(
                Finding(
                    PROBE,
                    target,
                    Status.NOT_APPLICABLE,
                    code,
                    {"field": field, "reason": f"the test account has no {field} configured"},
                )
            )
            continue
        leaks, compliant = find_leaks(obs, field, value, rules)
        if not leaks:
            shown[field] = "masked" if compliant else "not_shown"
            continue
        first = leaks[0]
        detail: dict[str, Any] = {
            "field": field,
            "surface": first.surface.kind,
            "form": first.form,
            "surfaces": sorted({lk.surface.kind for lk in leaks}),
            "locations": [
                {"surface": lk.surface.kind, "url": lk.surface.url, "offset": lk.start, "form": lk.form}
                for lk in leaks[:10]
            ],
        }
        if first.surface.kind == "api":
            detail["api_url"] = first.surface.url
        findings.append(Finding(PROBE, target, Status.FAIL, code, detail))
    if shown and not any(f.status is Status.FAIL for f in findings):
        findings.append(Finding(PROBE, target, Status.PASS, None, {"fields": shown}))
    return findings


def sanitise(text: str, leaks: list[Leak], personal: dict[str, str]) -> str:
    """Replace every leaked string (also weakly masked ones the redactor would not know) by a
    compliant mask; the evidence writer's redactor then catches any full value left."""
    for lk in sorted(leaks, key=lambda x: x.start - x.end):
        leaked = lk.surface.text[lk.start : lk.end]
        if leaked:
            text = text.replace(leaked, mask_value(lk.field, personal[lk.field]))
    return text


class NameMasking:
    name: ClassVar[str] = PROBE
    version: ClassVar[str] = "1.0.0"
    codes: ClassVar[frozenset[str]] = declared_codes("name_masking")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.BROWSER
    logged_in: ClassVar[bool] = declarations().declared("name_masking").logged_in  # the saved session

    @classmethod
    def check_data(cls, config: Any) -> None:
        """masking.yaml parsed as the check will (a malformed file: ConfigError, exit 2)."""
        load_rules(config)

    class Options(LoginOptions):
        scan_api: bool = True  # also scan JSON/XHR responses of the user centre

    async def run(self, ctx: CheckContext) -> list[Finding]:
        personal: dict[str, str] = dict(ctx.extra.get("personal", {}))
        target = (
            normalize_url(ctx.options.user_centre_url or str(ctx.portal.home_url))
            if isinstance(ctx.options, LoginOptions)
            else ""
        )
        if ctx.portal.account is None:
            return [
                Finding(
                    PROBE,
                    target,
                    Status.NOT_APPLICABLE,
                    code,
                    {"field": f, "reason": "the profile has no test account"},
                )
                for f, code in CODES.items()
            ]
        assert isinstance(ctx.options, NameMasking.Options) and ctx.browser_context is not None
        rules = load_rules(ctx.extra["config"])
        context = await ctx.browser_context()
        page = await context.new_page()
        try:
            try:
                obs = await observe(page, ctx, ctx.options)
            except Exception as exc:
                c = classify_exception(exc)
                url = page.url if page.url.startswith("http") else str(ctx.portal.home_url)
                return [
                    error_finding(
                        PROBE, target, c.kind, ctx.evidence.redact(c.message), url=ctx.evidence.redact(url)
                    )
                ]
            findings = judge(obs, personal, rules)
            await attach_evidence(page, ctx, obs, findings, personal, rules)
            return findings
        finally:
            await page.close()


async def observe(page: Page, ctx: CheckContext, options: NameMasking.Options) -> MaskingObservation:
    """Log in, open the user centre, collect its rendered text and JSON/XHR bodies."""
    pending: list[Response] = []
    page.on("response", lambda r: pending.append(r))
    state = await log_in(page, ctx, options)
    pending.clear()
    url = await open_user_centre(page, ctx, options, state)
    surfaces = [Surface("page", url, await visible_text(page))]
    if options.scan_api:
        for response in pending:
            surface = await api_surface(response)
            if surface is not None:
                surfaces.append(surface)
    if not surfaces[0].text.strip():
        raise ProbeError(ErrorKind.NOT_FOUND, f"the user centre {url} rendered no text")
    return MaskingObservation(url, tuple(surfaces))


async def api_surface(response: Response) -> Surface | None:
    """A JSON (or XHR/fetch text) response as text with ``\\uXXXX`` escapes decoded."""
    request = response.request
    ctype = (await response.all_headers()).get("content-type", "")
    if request.resource_type not in ("xhr", "fetch") and "json" not in ctype:
        return None
    if response.status >= 300 and response.status < 400:
        return None
    with contextlib.suppress(ValueError):  # a body announced past the cap is not read whole
        if int((await response.all_headers()).get("content-length", "0")) > MAX_API_BYTES * 16:
            return None
    try:
        body = await response.body()
    except Exception:  # body gone (navigation) or a redirect: nothing to scan
        return None
    if len(body) > MAX_API_BYTES:
        body = body[:MAX_API_BYTES]
    text = body.decode("utf-8", errors="replace")
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), ensure_ascii=False, indent=1)
    return Surface("api", response.url, text)


async def attach_evidence(
    page: Page,
    ctx: CheckContext,
    obs: MaskingObservation,
    findings: list[Finding],
    personal: dict[str, str],
    rules: MaskingRules,
) -> None:
    """URL, masked screenshot and redacted excerpts for the pass/fail findings."""
    judged = [f for f in findings if f.status in (Status.FAIL, Status.PASS)]
    if not judged:
        return
    all_leaks: dict[str, list[Leak]] = {}
    renderings: list[str] = []
    for field in FIELDS:
        value = personal.get(field)
        if value:
            leaks, compliant = find_leaks(obs, field, value, rules)
            all_leaks[field] = leaks
            renderings += compliant + [
                page_text(obs)[lk.start : lk.end] for lk in leaks if lk.surface.kind == "page"
            ]
    values = [*shown_forms(page_text(obs), personal, rules), *renderings]
    shot = await masked_screenshot(page, ctx.evidence, "user-centre", values)
    common: list[EvidenceRef] = [ctx.evidence.url(obs.user_centre_url)]
    if shot is not None:
        common.append(shot)
    for finding in judged:
        refs = list(common)
        if finding.status is Status.FAIL:
            field = finding.detail["field"]
            leaks = all_leaks.get(field, [])
            seen: set[tuple[str, str]] = set()
            for lk in leaks:
                key = (lk.surface.kind, lk.surface.url)
                if key in seen or len(seen) >= 3:
                    continue
                seen.add(key)
                same_surface = [x for lks in all_leaks.values() for x in lks if x.surface is lk.surface]
                part = sanitise(excerpt(lk.surface.text, lk.start, lk.end), same_surface, personal)
                kind = "dom_excerpt" if lk.surface.kind == "page" else "json_excerpt"
                name = f"{field}-{lk.surface.kind}-{len(seen)}.txt"
                refs.append(ctx.evidence.text(kind, name, f"URL: {lk.surface.url}\n\n{part}\n"))
                if lk.surface.kind == "api":
                    refs.append(ctx.evidence.url(lk.surface.url, kind="api_url"))
        else:
            safe = sanitise(
                page_text(obs),
                [x for lks in all_leaks.values() for x in lks if x.surface.kind == "page"],
                personal,
            )
            refs.append(ctx.evidence.text("dom_excerpt", "user-centre.txt", safe[:4000]))
        finding.evidence = refs


def page_text(obs: MaskingObservation) -> str:
    return obs.surfaces[0].text if obs.surfaces else ""
