"""Running checks on one portal: the :class:`CheckContext` every check gets, built in one place.

The orchestrator (:mod:`zwaudit.app.orchestrator`) and the probe tests use the same :class:`PortalCheckRunner`, so
a probe tested in isolation sees exactly what it sees in a run: the portal's redactor and personal
data, its browser context (with a saved login session when one exists), a polite host pacer and an
HTTP client trusting the profile's CA bundle.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import ssl
import traceback
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from zwaudit import observations
from zwaudit.browser import AuditBrowser, EgressGuard, HostPacer
from zwaudit.checks import (
    Check,
    CheckContext,
    JudgeInput,
    Requires,
    TwoPhaseCheck,
    Unmet,
    facts_of,
    is_two_phase,
    judge_input,
    unmet_preconditions,
)
from zwaudit.config.loader import Config
from zwaudit.config.schema import PortalProfile
from zwaudit.db.store import evidence_run_dir
from zwaudit.deadlines import Limits
from zwaudit.evidence import EvidenceStorageError, EvidenceWriter
from zwaudit.findings import Finding, error_finding, utcnow
from zwaudit.net.egress import EgressPolicy, EgressRefused, policy_for
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.redact import Redactor
from zwaudit.secrets import Secrets
from zwaudit.sessions import SESSION_META_KEY, load_session
from zwaudit.targets import normalize_url

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("zwaudit.app.orchestrator")


def personal_data(portal: PortalProfile, secrets: Secrets) -> dict[str, str]:
    """The account's personal values (a :class:`ConfigError` when a referenced secret is missing)."""
    if portal.account is None:
        return {}
    where = str(portal.source_file or portal.id)
    return secrets.personal_data(portal.account, where=where)


def http_client_factory(
    portal: PortalProfile, user_agent: str, timeout_s: float, egress: EgressPolicy | None = None
) -> Callable[[], httpx.AsyncClient]:
    """Clients that trust the profile's CA bundle (else the system store) and send our User-Agent;
    with ``egress``, every request (each redirect hop too) passes the portal's egress policy."""

    async def check(request: httpx.Request) -> None:
        assert egress is not None
        reason = await egress.check_async(str(request.url))
        if reason is not None:
            raise EgressRefused(str(request.url), reason)

    def make() -> httpx.AsyncClient:
        verify: ssl.SSLContext | bool = True
        if portal.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(portal.ca_bundle))
        return httpx.AsyncClient(
            verify=verify,
            headers={"User-Agent": user_agent},
            timeout=timeout_s,
            follow_redirects=True,
            event_hooks={"request": [check]} if egress is not None else None,
        )

    return make


def no_space(exc: BaseException) -> bool:
    """Whether ``exc`` says a disk is full (an ``OSError``, or the text of a browser driver's)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return "ENOSPC" in str(exc) or "No space left on device" in str(exc)


def undeclared_as_internal(cls: type[Check], finding: Finding) -> Finding:
    """A finding whose reason code its check does not declare (``cls.codes``) is a programming
    error: it is stored as an ``internal`` error naming the code, never as a verdict."""
    if finding.code is None or finding.status in (Status.ERROR, Status.PASS) or finding.code in cls.codes:
        return finding
    message = f"{cls.name} reported undeclared reason code {finding.code!r} (declared: {sorted(cls.codes)})"
    log.error(message)
    return error_finding(cls.name, finding.target, ErrorKind.INTERNAL, message)


def judge_stored(
    check: TwoPhaseCheck,
    text: str,
    where: Any,
    evidence: EvidenceWriter,
    observed_at: Any,
    unmet: Unmet | None = None,
) -> list[Finding]:
    """Judge a stored observation (the envelope's ``text``) with the rules of ``where`` (a
    :class:`~zwaudit.checks.JudgeInput`), attach the evidence it documents, put first the codes
    ``unmet`` leaves ``not_applicable``, and date the findings by the observation (a judge reads
    no clock). Used by the runner and by ``zwaudit rejudge``."""
    observation = observations.parse(text, type(check).observation_type)
    findings = check.judge(observation, check.rules(where))
    check.document(findings, observation, evidence)
    if unmet is not None and unmet.codes:
        findings = unmet.findings(check.subject(where, observation)) + findings
    for finding in findings:
        finding.observed_at = observed_at
    return findings


def wants_login(cls: type[Check]) -> bool:
    """Whether a check works logged in (class attribute ``logged_in``; default False)."""
    return bool(getattr(cls, "logged_in", False))


def reads_catalogue(cls: type[Check]) -> bool:
    """Whether a check reads the portal's catalogue (class attribute ``reads_catalogue``): it is
    run last, and while its run crawls it waits for the portal's catalogue before reading it."""
    return bool(getattr(cls, "reads_catalogue", False))


@dataclass
class _CheckLimit:
    """The running check's time limit and the message of its overrun (a wait for the catalogue
    moves the first and may change the second)."""

    message: str
    scope: asyncio.Timeout | None = None


#: per task: the browser side and the crawl side of a portal run checks at the same time
_LIMIT: ContextVar[_CheckLimit | None] = ContextVar("zwaudit_check_limit", default=None)


@dataclass(frozen=True)
class CatalogueWait:
    """How a wait for this run's catalogue ended: what the portal deadline still allows the check
    (seconds and overrun message; None: no less than before) and, when this run's crawl of the
    portal did not finish (cut at its deadline, failed), why its catalogue is not to be read."""

    budget: tuple[float, str] | None = None
    refused: str = ""


#: what the orchestrator gives a portal while its run crawls: wait for the portal's catalogue
#: (without the portal's slot) and say how the wait ended
CatalogueGate = Callable[[], Awaitable[CatalogueWait]]


class PortalCheckRunner:
    """One portal's share of an audit: its context, redactor and the checks run on it."""

    def __init__(
        self,
        config: Config,
        portal: PortalProfile,
        run_id: int,
        *,
        secrets: Secrets,
        browser: AuditBrowser | None,
        session_factory: sessionmaker[Session] | None = None,
        evidence_root: Path | None = None,
    ) -> None:
        self.config = config
        self.portal = portal
        self.run_id = run_id
        self.secrets = secrets
        self.browser = browser
        self.session_factory = session_factory
        self.evidence_root = evidence_root
        self._run_dir: str | None = None  # read from the database on first use (run_dir)
        self.personal = personal_data(portal, secrets)
        self.redactor = Redactor(self.personal)
        self.login_state: dict[str, Any] = {}  # shared by the logged-in checks of this portal
        # check name → the observation its last run stored (two-phase checks); the orchestrator
        # records it with the findings (store.replace_findings)
        self.observations: dict[str, observations.StoredObservation] = {}
        self.session_meta: dict[str, Any] | None = None
        self._contexts: dict[bool, BrowserContext] = {}  # logged_in → context
        self.catalogue_gate: CatalogueGate | None = None  # set by the orchestrator while it crawls
        self._context_lock = asyncio.Lock()
        self.egress = EgressGuard(policy_for(portal))  # one per portal, both contexts
        self._pacer = HostPacer(  # one per portal, both contexts; robots.txt Crawl-delay included
            portal.politeness.delay_seconds,
            robots=self._robots_text if portal.politeness.obey_robots else None,
            user_agent=config.settings.user_agent,
        )
        self.egress.pacer = self._pacer  # a page's clicks, pop-ups and XHRs keep Crawl-delay too

    @property
    def fallback_target(self) -> str:
        """The target of an error that happened before a check found its own targets."""
        return normalize_url(str(self.portal.home_url))

    async def browser_context(self, logged_in: bool = False) -> BrowserContext:
        """The portal's context, created on first use.

        Anonymous checks (``auth_https`` must see the 登录 entry a visitor sees) and logged-in
        checks (``logged_in = True`` on the class; they get the saved session, if any) use two
        separate contexts, so a login never changes what an anonymous check observes.
        """
        async with self._context_lock:
            context = self._contexts.get(logged_in)
            if context is None:
                if self.browser is None:
                    raise RuntimeError("this audit has no browser (no browser check was selected)")
                state = load_session(self.portal) if logged_in else None
                if state is not None:
                    self.session_meta = state.pop(SESSION_META_KEY, None) or {}
                context = await self.browser.new_context(storage_state=state, egress=self.egress)
                self._contexts[logged_in] = context
            return context

    @property
    def run_dir(self) -> str | None:
        """The run's evidence directory, read from the database on first use (the orchestrator
        builds its portal audits before it creates the run)."""
        if self._run_dir is None and self.session_factory is not None:
            self._run_dir = evidence_run_dir(self.session_factory, self.run_id)
        return self._run_dir

    def pacer(self) -> HostPacer:
        return self._pacer

    async def _robots_text(self, url: str) -> str | None:
        """A host's robots.txt for the pacer (within the egress policy; short timeout)."""
        if await self.egress.policy.check_async(url) is not None:
            return None
        settings = self.config.settings
        timeout = min(10.0, settings.browser.navigation_timeout_s)
        factory = http_client_factory(self.portal, settings.user_agent, timeout, self.egress.policy)
        async with factory() as client:
            response = await client.get(url, follow_redirects=False)
        return response.text if response.status_code == 200 else None

    def check_context(self, cls: type[Check]) -> CheckContext:
        settings = self.config.settings
        extra: dict[str, Any] = {
            "secrets": self.secrets,
            "personal": dict(self.personal),
            "redactor": self.redactor,
            "http_client": http_client_factory(
                self.portal, settings.user_agent, settings.browser.navigation_timeout_s, self.egress.policy
            ),
            "pacer": self.pacer,
            "egress": self.egress,
            "config": self.config,
            "login_state": self.login_state,
        }
        if self.session_meta is not None:
            extra["session_meta"] = self.session_meta
        return CheckContext(
            run_id=self.run_id,
            portal=self.portal,
            options=self.config.check_options(self.portal, cls.name),
            settings=settings,
            evidence=EvidenceWriter(
                self.run_id,
                self.portal.id,
                cls.name,
                self.redactor,
                root=self.evidence_root,
                run_dir=self.run_dir,
            ),
            session_factory=self.session_factory,
            browser_context=(
                functools.partial(self.browser_context, wants_login(cls))
                if cls.requires is Requires.BROWSER
                else None
            ),
            extra=extra,
            catalogue_ready=(
                self._catalogue_ready if self.catalogue_gate is not None and reads_catalogue(cls) else None
            ),
        )

    async def _catalogue_ready(self) -> str:
        """:attr:`CheckContext.catalogue_ready`: the running check's own limit stops while the
        gate waits, and resumes with what it had left (or less, when the portal deadline now
        allows less). Why this run's catalogue is not to be read ("": it is)."""
        gate, limit = self.catalogue_gate, _LIMIT.get()
        if gate is None:
            return ""
        loop = asyncio.get_running_loop()
        scope = limit.scope if limit is not None else None
        when = scope.when() if scope is not None else None
        left = None if when is None else max(0.0, when - loop.time())
        if scope is not None:
            scope.reschedule(None)  # the gate bounds its own wait, by the portal deadline
        allowed: tuple[float, str] | None = None
        try:
            ended = await gate()
            allowed = ended.budget
        finally:
            if scope is not None and limit is not None and left is not None:
                if allowed is not None and allowed[0] < left:
                    left, limit.message = allowed
                scope.reschedule(loop.time() + left)
        if allowed is not None and allowed[0] <= 0:
            if limit is not None:
                limit.message = allowed[1]
            # the portal deadline came first: this run's catalogue may be half stored, read nothing
            raise TimeoutError(allowed[1])
        return ended.refused

    async def run_check(
        self, name: str, timeout: float | None = None, overrun: str | None = None
    ) -> list[Finding]:
        """Run check ``name``; a crash or overrun becomes one ``error`` finding, never a raise.

        ``timeout`` (default: the portal's check limit, :class:`zwaudit.deadlines.Limits`) bounds
        the whole check, browser set-up included; ``overrun`` is the message of its timeout finding.
        """
        cls = self.config.check_class(name)
        self.observations.pop(name, None)
        if timeout is None:
            timeout = Limits.for_portal(self.config.settings, self.portal).check_s
        limit = _CheckLimit(overrun or f"check exceeded {timeout:.0f}s")
        token = _LIMIT.set(limit)
        try:
            async with asyncio.timeout(timeout) as limit.scope:
                findings = await self._run(cls)
        except TimeoutError:
            seconds = int(timeout) if float(timeout).is_integer() else round(timeout, 1)
            return [
                error_finding(name, self.fallback_target, ErrorKind.TIMEOUT, limit.message, timeout_s=seconds)
            ]
        except EvidenceStorageError:
            raise  # the evidence disk is full or read-only: every later check would fail alike
        except Exception as exc:
            if no_space(exc):  # a screenshot Playwright could not write: the disk is full
                raise EvidenceStorageError(
                    f"evidence storage: cannot write under {self.evidence_root or 'the evidence root'}: "
                    "No space left on device"
                ) from exc
            log.error(
                "%s on %s crashed: %s",
                name,
                self.portal.id,
                "".join(traceback.format_exception_only(exc)).strip(),
                extra={"portal": self.portal.id, "probe": name},
            )
            message = self.redactor(f"{type(exc).__name__}: {exc}")[:500]
            return [error_finding(name, self.fallback_target, ErrorKind.INTERNAL, message)]
        finally:
            _LIMIT.reset(token)
        return [undeclared_as_internal(cls, f) for f in findings]

    def unmet(self, cls: type[Check]) -> Unmet:
        """The check's declared preconditions this portal and run do not meet."""
        return unmet_preconditions(
            cls.name, facts_of(self.portal, self.session_factory, self.run_id, self.personal)
        )

    async def _run(self, cls: type[Check]) -> list[Finding]:
        unmet = self.unmet(cls)
        if unmet.skip:  # nothing to observe: the runner writes not_applicable / error, not the check
            where = JudgeInput(self.config, self.portal, self.config.check_options(self.portal, cls.name))
            subject = cls().subject(where, None) if is_two_phase(cls) else self.fallback_target  # type: ignore[attr-defined]
            return unmet.findings(subject)
        needs = getattr(cls, "needs_resources", ())
        if self.browser is not None and cls.requires is Requires.BROWSER:
            context = await self.browser_context(wants_login(cls))  # first: it loads the session notes
            self.browser.allow_resources(context, needs)
        ctx = self.check_context(cls)
        try:
            if is_two_phase(cls):
                return await self._observe_and_judge(cls, ctx, unmet)  # type: ignore[arg-type]
            return await cls().run(ctx)
        finally:
            if ctx.evidence.failure is not None:  # even if the check caught it and went on
                raise ctx.evidence.failure

    async def _observe_and_judge(
        self, cls: type[TwoPhaseCheck], ctx: CheckContext, unmet: Unmet
    ) -> list[Finding]:
        """The two-phase contract: observe (all I/O), store the observation redacted beside the
        evidence, judge what was stored (so a rejudge of the same rule gives the same findings)."""
        check = cls()
        observation = await check.observe(ctx)
        observed_at = utcnow()
        name, version = getattr(cls, "name", ""), getattr(cls, "version", "")
        stored, text = observations.write(ctx.evidence, name, version, observation, observed_at)
        # recorded before judging: a judge that crashes leaves an observation a fixed judge can rejudge
        self.observations[name] = stored
        return judge_stored(check, text, judge_input(ctx), ctx.evidence, observed_at, unmet)

    async def release_contexts(self) -> None:
        """Close the portal's browser contexts; the next check opens them again (with the saved
        session, if any). A portal waiting long for something else holds no browser memory."""
        async with self._context_lock:
            contexts, self._contexts = list(self._contexts.values()), {}
        for context in contexts:
            try:
                await context.close()
            except Exception as exc:  # a browser that died already: nothing left to close
                log.debug("closing a context of %s: %s", self.portal.id, exc)

    async def close(self) -> None:
        await self.release_contexts()
        await self.egress.close()  # the portal's filtering proxy
