"""The crawl of one portal, parsed once into a typed value (as scrapy-playwright's ``Config``).

Everything the spider, the middlewares and the pipeline need comes from here: where the channels
start, how politely to fetch (profile ``politeness`` over settings), which labels mean which guide
element, and the Scrapy settings derived from all that. Contradictions fail here, before a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.labels import GuideElements
from zwaudit.browser import LAUNCH_ARGS
from zwaudit.config import Config, PortalProfile
from zwaudit.config.schema import ClickDiscovery, NetworkSettings
from zwaudit.deadlines import Limits
from zwaudit.errors import ConfigError, UsageError
from zwaudit.net.egress import EgressPolicy, policy_for

API_KEYS = frozenset({"field_aliases"})  # crawl.api keys this crawler reads


@dataclass(frozen=True)
class ChannelStart:
    """Where one channel's crawl begins and which origins belong to it."""

    channel: str  # portal, mobile, dept:<id>
    url: str
    extra_seeds: tuple[str, ...] = ()
    department: str | None = None  # the department's name, for dept channels

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}".lower()


def launch_options(executable_path: str | None) -> dict[str, Any]:
    """How the crawl launches Chromium: the probes' flags, headless, Debian's binary when set.
    Every portal of a crawl process has the same, so they share one browser (crawler.browsers)."""
    return {
        "headless": True,
        "args": list(LAUNCH_ARGS),
        **({"executable_path": executable_path} if executable_path else {}),
    }


@dataclass(frozen=True)
class PortalCrawl:
    """One portal's crawl: channels, limits, politeness and the element vocabulary."""

    portal_id: str
    home_url: str
    channels: tuple[ChannelStart, ...]
    elements: GuideElements
    user_agent: str
    concurrency_per_host: int
    delay_seconds: float
    obey_robots: bool
    autothrottle: bool
    render: bool | None
    max_pages: int
    max_depth: int
    executable_path: str | None
    navigation_timeout_ms: int
    department_names: dict[str, str] = field(default_factory=dict)
    clicks: ClickDiscovery = field(default_factory=ClickDiscovery)
    routes_in_place: bool = True
    network: NetworkSettings = field(default_factory=NetworkSettings)
    profile: PortalProfile | None = None

    def egress_policy(self) -> EgressPolicy | None:
        """A fresh egress policy for one crawl (it learns redirect hosts as it goes)."""
        return policy_for(self.profile) if self.profile is not None else None

    timeout_s: float = 0.0  # the crawl deadline (zwaudit.deadlines); 0 = none
    skipped: frozenset[str] = frozenset()  # channels left out (:meth:`only`)

    @classmethod
    def from_profile(cls, profile: PortalProfile, config: Config) -> PortalCrawl:
        source = profile.source_file or Path(profile.id)
        unknown = set(profile.crawl.api) - API_KEYS
        if unknown:
            raise ConfigError(source, f"crawl.api.{sorted(unknown)[0]}", "unknown key")
        aliases = profile.crawl.api.get("field_aliases") or {}
        try:
            elements = GuideElements.from_data(config.read_data("guide_elements.yaml"), aliases)
        except ValueError as exc:
            raise ConfigError(source, "crawl.api.field_aliases", str(exc)) from exc
        seeds = tuple(str(u) for u in profile.crawl.start_urls)
        if profile.crawl.catalogue_url:
            seeds += (str(profile.crawl.catalogue_url),)
        channels = [ChannelStart("portal", str(profile.home_url), seeds)]
        for dept in profile.departments:
            extra = (str(dept.catalogue_url),) if dept.catalogue_url else ()
            channels.append(ChannelStart(f"dept:{dept.id}", str(dept.url), extra, dept.name))
        if profile.mobile:
            extra = (str(profile.mobile.catalogue_url),) if profile.mobile.catalogue_url else ()
            channels.append(ChannelStart("mobile", str(profile.mobile.url), extra))
        politeness = profile.politeness if "politeness" in profile.model_fields_set else None
        politeness = politeness or config.settings.politeness
        browser = config.settings.browser
        return cls(
            portal_id=profile.id,
            home_url=str(profile.home_url),
            channels=tuple(channels),
            elements=elements,
            user_agent=config.settings.user_agent,
            concurrency_per_host=politeness.concurrency_per_host,
            delay_seconds=politeness.delay_seconds,
            obey_robots=politeness.obey_robots,
            autothrottle=politeness.autothrottle,
            render=profile.crawl.render,
            max_pages=profile.crawl.max_pages,
            max_depth=profile.crawl.max_depth,
            executable_path=str(browser.executable_path) if browser.executable_path else None,
            navigation_timeout_ms=int(browser.navigation_timeout_s * 1000),
            department_names={d.id: d.name for d in profile.departments},
            clicks=profile.crawl.clicks,
            routes_in_place=profile.crawl.routes_in_place,
            network=config.settings.network,
            profile=profile,
            timeout_s=Limits.for_portal(config.settings, profile).crawl_s,
        )

    def only(self, wanted: Sequence[str]) -> PortalCrawl:
        """This crawl limited to the channels named: ``portal``, ``mobile``, ``dept`` (every
        department site) or ``dept:<id>``. The others stay known, so that a department site in a
        folder of the portal's host is still told apart from the portal, and are skipped: their
        URLs belong to no channel crawled and are not fetched. An unknown name is a
        :class:`UsageError`."""
        known = {c.channel for c in self.channels}
        for name in wanted:
            if name not in ("portal", "mobile", "dept") and name not in known:
                choices = ", ".join(sorted(known | {"dept"}))
                raise UsageError(f"{self.portal_id}: no channel {name!r} (channels: {choices})")
        skipped = frozenset(
            c.channel
            for c in self.channels
            if c.channel not in wanted and not ("dept" in wanted and c.department is not None)
        )
        return replace(self, skipped=skipped)

    @property
    def crawled_channels(self) -> tuple[ChannelStart, ...]:
        """The channels this crawl starts from (all of them unless :meth:`only` left some out)."""
        return tuple(c for c in self.channels if c.channel not in self.skipped)

    def channel_for(self, url: str) -> ChannelStart | None:
        """The channel serving ``url``: same origin, the longest start-URL folder prefix wins
        (None for a URL of no channel, or of a channel this crawl skips)."""
        lowered = url.lower()
        best: ChannelStart | None = None
        best_len = -1
        for channel in self.channels:
            if not lowered.startswith(channel.origin + "/") and lowered != channel.origin:
                continue
            folder = channel.url.lower().rsplit("/", 1)[0] + "/"
            length = len(folder) if lowered.startswith(folder) else 0
            if length > best_len:
                best, best_len = channel, length
        return None if best is None or best.channel in self.skipped else best

    def scrapy_settings(self, jobdir: Path | None) -> dict[str, Any]:
        """The Scrapy settings this crawl runs with (on top of :mod:`crawler.settings`)."""
        settings: dict[str, Any] = {
            "USER_AGENT": self.user_agent,
            "ROBOTSTXT_OBEY": self.obey_robots,
            "CONCURRENT_REQUESTS_PER_DOMAIN": self.concurrency_per_host,
            "CONCURRENT_REQUESTS": max(2, self.concurrency_per_host * 2),
            "DOWNLOAD_DELAY": self.delay_seconds,
            "AUTOTHROTTLE_ENABLED": self.autothrottle,
            "AUTOTHROTTLE_START_DELAY": max(self.delay_seconds, 0.1),
            "AUTOTHROTTLE_TARGET_CONCURRENCY": float(self.concurrency_per_host),
            "CLOSESPIDER_PAGECOUNT": self.max_pages,
            "CLOSESPIDER_TIMEOUT": self.timeout_s,  # a clean close: reason closespider_timeout
            "PLAYWRIGHT_LAUNCH_OPTIONS": launch_options(self.executable_path),
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": self.navigation_timeout_ms,
            "DOWNLOAD_MAXSIZE": int(self.network.download_maxsize_mib * 1024 * 1024),
            "DOWNLOAD_WARNSIZE": int(self.network.download_warnsize_mib * 1024 * 1024),
            "DOWNLOAD_TIMEOUT": self.network.download_timeout_s,
            "RETRY_AFTER_MAX_SECONDS": self.network.retry_after_max_s,
            "RETRY_AFTER_TIMES": self.network.retry_after_times,
            "ZWAUDIT_MAX_REDIRECTS": self.network.max_redirects,
            "ZWAUDIT_TRAP_BOUND": self.network.trap_bound,
            "ZWAUDIT_PAGE_TIMEOUT": self.network.page_timeout_s,
        }
        if jobdir is not None:
            settings["JOBDIR"] = str(jobdir)
        return settings
