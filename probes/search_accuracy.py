"""search_accuracy: 搜不到、搜不全、搜不准 — the evaluators' ten keywords typed into the portal's search.

Observe (:mod:`probes.search.observe`) each keyword as a person would, judge
(:mod:`probes.search.judge`) the top N titles against ``config/keywords.yaml`` and against the
portal's own catalogue (:func:`load_catalogue`). One finding per keyword and code (a pass when
none applies), target = the keyword; precision@N, recall, the titles, the matched services, the
catalogue items considered and the services not offered in the detail; a masked screenshot, the
titles as JSON and the URL as evidence.

Which catalogue: when this run crawls (a crawl check is selected, or calibration), the check
searches while the crawl runs, then waits for it (``reads_catalogue``,
:attr:`~zwaudit.checks.CheckContext.catalogue_ready`) and reads this run's items; otherwise the newest earlier
run that stored the portal's items, if not older than ``catalogue_max_age_days``; otherwise none,
and ``incomplete`` is not judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from probes.auth_https import manners_for
from probes.search.catalogue import Catalogue, CatalogueItem
from probes.search.judge import SearchObservation, judge_search
from probes.search.keywords import KeywordRules, load_keywords
from probes.search.observe import SearchSettings, SearchTab, observe_keyword
from zwaudit.checks import (
    CheckContext,
    CheckOptions,
    JudgeInput,
    Observation,
    Requires,
    TwoPhaseCheck,
    judge_input,
)
from zwaudit.config.loader import resolve_config_dir
from zwaudit.config.schema import PortalProfile
from zwaudit.db.store import latest_catalogue
from zwaudit.errors import ConfigError
from zwaudit.findings import Finding, error_finding, utcnow
from zwaudit.outcomes import ErrorKind
from zwaudit.paths import DEFAULT_CONFIG_DIR
from zwaudit.registry import declared_codes

# An error at these stages (or a block) would repeat for every keyword: stop asking the portal.
PORTAL_WIDE_STAGES = frozenset({"home", "search_box"})
PORTAL_WIDE_KINDS = frozenset({ErrorKind.BLOCKED.value, ErrorKind.CAPTCHA.value})


class SearchAccuracyOptions(CheckOptions):
    """Per-portal overrides (profile key ``probes.search_accuracy``); all optional."""

    search_url: str | None = None  # e.g. https://portal/search?q={q} — skips the search box
    input_selector: str | None = None
    submit_selector: str | None = None
    result_selector: str | None = None  # one match per result item
    top_n: int | None = Field(default=None, ge=1, le=50)  # default: keywords file's top_n
    keywords_file: Path | None = None  # relative to the profile's directory
    settle_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # the portal's catalogue (the crawl's items) decides which expected services it offers; one
    # from an earlier run is used when this run did not crawl, if it is at most this old
    catalogue_max_age_days: int = Field(default=30, ge=0)

    @field_validator("search_url")
    @classmethod
    def _has_placeholder(cls, value: str | None) -> str | None:
        if value is not None and "{q}" not in value:
            raise ValueError("must contain {q} where the keyword goes")
        return value


def keywords_path(portal: PortalProfile, config: Any, options: SearchAccuracyOptions) -> Path:
    """The keywords file: the option (relative to the profile), else the active config's, else ours."""
    if options.keywords_file is not None:
        base = portal.source_file.parent if portal.source_file else Path.cwd()
        path = options.keywords_file if options.keywords_file.is_absolute() else base / options.keywords_file
        if not path.exists():
            where = portal.source_file or portal.id
            raise ConfigError(where, "probes.search_accuracy.keywords_file", f"file not found: {path}")
        return path
    finder = getattr(config, "data_file", None)
    if callable(finder):
        found = finder("keywords.yaml")
        if isinstance(found, Path):
            return found
    candidate = resolve_config_dir() / "keywords.yaml"
    return candidate if candidate.exists() else DEFAULT_CONFIG_DIR / "keywords.yaml"


async def load_catalogue(ctx: CheckContext, max_age_days: int) -> tuple[Catalogue | None, str]:
    """The portal's catalogue (this run's crawl, else a recent earlier one) or None with the reason.

    While this run is crawling, it first waits for the crawl (``ctx.catalogue_ready``, which also
    takes the portal's browser contexts away: call it after the last use of the browser), so a
    catalogue still being stored is never read; and when the portal's spider did not finish (cut
    at its crawl deadline, or the crawl failed), what it stored is a part at most: an earlier
    run's catalogue is read instead, as the crawl checks refuse a truncated one."""
    refused = await ctx.catalogue_ready() if ctx.catalogue_ready is not None else ""
    if ctx.session_factory is None:
        return None, "no database: the portal's catalogue cannot be read"
    with ctx.session_factory() as session:
        found = latest_catalogue(session, ctx.portal.id, ctx.run_id - 1 if refused else ctx.run_id)
    because = f"this run's crawl is not read ({refused}); " if refused else ""
    if found is None:
        if refused:
            return None, f"{because}no earlier crawl stored this portal's catalogue"
        return None, "no crawl stored this portal's catalogue (crawl not run or failed)"
    run_id, fetched_at, rows = found
    if (
        run_id != ctx.run_id
        and fetched_at is not None
        and utcnow() - fetched_at > timedelta(days=max_age_days)
    ):
        return None, f"{because}the newest catalogue (run {run_id}) is older than {max_age_days} days"
    note = "this run's crawl" if run_id == ctx.run_id else f"{because}the crawl of run {run_id}"
    items = tuple(CatalogueItem(name, code) for name, code in rows)
    return Catalogue(items, run_id, fetched_at, note), ""


class SearchAccuracyObservation(Observation):
    """Every keyword searched, in order (a portal-wide error ends the list), and the catalogue
    the judge compares with (None: ``catalogue_note`` says why there is none)."""

    searched: list[SearchObservation]
    catalogue_items: list[CatalogueItem] | None = None
    catalogue_run: int | None = None
    catalogue_fetched_at: datetime | None = None
    catalogue_note: str = ""
    why_no_catalogue: str = ""

    def catalogue(self) -> Catalogue | None:
        if self.catalogue_items is None:
            return None
        return Catalogue(
            tuple(self.catalogue_items), self.catalogue_run, self.catalogue_fetched_at, self.catalogue_note
        )


@dataclass(frozen=True)
class SearchRules:
    keywords: KeywordRules
    top_n: int


def portal_wide(obs: SearchObservation) -> bool:
    """An error that would repeat for every later keyword (the home page, the box, a block)."""
    return obs.error is not None and (
        obs.how.get("stage") in PORTAL_WIDE_STAGES or obs.error.value in PORTAL_WIDE_KINDS
    )


class SearchAccuracy(TwoPhaseCheck):
    name: ClassVar[str] = "search_accuracy"
    version: ClassVar[str] = "1.1.0"
    codes: ClassVar[frozenset[str]] = declared_codes("search_accuracy")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.BROWSER
    reads_catalogue: ClassVar[bool] = True  # awaits ctx.catalogue_ready before reading it
    Options: ClassVar[type[CheckOptions]] = SearchAccuracyOptions
    observation_type: ClassVar[type[Observation]] = SearchAccuracyObservation

    @classmethod
    def check_data(cls, config: Any) -> None:
        """keywords.yaml parsed as the check will (a malformed file: ConfigError, exit 2)."""
        load_keywords(config.data_file("keywords.yaml"))

    def rules(self, where: JudgeInput) -> SearchRules:
        options = where.options
        assert isinstance(options, SearchAccuracyOptions)
        keywords = load_keywords(keywords_path(where.portal, where.config, options))
        return SearchRules(keywords, options.top_n or keywords.top_n)

    async def observe(self, ctx: CheckContext) -> SearchAccuracyObservation:
        options = ctx.options
        assert isinstance(options, SearchAccuracyOptions)
        rules = self.rules(judge_input(ctx))
        if ctx.browser_context is None:
            raise RuntimeError("search_accuracy needs a browser context")
        context = await ctx.browser_context()
        settings = SearchSettings(
            home_url=str(ctx.portal.home_url),
            top_n=rules.top_n,
            search_url=options.search_url,
            input_selector=options.input_selector,
            submit_selector=options.submit_selector,
            result_selector=options.result_selector,
            settle_timeout_s=options.settle_timeout_s,
        )
        personal = [str(v) for v in (ctx.extra.get("personal") or {}).values() if v]
        manners = manners_for(ctx)
        searched: list[SearchObservation] = []
        tab = SearchTab(context)  # one tab for every keyword, as a person searches
        try:
            for rule in rules.keywords.keywords:
                obs = await observe_keyword(
                    context, rule.keyword, settings, ctx.evidence, personal, manners, tab=tab
                )
                searched.append(obs)
                if portal_wide(obs):
                    break  # it would repeat for every later keyword: stop asking the portal
        finally:
            await tab.retire()
        # after the searches: while this run crawls, they ran meanwhile and only the reading waits
        catalogue, why_none = await load_catalogue(ctx, options.catalogue_max_age_days)
        return SearchAccuracyObservation(
            searched=searched,
            catalogue_items=list(catalogue.items) if catalogue is not None else None,
            catalogue_run=catalogue.run_id if catalogue is not None else None,
            catalogue_fetched_at=catalogue.fetched_at if catalogue is not None else None,
            catalogue_note=catalogue.note if catalogue is not None else "",
            why_no_catalogue=why_none,
        )

    def judge(self, observation: SearchAccuracyObservation, rules: SearchRules) -> list[Finding]:
        """Each keyword of the rules judged on what its search showed; keywords after a
        portal-wide error are that error; a keyword the observation never searched (added to the
        keywords file since) is a ``config`` error, never a verdict."""
        catalogue = observation.catalogue()
        seen = {obs.keyword: obs for obs in observation.searched}
        stop = next((obs for obs in observation.searched if portal_wide(obs)), None)
        findings: list[Finding] = []
        for rule in rules.keywords.keywords:
            obs = seen.get(rule.keyword)
            if obs is not None:
                findings += judge_search(
                    obs,
                    rule,
                    rules.top_n,
                    rules.keywords.imprecise_threshold,
                    catalogue,
                    catalogue_note=observation.why_no_catalogue,
                    match_threshold=rules.keywords.catalogue_match_threshold,
                )
            elif stop is not None and stop.error is not None:
                message = f"not searched: {stop.error_message} (while searching {stop.keyword!r})"
                findings.append(error_finding(self.name, rule.keyword, stop.error, message))
            else:
                message = "not searched in the observed run (a keyword added to the keywords file since)"
                findings.append(error_finding(self.name, rule.keyword, ErrorKind.CONFIG, message))
        return findings
