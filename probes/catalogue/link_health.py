"""link_health: links on the portal's pages that answer 4xx/5xx or cannot be reached at all.

Only what the crawl actually asked for counts: a link robots.txt forbids was never fetched and is
no finding; a host that kept answering 429/503 with Retry-After, a timeout or a TLS failure is an
``error`` (the crawler could not tell), never ``broken_link``.

Off-site links: the egress policy (:mod:`zwaudit.net.egress`) lets the crawler fetch only hosts of
the portal (its own origins and registrable domains, redirect-reached hosts, ``egress.allow``), so
a link to another site is recorded ``egress_refused`` and, like a robots.txt-forbidden link, is no
finding: zwaudit cannot tell whether it works without going there; a link into the auditor's own
network (a private, loopback or link-local address: cloud metadata, a database port) is recorded
as an ``error`` (``egress_refused``). ``egress.allow: [gov.cn]`` in a profile brings government
links back under the check. A refused or unreachable connection is an ``error`` (``connection``),
a name that does not resolve a ``broken_link``; a host whose certificate does not verify is one
``error`` (``tls``) on the first link to it (a 4xx/5xx it answered is still ``broken_link``).
Trap pages cut at their bound (``trap``) were never fetched either, and a link that answered with
a PDF or a download (``not_html``) answered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from probes.catalogue.common import (
    PageSnapshot,
    PagesObservation,
    iter_pages,
    page_error_kind,
    require_sessions,
)
from zwaudit.checks import CheckContext, CheckOptions, JudgeInput, Observation, Requires, TwoPhaseCheck
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import Finding, error_finding
from zwaudit.net.egress import is_address_refusal, origin_of
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.registry import declared_codes
from zwaudit.targets import normalize_url

# a name that does not resolve: the host is gone (a retired department domain), a person gets
# nothing either. A refused or unreachable *connection* is not here: "the server is down tonight"
# and "the link is dead" look the same from one night's crawl, so it is an ``error``
# (``connection``), never a ``broken_link`` (README, "link_health and unreachable hosts")
UNREACHABLE = ("dns",)
NOT_JUDGED = ("robots_disallowed", "egress_refused", "trap", "not_html")
TLS = "tls"  # the certificate of the link's host does not verify: one error per host


class Options(CheckOptions):
    ignore_prefixes: list[str] = Field(default_factory=list)  # URLs never judged (a flaky stats host)


def _into_own_network(error: str) -> bool:
    """A link the egress policy refused because it points into the auditor's own network
    (loopback, private, link-local: ``127.0.0.1:5432``, ``169.254.169.254``): recorded as an
    ``error`` (``egress_refused``), never fetched. A link to a host outside the portal is no
    finding (module docstring)."""
    return error.startswith(ErrorKind.EGRESS_REFUSED.value) and is_address_refusal(error)


def judge(
    pages: Iterable[PageSnapshot], home_url: str, ignore_prefixes: list[str] | None = None
) -> list[Finding]:
    """One fail per broken link (with the page linking it); one pass on the home page when none."""
    fails: dict[str, Finding] = {}
    errors: dict[str, Finding] = {}
    tls_hosts: set[tuple[str, int] | None] = set()
    home_seen = False
    home = normalize_url(home_url)
    for page in pages:
        target = normalize_url(page.url)
        if target == home:
            home_seen = True
        if any(page.url.startswith(p) for p in ignore_prefixes or ()):
            continue
        error = page.error or ""
        if error.startswith(NOT_JUDGED) and not _into_own_network(error):
            continue
        detail = {"url": page.url, "found_on": page.referrer, "status": page.status_code}
        answered_error = page.status_code is not None and page.status_code >= 400
        if error.startswith(UNREACHABLE) or (answered_error and (not error or error.startswith(TLS))):
            # a 4xx/5xx is the server's own answer: broken whatever its certificate
            if page.referrer is None:
                # a start page itself: nothing links to it from the portal
                errors.setdefault(
                    target,
                    error_finding(
                        LinkHealth.name,
                        target,
                        ErrorKind.HTTP_STATUS,
                        error or str(page.status_code),
                        **detail,
                    ),
                )
                continue
            if error:
                detail["error"] = error
            fails.setdefault(target, Finding(LinkHealth.name, target, Status.FAIL, "broken_link", detail))
        elif error.startswith(TLS):
            # a host's certificate is judged once (every page of the host shares it)
            host = origin_of(page.url)
            if host not in tls_hosts:
                tls_hosts.add(host)
                errors.setdefault(
                    target, error_finding(LinkHealth.name, target, ErrorKind.TLS, error, **detail)
                )
        elif error:
            errors.setdefault(
                target, error_finding(LinkHealth.name, target, page_error_kind(error), error, **detail)
            )
    out = list(fails.values()) + [e for t, e in errors.items() if t not in fails]
    if not fails:
        if not home_seen:
            out.append(
                error_finding(LinkHealth.name, home, ErrorKind.NOT_FOUND, "the home page was not crawled")
            )
        else:
            out.append(Finding(LinkHealth.name, home, Status.PASS, None, {}))
    return out


@dataclass(frozen=True)
class Rules:
    home_url: str
    ignore_prefixes: list[str]


class LinkHealth(TwoPhaseCheck):
    name: ClassVar[str] = "link_health"
    version: ClassVar[str] = "1.0.0"
    codes: ClassVar[frozenset[str]] = declared_codes("link_health")  # config/checks.yaml
    requires: ClassVar[Requires] = Requires.CRAWL
    Options: ClassVar[type[CheckOptions]] = Options
    observation_type: ClassVar[type[Observation]] = PagesObservation

    async def observe(self, ctx: CheckContext) -> PagesObservation:
        return PagesObservation(pages=list(iter_pages(require_sessions(ctx), ctx.run_id, ctx.portal.id)))

    def rules(self, where: JudgeInput) -> Rules:
        options = where.options
        assert isinstance(options, Options)
        return Rules(str(where.portal.home_url), list(options.ignore_prefixes))

    def judge(self, observation: PagesObservation, rules: Rules) -> list[Finding]:
        return judge(observation.pages, rules.home_url, rules.ignore_prefixes)

    def document(
        self, findings: list[Finding], observation: PagesObservation, evidence: EvidenceWriter
    ) -> None:
        for finding in findings:
            if finding.status is Status.FAIL:
                finding.evidence.append(evidence.url(str(finding.detail["url"]), kind="broken_link"))
                if finding.detail.get("found_on"):
                    finding.evidence.append(evidence.url(str(finding.detail["found_on"]), kind="found_on"))
