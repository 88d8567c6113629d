"""Typed schemas of the configuration files.

Every model forbids unknown keys so that a typo is an error, not a silently ignored setting.
Secrets (passwords, the test account's personal data) are references to an environment variable
or to a key of the permission-restricted secrets file, never literal values in a profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(Strict):
    """Where a secret comes from: ``{env: VAR}`` or ``{secret: key}`` (the secrets file)."""

    env: str | None = None
    secret: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, value: Any) -> Any:
        if isinstance(value, str | int | float):
            raise ValueError(
                "literal secrets are not allowed; use {env: VARIABLE} or {secret: key} "
                "(a key of the 0600 secrets file)"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.secret is None):
            raise ValueError("give exactly one of 'env' or 'secret'")
        return self


class Account(Strict):
    """The portal's test account. Personal data is kept so probes can find it unmasked."""

    username: SecretRef
    password: SecretRef | None = None
    name: SecretRef | None = None
    id_number: SecretRef | None = None
    phone: SecretRef | None = None
    session_file: Path | None = None  # a saved browser session (``zwaudit login``)


class DepartmentSite(Strict):
    """A department system or site reached from the portal."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    url: AnyHttpUrl
    catalogue_url: AnyHttpUrl | None = None


class MobileChannel(Strict):
    """The mobile H5 channel (the App's web view)."""

    url: AnyHttpUrl
    catalogue_url: AnyHttpUrl | None = None


class Politeness(Strict):
    """How gently zwaudit treats a portal: these are public services."""

    concurrency_per_host: int = Field(default=1, ge=1, le=2)
    delay_seconds: float = Field(default=1.0, ge=0)
    obey_robots: bool = True
    autothrottle: bool = True
    # hosts this portal reaches beyond its own URLs that other portals share (a unified login):
    # in a fleet, one job at a time per host holds for these too (``host:port`` or ``host``)
    shared_hosts: list[str] = Field(default_factory=list)


class ClickDiscovery(Strict):
    """How the crawler clicks a rendered page's script-bound controls (:mod:`crawler.clicks`)."""

    max_clicks: int = Field(default=40, ge=0)  # per rendered page; 0 turns clicking off
    budget_s: float = Field(default=15.0, gt=0)  # per rendered page
    # controls whose text is one of these actions are never clicked (a short text that starts
    # or ends with one: 退出登录, 立即提交); None keeps the default list
    never_click: list[str] | None = None


class CrawlProfile(Strict):
    """Where the catalogue crawler starts and how far it goes (all optional: zero-config first)."""

    start_urls: list[AnyHttpUrl] = Field(default_factory=list)
    catalogue_url: AnyHttpUrl | None = None
    api: dict[str, Any] = Field(default_factory=dict)
    render: bool | None = None  # force (True) or forbid (False) the browser; None = detect
    max_pages: int = Field(default=5000, ge=1)
    max_depth: int = Field(default=6, ge=1)
    clicks: ClickDiscovery = Field(default_factory=ClickDiscovery)
    # a single-page app's routes (hash or history) are drawn in the tab holding the app once it
    # has shown the same text both ways (crawler.routes); false loads every route afresh
    routes_in_place: bool = True


class Egress(Strict):
    """Where, beyond its own hosts, zwaudit may go from this portal (``zwaudit.net.egress``)."""

    # domains (``gov.cn``: the host and every host under it) or exact origins
    # (``https://127.0.0.1:28002``: that host and port only, loopback/private addresses included)
    allow: list[str] = Field(default_factory=list)


class Deadlines(Strict):
    """A portal's own time limits (profile key ``deadlines``); a key left out takes the value of
    ``settings.audit`` (``check_timeout_s``, ``portal_deadline_s``, ``crawl_timeout_s``)."""

    check_s: float | None = Field(default=None, gt=0)
    portal_s: float | None = Field(default=None, gt=0)
    crawl_s: float | None = Field(default=None, gt=0)


class PortalProfile(Strict):
    """One audited portal. Only ``id``, ``name`` and ``home_url`` are required."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    home_url: AnyHttpUrl
    province: str | None = None
    level: Literal["province", "city", "department", "county"] = "province"
    ca_bundle: Path | None = None
    account: Account | None = None
    departments: list[DepartmentSite] = Field(default_factory=list)
    mobile: MobileChannel | None = None
    politeness: Politeness = Field(default_factory=Politeness)
    crawl: CrawlProfile = Field(default_factory=CrawlProfile)
    egress: Egress = Field(default_factory=Egress)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    probes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    source_file: Path | None = Field(default=None, exclude=True)

    @field_validator("departments")
    @classmethod
    def _unique_departments(cls, value: list[DepartmentSite]) -> list[DepartmentSite]:
        ids = [d.id for d in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate department ids: {', '.join(dupes)}")
        return value


class BrowserSettings(Strict):
    executable_path: Path | None = Path("/usr/bin/chromium")
    headless: bool = True
    navigation_timeout_s: float = Field(default=30.0, gt=0)
    block_resources: list[str] = Field(default_factory=lambda: ["image", "media", "font"])
    # one response of a page past this (as decoded: a gzip bomb counts inflated) stops the page:
    # too_large (probes.common.caps); 0 = no cap
    max_response_mib: float = Field(default=20.0, ge=0)
    max_dom_nodes: int = Field(default=150_000, ge=0)  # elements in a loaded page; 0 = no cap


class AuditSettings(Strict):
    portal_concurrency: int = Field(default=4, ge=1, le=64)
    check_timeout_s: float = Field(default=600.0, gt=0)  # one check on one portal
    # the browser and HTTP checks of one portal, from its first check: what is unfinished then is
    # error/timeout and the run goes on (zwaudit.deadlines)
    portal_deadline_s: float = Field(default=3600.0, gt=0)
    # one portal's crawl (Scrapy's CLOSESPIDER_TIMEOUT); its crawl checks are then error/timeout
    crawl_timeout_s: float = Field(default=7200.0, gt=0)


class NetworkSettings(Strict):
    """Bounds on what one portal can make zwaudit do (``settings.yaml`` ``network:``)."""

    download_maxsize_mib: float = Field(default=20.0, gt=0)  # decompressed size included
    download_warnsize_mib: float = Field(default=8.0, gt=0)
    download_timeout_s: float = Field(default=30.0, gt=0)
    retry_after_max_s: float = Field(default=120.0, ge=0)  # a longer Retry-After: rate_limited
    retry_after_times: int = Field(default=4, ge=0)
    max_redirects: int = Field(default=10, ge=1)  # more hops: redirect_loop
    trap_bound: int = Field(default=10, ge=1)  # barren look-alike pages followed in a row
    challenge_wait_s: float = Field(default=10.0, gt=0)  # a browser challenge may take this long
    # a rendered page of the crawl (navigation, waits, click discovery, reading) is abandoned
    # after this as a timeout (crawler.runaway); above navigation 30 + networkidle 30 + clicks 15
    page_timeout_s: float = Field(default=120.0, gt=0)


class QueueSettings(Strict):
    """The fleet (``queue:`` in settings.yaml; with a PostgreSQL database it makes ``nightly``
    distribute its jobs to ``zwaudit worker`` processes, see docs/deployment.md)."""

    evidence: Literal["database", "filesystem"] = "database"  # where workers leave evidence files
    heartbeat_s: float = Field(default=10.0, gt=0)  # how often a worker says it is alive
    stalled_after_s: float = Field(default=60.0, gt=0)  # a silent worker's jobs are retried after this
    poll_s: float = Field(default=2.0, gt=0)  # how often the coordinator looks at the queue


class Settings(Strict):
    """Global settings (``settings.yaml``)."""

    user_agent: str = "zwaudit/0.1 (+government service audit; polite crawler)"
    browser: BrowserSettings = Field(default_factory=BrowserSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    politeness: Politeness = Field(default_factory=Politeness)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    webhook_url: AnyHttpUrl | None = None
    checks: list[str] = Field(default_factory=list)  # the checks a plain ``audit`` runs; [] = all
    queue: QueueSettings | None = None  # set: nightly on PostgreSQL runs as a fleet
