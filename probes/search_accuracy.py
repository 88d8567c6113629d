"""search_accuracy: 搜不到、搜不全、搜不准 — the evaluators' ten keywords typed into the portal's search.

Observe (:mod:`probes.search.observe`) each keyword as a person would, judge
(:mod:`probes.search.judge`) the top N titles against ``config/keywords.yaml`` and against the
portal's own catalogue (:func:`load_catalogue`). One finding per keyword and code (a pass when
none applies), target = the keyword; precision@N, recall, the titles, the matched services, the
catalogue items considered and the services not offered in the detail; a masked screenshot, the
titles as JSON and the URL as evidence.

Which catalogue: when this run crawls (a crawl check is selected, or calibration), the check
waits for the crawl (``reads_catalogue``) and reads this run's items; otherwise the newest earlier
run that stored the portal's items, if not older than ``catalogue_max_age_days``; otherwise none,
and ``incomplete`` is not judged.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from probes.auth_https import manners_for
from probes.search.catalogue import Catalogue, CatalogueItem
from probes.search.judge import judge_search
from probes.search.keywords import KeywordRules, load_keywords
from probes.search.observe import SearchSettings, observe_keyword
from zwaudit.checks import CheckContext, CheckOptions, Requires
from zwaudit.config.loader import resolve_config_dir
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


def keywords_path(ctx: CheckContext, options: SearchAccuracyOptions) -> Path:
    """The keywords file: the option (relative to the profile), else the active config's, else ours."""
    if options.keywords_file is not None:
        base = ctx.portal.source_file.parent if ctx.portal.source_file else Path.cwd()
        path = options.keywords_file if options.keywords_file.is_absolute() else base / options.keywords_file
        if not path.exists():
            where = ctx.portal.source_file or ctx.portal.id
            raise ConfigError(where, "probes.search_accuracy.keywords_file", f"file not found: {path}")
        return path
    config = ctx.extra.get("config")
    finder = getattr(config, "data_file", None)
    if callable(finder):
        found = finder("keywords.yaml")
        if isinstance(found, Path):
            return found
    candidate = resolve_config_dir() / "keywords.yaml"
    return candidate if candidate.exists() else DEFAULT_CONFIG_DIR / "keywords.yaml"


def load_catalogue(ctx: CheckContext, max_age_days: int) -> tuple[Catalogue | None, str]:
    """The portal's catalogue (this run's crawl, else a recent earlier one) or None with the reason."""
    if ctx.session_factory is None:
        return None, "no database: the portal's catalogue cannot be read"
    with ctx.session_factory() as session:
        found = latest_catalogue(session, ctx.portal.id, ctx.run_id)
    if found is None:
        return None, "no crawl stored this portal's catalogue (crawl not run or failed)"
    run_id, fetched_at, rows = found
    if (
        run_id != ctx.run_id
        and fetched_at is not None
        and utcnow() - fetched_at > timedelta(days=max_age_days)
    ):
        return None, f"the newest catalogue (run {run_id}) is older than {max_age_days} days"
    note = "this run's crawl" if run_id == ctx.run_id else f"the crawl of run {run_id}"
    items = tuple(CatalogueItem(name, code) for name, code in rows)
    return Catalogue(items, run_id, fetched_at, note), ""


class SearchAccuracy:
    name: ClassVar[str] = "search_accuracy"
    version: ClassVar[str] = "1.1.0"
    codes: ClassVar[frozenset[str]] = declared_codes("search_accuracy")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.BROWSER
    reads_catalogue: ClassVar[bool] = True  # waits for this run's crawl when there is one
    Options: ClassVar[type[CheckOptions]] = SearchAccuracyOptions

    @classmethod
    def check_data(cls, config: Any) -> None:
        """keywords.yaml parsed as the check will (a malformed file: ConfigError, exit 2)."""
        load_keywords(config.data_file("keywords.yaml"))

    async def run(self, ctx: CheckContext) -> list[Finding]:
        options = ctx.options
        assert isinstance(options, SearchAccuracyOptions)
        rules: KeywordRules = load_keywords(keywords_path(ctx, options))
        top_n = options.top_n or rules.top_n
        if ctx.browser_context is None:
            raise RuntimeError("search_accuracy needs a browser context")
        context = await ctx.browser_context()
        settings = SearchSettings(
            home_url=str(ctx.portal.home_url),
            top_n=top_n,
            search_url=options.search_url,
            input_selector=options.input_selector,
            submit_selector=options.submit_selector,
            result_selector=options.result_selector,
            settle_timeout_s=options.settle_timeout_s,
        )
        personal = [str(v) for v in (ctx.extra.get("personal") or {}).values() if v]
        manners = manners_for(ctx)
        catalogue, why_none = load_catalogue(ctx, options.catalogue_max_age_days)
        findings: list[Finding] = []
        for i, rule in enumerate(rules.keywords):
            obs = await observe_keyword(context, rule.keyword, settings, ctx.evidence, personal, manners)
            findings += judge_search(
                obs,
                rule,
                top_n,
                rules.imprecise_threshold,
                catalogue,
                catalogue_note=why_none,
                match_threshold=rules.catalogue_match_threshold,
            )
            portal_wide = obs.error is not None and (
                obs.how.get("stage") in PORTAL_WIDE_STAGES or obs.error.value in PORTAL_WIDE_KINDS
            )
            if portal_wide and obs.error is not None:
                message = f"not searched: {obs.error_message} (while searching {rule.keyword!r})"
                for later in rules.keywords[i + 1 :]:
                    findings.append(error_finding(self.name, later.keyword, obs.error, message))
                break
        return findings
