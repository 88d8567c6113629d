"""The contract every check implements, and the registry that finds them.

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
