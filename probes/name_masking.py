"""name_masking: does the user centre show the account's name, ID number or phone unmasked?

Observe (all I/O): log in (saved session, else the profile's credentials), open the user centre,
read its rendered text (with form-field values) and every JSON/XHR response it loaded, and record
where the account's values appear — each appearance a :class:`~probes.common.masking.Sighting`
(position, in full or masked, how many characters it reveals), never the characters themselves —
with the masked screenshot and the sanitised excerpts around each appearance as evidence. The
stored observation thus holds no personal data, yet is all the judge needs.

Judge (pure): a value found in full on a surface is a leak (``name_unmasked`` …, surface ``page``
or ``api`` in the detail); a masked rendering is compliant unless it reveals more than every style
in ``config/masking.yaml`` allows (so a changed style, rejudged, moves exactly the findings it
affects). A field the profile does not give is ``not_applicable``, written by the runner
(``requires_personal`` in ``config/checks.yaml``), as is the whole check without a test account.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from probes.common.errors import ProbeError, classify_exception
from probes.common.evidence import excerpt, masked_screenshot
from probes.common.login import LoginOptions, log_in, open_user_centre
from probes.common.masking import (
    FIELDS,
    MaskingRules,
    Sighting,
    find_masked,
    find_unmasked,
    load_rules,
    shown_forms,
    sightings,
)
from probes.common.page import visible_text
from zwaudit.checks import (
    CheckContext,
    CheckOptions,
    Facts,
    JudgeInput,
    Observation,
    Requires,
    TwoPhaseCheck,
    judge_input,
    unmet_preconditions,
)
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import EvidenceRef, Finding, error_finding
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.redact import mask_value
from zwaudit.registry import declarations, declared_codes
from zwaudit.targets import normalize_url

if TYPE_CHECKING:
    from playwright.async_api import Page, Response

PROBE = "name_masking"
MAX_API_BYTES = 2_000_000
MAX_SIGHTINGS = 50  # per field and surface: what is recorded (a user centre shows a name a few times)
MAX_EXCERPTS = 10  # per field and surface: excerpts written around the first sightings


# -- what the browser read (observe-time only: raw text, never stored) ---------------------------


@dataclass(frozen=True)
class Surface:
    """Text the user centre exposed: the rendered ``page`` or one ``api`` response."""

    kind: str  # page | api
    url: str
    text: str


@dataclass(frozen=True)
class MaskingObservation:
    """The user centre as read, raw text included: classified into a :class:`NameMaskingObservation`
    (:func:`record`) before anything is stored."""

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
    """Leaks of one field over all surfaces, and the compliant renderings seen (observe-time:
    what the evidence must sanitise and the screenshot paint over)."""
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


def sanitise(text: str, leaks: list[Leak], personal: dict[str, str]) -> str:
    """Replace every leaked string (also weakly masked ones the redactor would not know) by a
    compliant mask; the evidence writer's redactor then catches any full value left."""
    for lk in sorted(leaks, key=lambda x: x.start - x.end):
        leaked = lk.surface.text[lk.start : lk.end]
        if leaked:
            text = text.replace(leaked, mask_value(lk.field, personal[lk.field]))
    return text


# -- what is stored (no personal data) -----------------------------------------------------------


@dataclass(frozen=True)
class SurfaceSeen:
    """A surface as stored: its kind, URL and length (its text stays in the evidence excerpts)."""

    kind: str  # page | api
    url: str
    chars: int


@dataclass(frozen=True)
class Seen:
    """One appearance of a value on surface number ``surface``, and the sanitised excerpt written
    around it (None past :data:`MAX_EXCERPTS`)."""

    surface: int
    sighting: Sighting
    excerpt: EvidenceRef | None = None


class NameMaskingObservation(Observation):
    """The user centre as classified at observe time: where each of the account's values appeared
    and in which form, its surfaces, the evidence written; or the error that stopped the observer."""

    intended_url: str  # the user centre asked for (``user_centre_url``, else the home page)
    user_centre_url: str = ""  # where it was found
    fields: tuple[str, ...] = ()  # the personal fields looked for (names only: the account gives them)
    surfaces: tuple[SurfaceSeen, ...] = ()
    seen: tuple[Seen, ...] = ()
    screenshot: EvidenceRef | None = None
    page_excerpt: EvidenceRef | None = None
    error: ErrorKind | None = None
    error_message: str = ""
    error_url: str = ""
    error_stage: Literal["", "login", "user_centre"] = ""


def record(
    raw: MaskingObservation, personal: dict[str, str], rules: MaskingRules, intended_url: str | None = None
) -> NameMaskingObservation:
    """Classify what was read (no evidence written): what :meth:`NameMasking.observe` stores."""
    fields = tuple(f for f in FIELDS if personal.get(f))
    seen: list[Seen] = []
    for field in fields:
        for i, surface in enumerate(raw.surfaces):
            found = sightings(field, personal[field], surface.text, rules)
            full = [s for s in found if s.form == "full"][:MAX_SIGHTINGS]
            masked = [s for s in found if s.form == "masked"][:MAX_SIGHTINGS]
            seen += [Seen(i, s) for s in (*full, *masked)]
    return NameMaskingObservation(
        intended_url=intended_url or raw.user_centre_url,
        user_centre_url=raw.user_centre_url,
        fields=fields,
        surfaces=tuple(SurfaceSeen(s.kind, s.url, len(s.text)) for s in raw.surfaces),
        seen=tuple(seen),
    )


# -- judging (pure) ------------------------------------------------------------------------------


def leaks_of(obs: NameMaskingObservation, field: str, rules: MaskingRules) -> tuple[list[int], bool]:
    """The indexes (into ``obs.seen``) of ``field``'s leaks, page and in-full first, and whether a
    compliant masked rendering of it was seen."""
    mine = [(i, s) for i, s in enumerate(obs.seen) if s.sighting.field == field]
    leaks = [(i, s) for i, s in mine if s.sighting.leaks(rules)]
    leaks.sort(key=lambda p: (obs.surfaces[p[1].surface].kind != "page", p[1].sighting.form != "full"))
    return [i for i, _ in leaks], any(not s.sighting.leaks(rules) for _, s in mine)


def judge_masking(
    obs: NameMaskingObservation, rules: MaskingRules
) -> tuple[list[Finding], dict[str, list[int]]]:
    """Findings for the user centre — a fail per leaking field, one ``pass`` when none of the
    fields looked for leaked — and each fail's leaks (for :meth:`NameMasking.document`). Details
    carry no personal value."""
    if obs.error is not None:
        detail: dict[str, Any] = {"url": obs.error_url}
        if obs.error_stage:
            detail["stage"] = obs.error_stage
        return [
            error_finding(PROBE, normalize_url(obs.intended_url), obs.error, obs.error_message, **detail)
        ], {}
    target = normalize_url(obs.user_centre_url)
    findings: list[Finding] = []
    shown: dict[str, str] = {}
    leaks_by_field: dict[str, list[int]] = {}
    for field in FIELDS:
        if field not in obs.fields:
            continue  # not configured: the runner writes it not_applicable (requires_personal)
        leaks, compliant = leaks_of(obs, field, rules)
        if not leaks:
            shown[field] = "masked" if compliant else "not_shown"
            continue
        leaks_by_field[field] = leaks
        first = obs.seen[leaks[0]]
        surface = obs.surfaces[first.surface]

        def form(s: Seen) -> str:
            return "full" if s.sighting.form == "full" else "insufficiently_masked"

        detail = {
            "field": field,
            "surface": surface.kind,
            "form": form(first),
            "surfaces": sorted({obs.surfaces[obs.seen[i].surface].kind for i in leaks}),
            "locations": [
                {
                    "surface": obs.surfaces[obs.seen[i].surface].kind,
                    "url": obs.surfaces[obs.seen[i].surface].url,
                    "offset": obs.seen[i].sighting.start,
                    "form": form(obs.seen[i]),
                }
                for i in leaks[:10]
            ],
        }
        if surface.kind == "api":
            detail["api_url"] = surface.url
        code = declarations().declared(PROBE).code_for_personal(field)
        findings.append(Finding(PROBE, target, Status.FAIL, code, detail))
    if shown and not findings:
        findings.append(Finding(PROBE, target, Status.PASS, None, {"fields": shown}))
    return findings, leaks_by_field


def judge(obs: MaskingObservation, personal: dict[str, str], rules: MaskingRules) -> list[Finding]:
    """What a run concludes from what was read: recorded as :meth:`NameMasking.observe` does, the
    fields without a value ``not_applicable`` as the runner writes them, judged (for tests)."""
    recorded = record(obs, personal, rules)
    facts = Facts(account=True, personal_fields=frozenset(recorded.fields))
    unmet = unmet_preconditions(PROBE, facts)
    target = normalize_url(obs.user_centre_url)
    if unmet.skip:
        return unmet.findings(target)
    return unmet.findings(target) + judge_masking(recorded, rules)[0]


class NameMaskingOptions(LoginOptions):
    scan_api: bool = True  # also scan JSON/XHR responses of the user centre


class NameMasking(TwoPhaseCheck):
    name: ClassVar[str] = PROBE
    version: ClassVar[str] = "2.0.0"
    codes: ClassVar[frozenset[str]] = declared_codes("name_masking")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.BROWSER
    logged_in: ClassVar[bool] = declarations().declared("name_masking").logged_in  # the saved session
    Options: ClassVar[type[CheckOptions]] = NameMaskingOptions
    observation_type: ClassVar[type[Observation]] = NameMaskingObservation

    def __init__(self) -> None:
        self._leaks: dict[str, list[int]] = {}  # judge → document

    @classmethod
    def check_data(cls, config: Any) -> None:
        """masking.yaml parsed as the check will (a malformed file: ConfigError, exit 2)."""
        load_rules(config)

    def rules(self, where: JudgeInput) -> MaskingRules:
        return load_rules(where.config)

    def subject(self, where: JudgeInput, observation: Any | None) -> str:
        """The user centre: as found, else as configured, else the home page."""
        if isinstance(observation, NameMaskingObservation) and observation.user_centre_url:
            return normalize_url(observation.user_centre_url)
        options = where.options
        configured = options.user_centre_url if isinstance(options, LoginOptions) else None
        return normalize_url(configured or str(where.portal.home_url))

    async def observe(self, ctx: CheckContext) -> NameMaskingObservation:
        options = ctx.options
        assert isinstance(options, NameMaskingOptions) and ctx.browser_context is not None
        personal: dict[str, str] = dict(ctx.extra.get("personal", {}))
        rules = self.rules(judge_input(ctx))
        intended = options.user_centre_url or str(ctx.portal.home_url)
        context = await ctx.browser_context()
        page = await context.new_page()
        stage: Literal["login", "user_centre"] = "login"
        try:
            try:
                pending: list[Response] = []
                page.on("response", lambda r: pending.append(r))
                state = await log_in(page, ctx, options)
                stage = "user_centre"
                pending.clear()
                raw = await read_user_centre(page, ctx, options, state, pending)
            except Exception as exc:
                c = classify_exception(exc)
                url = page.url if page.url.startswith("http") else str(ctx.portal.home_url)
                return NameMaskingObservation(
                    intended_url=intended,
                    fields=tuple(f for f in FIELDS if personal.get(f)),
                    error=c.kind,
                    error_message=ctx.evidence.redact(c.message),
                    error_url=ctx.evidence.redact(url),
                    error_stage=stage,
                )
            return await write_evidence(
                page, ctx.evidence, record(raw, personal, rules, intended), raw, personal, rules
            )
        finally:
            await page.close()

    def judge(self, observation: NameMaskingObservation, rules: MaskingRules) -> list[Finding]:
        findings, self._leaks = judge_masking(observation, rules)
        return findings

    def document(
        self, findings: list[Finding], observation: NameMaskingObservation, evidence: EvidenceWriter
    ) -> None:
        """URL, masked screenshot and the sanitised excerpts (written while observing) of the
        pass/fail findings: for a fail, the excerpt around its first leak on each of up to three
        surfaces (and the API's URL)."""
        common: list[EvidenceRef] = (
            [evidence.url(observation.user_centre_url)] if observation.user_centre_url else []
        )
        if observation.screenshot is not None:
            common.append(observation.screenshot)
        for finding in findings:
            if finding.status is Status.PASS:
                page = [observation.page_excerpt] if observation.page_excerpt is not None else []
                finding.evidence = [*common, *page]
            elif finding.status is Status.FAIL:
                refs = list(common)
                surfaces: set[int] = set()
                for i in self._leaks.get(str(finding.detail["field"]), []):
                    seen = observation.seen[i]
                    if seen.surface in surfaces or len(surfaces) >= 3:
                        continue
                    surfaces.add(seen.surface)
                    if seen.excerpt is not None:
                        refs.append(seen.excerpt)
                    surface = observation.surfaces[seen.surface]
                    if surface.kind == "api":
                        refs.append(evidence.url(surface.url, kind="api_url"))
                finding.evidence = refs


async def read_user_centre(
    page: Page, ctx: CheckContext, options: NameMaskingOptions, state: Any, pending: list[Response]
) -> MaskingObservation:
    """Open the user centre (logged in), read its rendered text and JSON/XHR bodies."""
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


async def write_evidence(
    page: Page,
    evidence: EvidenceWriter,
    obs: NameMaskingObservation,
    raw: MaskingObservation,
    personal: dict[str, str],
    rules: MaskingRules,
) -> NameMaskingObservation:
    """The masked screenshot, the sanitised page text and an excerpt around each appearance
    (the first :data:`MAX_EXCERPTS` per field and surface), recorded in the observation.

    Sanitised with the rules as observed: every leak of every field on the surface is replaced by
    a compliant mask (the redactor then catches any full value left); the screenshot paints over
    every rendering of the account's values."""
    leaks: list[Leak] = []
    renderings: list[str] = []
    page_text = raw.surfaces[0].text if raw.surfaces else ""
    for field in obs.fields:
        found, compliant = find_leaks(raw, field, personal[field], rules)
        leaks += found
        renderings += compliant + [page_text[lk.start : lk.end] for lk in found if lk.surface.kind == "page"]
    values = [*shown_forms(page_text, personal, rules), *renderings]
    shot = await masked_screenshot(page, evidence, "user-centre", values)
    safe = sanitise(page_text, [lk for lk in leaks if lk.surface.kind == "page"], personal)
    page_ref = evidence.text("dom_excerpt", "user-centre.txt", safe[:4000])
    seen: list[Seen] = []
    written: dict[tuple[str, int], int] = {}
    for i, s in enumerate(obs.seen):
        key = (s.sighting.field, s.surface)
        if written.get(key, 0) >= MAX_EXCERPTS:
            seen.append(s)
            continue
        written[key] = written.get(key, 0) + 1
        surface = raw.surfaces[s.surface]
        same_surface = [lk for lk in leaks if lk.surface is surface]
        part = sanitise(excerpt(surface.text, s.sighting.start, s.sighting.end), same_surface, personal)
        kind = "dom_excerpt" if surface.kind == "page" else "json_excerpt"
        name = f"{s.sighting.field}-{surface.kind}-{i + 1}.txt"
        ref = evidence.text(kind, name, f"URL: {surface.url}\n\n{part}\n")
        seen.append(Seen(s.surface, s.sighting, ref))
    return obs.model_copy(update={"seen": tuple(seen), "screenshot": shot, "page_excerpt": page_ref})
