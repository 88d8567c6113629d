"""The contract every check implements (one-phase ``run``, or two-phase ``observe``/``judge``:
:class:`TwoPhaseCheck`), and the registry that finds them.

One check, one module, one entry in ``config/checks.yaml`` (name → ``module:Class``): the core
never imports ``probes`` or ``crawler`` directly, so adding a check touches one new file and one
config line. A check *observes* (browser, HTTP or stored crawl snapshots) and *judges* with a pure
function; only the observation needs the network.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from zwaudit.errors import ConfigError
from zwaudit.findings import Finding
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.targets import item_target, normalize_url

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext
    from sqlalchemy.orm import Session, sessionmaker

    from zwaudit.config.schema import PortalProfile, Settings
    from zwaudit.evidence import EvidenceWriter


class Requires(StrEnum):
    """What a check needs to observe."""

    BROWSER = "browser"  # a Playwright browser context for the portal
    CRAWL = "crawl"  # the service-item snapshots and crawled pages of this run
    HTTP = "http"  # plain HTTP only


class Precondition(StrEnum):
    """What a check may need before it observes (declared in ``config/checks.yaml``)."""

    TEST_ACCOUNT = "test_account"  # the profile has a test account
    PERSONAL_DATA = "personal_data"  # the account gives the field a code is about (requires_personal)
    PORTAL_CATALOGUE = "portal_catalogue"  # the crawl stored portal items for this run


class CheckOptions(BaseModel):
    """Base for a check's per-portal options (``probes.<name>`` in a profile). Unknown keys fail."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class CheckContext:
    """Everything a check may use for one portal in one run."""

    run_id: int
    portal: PortalProfile
    options: CheckOptions
    settings: Settings
    evidence: EvidenceWriter
    session_factory: sessionmaker[Session] | None = None
    browser_context: Callable[[], Awaitable[BrowserContext]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: for a check that reads this run's catalogue (``reads_catalogue = True``; None when the run
    #: has no crawl to wait for): awaited after the check's last use of the browser and before it
    #: reads the catalogue (``probes.search_accuracy.load_catalogue`` does), it returns once this
    #: run's crawl has stored the portal's items or stopped: "" when this run's catalogue may be
    #: read, else why not (the portal's spider was cut at its deadline or the crawl failed: what
    #: it stored is a part at most). When the portal deadline comes first it raises TimeoutError
    #: (the check is ``error``/``timeout``). Meanwhile the portal's slot and
    #: browser contexts are given up, and the time waited is not taken from the check's own time
    #: limit. So the check's browser work runs while the crawl does, and only its reading waits.
    catalogue_ready: Callable[[], Awaitable[str]] | None = None


@runtime_checkable
class Check(Protocol):
    """A check: ``name``, ``version`` and its closed set of reason ``codes`` are class attributes."""

    name: ClassVar[str]
    version: ClassVar[str]
    codes: ClassVar[frozenset[str]]
    requires: ClassVar[Requires]
    Options: ClassVar[type[CheckOptions]]

    async def run(self, ctx: CheckContext) -> list[Finding]:
        """Observe the portal and return the judged findings (``error`` ones included)."""
        ...


class Observation(BaseModel):
    """What a two-phase check saw: a typed record, JSON-serialisable (``model_dump_json``) and
    read back with ``model_validate_json``. The runner stores it, redacted as evidence is, as
    ``observation.json`` beside the check's evidence; ``zwaudit rejudge`` judges it again."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class JudgeInput:
    """What a judge's rules are made from: the config (its data files), the portal's profile and
    the check's options for it. Reading them is the runner's job, not the judge's."""

    config: Any
    portal: PortalProfile
    options: CheckOptions


class TwoPhaseCheck:
    """Base of a check split in two: :meth:`observe` does all the I/O and returns an
    :class:`Observation`; :meth:`judge` is pure (no I/O, no clock, no browser, no database).

    The runner (:class:`zwaudit.app.check_runner.PortalCheckRunner`) calls ``observe``, stores the
    observation, reads it back, builds the rules (:meth:`rules`), judges, then lets
    :meth:`document` attach evidence derived from the observation (URLs, excerpts). ``run`` does
    the same without storing, for callers that want findings only (tests, one-phase callers).
    """

    observation_type: ClassVar[type[Observation]]

    async def observe(self, ctx: CheckContext) -> Observation:
        raise NotImplementedError

    def subject(self, where: JudgeInput, observation: Any | None) -> str:
        """The target of a finding about the check as a whole (an unmet precondition): the home
        page by default; ``observation`` is None before observing."""
        return normalize_url(str(where.portal.home_url))

    def rules(self, where: JudgeInput) -> Any:
        """The rules the judge applies (default: the options); may read the config's data files."""
        return where.options

    def judge(self, observation: Any, rules: Any) -> list[Finding]:
        raise NotImplementedError

    def document(self, findings: list[Finding], observation: Any, evidence: EvidenceWriter) -> None:
        """Attach evidence derived from the observation to ``findings`` (default: none)."""

    async def run(self, ctx: CheckContext) -> list[Finding]:
        """Preconditions, observe, judge, document — as the runner does, nothing stored."""
        where = judge_input(ctx)
        facts = facts_of(ctx.portal, ctx.session_factory, ctx.run_id, ctx.extra.get("personal"))
        unmet = unmet_preconditions(getattr(self, "name", ""), facts)
        if unmet.skip:
            return unmet.findings(self.subject(where, None))
        observation = await self.observe(ctx)
        findings = self.judge(observation, self.rules(where))
        self.document(findings, observation, ctx.evidence)
        if unmet.codes:
            findings = unmet.findings(self.subject(where, observation)) + findings
        return findings


def is_two_phase(cls: type[Any]) -> bool:
    """Whether ``cls`` follows the observe/judge contract (a :class:`TwoPhaseCheck`)."""
    return isinstance(cls, type) and issubclass(cls, TwoPhaseCheck)


def judge_input(ctx: CheckContext) -> JudgeInput:
    """The rules' inputs of a live check: the run's config (``extra["config"]``, else the default
    directory), its portal and options."""
    config = ctx.extra.get("config")
    if config is None:
        from zwaudit.config import load_config  # the config loader imports this module

        config = load_config(validate_probes=False)
    return JudgeInput(config=config, portal=ctx.portal, options=ctx.options)


# A check that reads data files of the config (keywords.yaml, guide_elements.yaml …) may define
# ``check_data(config) -> None`` as a classmethod: it parses them as ``run`` will and raises
# :class:`~zwaudit.errors.ConfigError` naming the file and key. :func:`validate_data_files` calls
# it when the config loads, so a malformed file is one line and exit 2 before any portal is
# visited, never an error finding per portal (or, worse, a check that silently judges nothing).
def validate_data_files(config: Any) -> None:
    """Run every registered check's ``check_data`` hook on ``config``."""
    for name in sorted(config.check_registry):
        hook = getattr(config.check_class(name), "check_data", None)
        if callable(hook):
            hook(config)


def load_check_class(name: str, dotted: str, source: Path) -> type[Check]:
    """Import ``module:Class`` for check ``name``; a bad entry is a config error naming the key."""
    module_name, _, attr = dotted.partition(":")
    if not module_name or not attr:
        raise ConfigError(source, name, f"expected 'module:Class', got {dotted!r}")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(source, name, f"cannot load {dotted!r}: {exc}") from exc
    if getattr(cls, "name", None) != name:
        raise ConfigError(source, name, f"{dotted} declares name {getattr(cls, 'name', None)!r}")
    return cls  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Facts:
    """What the preconditions are decided on, for one portal in one run: whether the profile has a
    test account, which personal fields it gives (names only, never values), and whether the
    run's crawl stored portal items (None: unknown, e.g. no database — not held against it)."""

    account: bool
    personal_fields: frozenset[str] = frozenset()
    catalogue: Callable[[], bool | None] = lambda: None


@dataclass(frozen=True)
class Unmet:
    """The preconditions of one check that do not hold: the check-wide ones (nothing is observed)
    and the codes whose personal field is not configured (the rest is observed and judged)."""

    check: str
    check_wide: tuple[str, ...] = ()
    codes: dict[str, str] = field(default_factory=dict)  # code → personal field missing
    all_codes: frozenset[str] = frozenset()

    @property
    def skip(self) -> bool:
        """Whether nothing is left to observe (a check-wide one, or every code unmet)."""
        return bool(self.check_wide) or (bool(self.codes) and set(self.codes) >= self.all_codes)

    def findings(self, subject: str) -> list[Finding]:
        """The findings the runner writes for them (``not_applicable`` or ``error``), in order."""
        from zwaudit.registry import declarations

        table = declarations().preconditions
        if self.check_wide:
            name = self.check_wide[0]
            spec = table[name]
            target = item_target("catalogue", "portal") if spec.target == "catalogue" else subject
            if spec.unmet == "error":
                detail = {"error": spec.reason, "precondition": name}
                return [
                    Finding(self.check, target, Status.ERROR, ErrorKind(str(spec.error_kind)).value, detail)
                ]
            codes = self.codes or {}
            if codes:  # one per code about a personal field, as the per-field ones below
                return [
                    Finding(self.check, target, Status.NOT_APPLICABLE, code, _na(name, spec.reason, f))
                    for code, f in codes.items()
                ]
            return [Finding(self.check, target, Status.NOT_APPLICABLE, None, _na(name, spec.reason, None))]
        spec = table[Precondition.PERSONAL_DATA]
        return [
            Finding(
                self.check,
                subject,
                Status.NOT_APPLICABLE,
                code,
                _na(Precondition.PERSONAL_DATA, spec.reason, f),
            )
            for code, f in self.codes.items()
        ]


def _na(precondition: str, reason: str, personal_field: str | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"precondition": str(precondition), "reason": reason}
    if personal_field is not None:
        detail["field"] = personal_field
    return detail


def unmet_preconditions(check: str, facts: Facts) -> Unmet:
    """Which of check ``check``'s declared preconditions (``config/checks.yaml``) ``facts`` do
    not meet. A check the project does not declare has none."""
    from zwaudit.registry import declarations

    spec = declarations().check(check)
    if spec is None or not spec.declared:
        return Unmet(check)
    check_wide: list[str] = []
    for name in spec.preconditions:
        no_account = name == Precondition.TEST_ACCOUNT and not facts.account
        if no_account or (name == Precondition.PORTAL_CATALOGUE and facts.catalogue() is False):
            check_wide.append(name)
    personal: dict[str, str] = {
        code: str(c.requires_personal)
        for code, c in spec.codes.items()
        if c.requires_personal and (not facts.account or c.requires_personal not in facts.personal_fields)
    }
    return Unmet(check, tuple(check_wide), personal, spec.code_names)


PERSONAL_FIELDS = ("name", "id_number", "phone")


def facts_of(
    portal: PortalProfile,
    session_factory: sessionmaker[Session] | None,
    run_id: int,
    personal: Mapping[str, str] | None = None,
) -> Facts:
    """The facts of one portal in run ``run_id``: its profile's test account and personal fields
    (``personal``: the resolved values, of which only the non-empty names count; else the fields
    the profile gives), and whether the run's crawl stored portal items (asked when needed)."""
    account = portal.account
    if personal is not None:
        fields = frozenset(k for k, v in personal.items() if v and k in PERSONAL_FIELDS)
    else:
        fields = frozenset(
            f for f in PERSONAL_FIELDS if account is not None and getattr(account, f) is not None
        )

    def catalogue() -> bool | None:
        if session_factory is None:
            return None
        from zwaudit.db.store import has_items  # the store imports the config, which imports this

        return has_items(session_factory, run_id, portal.id)

    return Facts(account=account is not None, personal_fields=fields, catalogue=catalogue)
