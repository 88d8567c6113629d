"""The contract every check implements (one-phase ``run``, or two-phase ``observe``/``judge``:
:class:`TwoPhaseCheck`), and the registry that finds them.

One check, one module, one entry in ``config/checks.yaml`` (name → ``module:Class``): the core
never imports ``probes`` or ``crawler`` directly, so adding a check touches one new file and one
config line. A check *observes* (browser, HTTP or stored crawl snapshots) and *judges* with a pure
function; only the observation needs the network.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from zwaudit.errors import ConfigError
from zwaudit.findings import Finding

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

    def rules(self, where: JudgeInput) -> Any:
        """The rules the judge applies (default: the options); may read the config's data files."""
        return where.options

    def judge(self, observation: Any, rules: Any) -> list[Finding]:
        raise NotImplementedError

    def document(self, findings: list[Finding], observation: Any, evidence: EvidenceWriter) -> None:
        """Attach evidence derived from the observation to ``findings`` (default: none)."""

    async def run(self, ctx: CheckContext) -> list[Finding]:
        observation = await self.observe(ctx)
        findings = self.judge(observation, self.rules(judge_input(ctx)))
        self.document(findings, observation, ctx.evidence)
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
