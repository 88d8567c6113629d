"""Calibration: audit the sandbox and compare the findings with its ground truth.

Per check and reason code: TP = an expected fail reported with the same (target, code); FP = a
reported fail not expected; FN = an expected fail not reported. The same counts are kept per
style family of portals (the ground truth's ``family``: ``sandbox-1``, the portals zwaudit was built
against; ``real-structure``, portals written from real portals' structures) and overall, because a
score on the portals a tool was tuned to says little about the others. ``error`` findings are never TP;
they are listed apart so that "could not look" is never mistaken for "looked and found nothing".
The comparison (:func:`compare`) is a pure function of ground truth and findings.

Hostile targets (a tarpit, a gzip bomb, a TLS fault …) are expected ``error`` findings of a kind
(``{"status": "error", "code": "too_large"}``): the right kind counts as correct, a wrong kind and
a verdict (``pass``/``fail``, where nothing could be seen) count against the auditor, and so does
silence on a target marked required (the default; ``"required": false`` when the check may never
examine it). A ``fail`` there is also a false positive of its check.

The sandbox province with an image-captcha login stands in for "a person logs in once": before
the audit, a stand-in person (:func:`probes.common.person.sandbox_person`)
logs in reading the captcha answer file, and :func:`zwaudit.sessions.capture_session` saves the
session — the probes then take the same saved-session path as after ``zwaudit login``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from probes.common.person import sandbox_person
from zwaudit.app import calibration_hostile as hostile
from zwaudit.app.calibration_hostile import HostileCounters
from zwaudit.app.orchestrator import AuditResult, run_audit, select_checks
from zwaudit.app.progress import ProgressSink
from zwaudit.browser import AuditBrowser
from zwaudit.config.loader import Config
from zwaudit.db import models
from zwaudit.errors import ConfigError, RunError
from zwaudit.registry import declarations
from zwaudit.secrets import Secrets
from zwaudit.sessions import capture_session, name_signs

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("zwaudit.app.calibration")

DEFAULT_FAMILY = "sandbox-1"  # a ground truth written before families existed
#: the checks that need the logged-in session (``logged_in: true`` in ``config/checks.yaml``)
LOGGED_IN_CHECKS = frozenset(name for name, spec in declarations().checks.items() if spec.logged_in)


@dataclass(frozen=True)
class Reported:
    """One stored finding, as calibration sees it."""

    portal_id: str
    probe: str
    target: str
    status: str
    code: str | None
    message: str = ""


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class ErrorScore:
    """Expected errors of one check: of the right kind, or not."""

    correct: int = 0
    wrong_kind: int = 0
    verdict: int = 0  # a pass/fail where only an error was possible
    missing: int = 0  # a required hostile target not reported at all

    @property
    def wrong(self) -> int:
        return self.wrong_kind + self.verdict + self.missing


@dataclass(frozen=True)
class ErrorMismatch:
    """One hostile target the auditor did not report as the expected kind of error."""

    problem: str  # wrong_kind | verdict | missing
    portal_id: str
    probe: str
    target: str
    expected: str  # the ErrorKind
    got: str  # "error:<kind>", "fail:<code>", "pass", or "" when missing


@dataclass
class CalibrationReport:
    run_id: int
    per_code: dict[tuple[str, str], Score] = field(default_factory=dict)
    per_probe: dict[str, Score] = field(default_factory=dict)
    per_family: dict[str, dict[str, Score]] = field(default_factory=dict)  # family -> check -> score
    overall: Score = field(default_factory=Score)
    false_positives: list[Reported] = field(default_factory=list)
    false_negatives: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # portal, probe, target, code
    errors: list[Reported] = field(default_factory=list)
    per_error: dict[str, ErrorScore] = field(default_factory=dict)  # probe -> expected errors
    error_mismatches: list[ErrorMismatch] = field(default_factory=list)
    hostile: dict[str, HostileCounters] = field(default_factory=dict)  # portal -> counters

    def hostile_problems(self) -> list[str]:
        """Hostile targets not reported as their kind of error, and counters that are not 0."""
        out = [f"{m.portal_id} {m.probe} {m.problem}: {m.target}" for m in self.error_mismatches]
        for pid, counters in sorted(self.hostile.items()):
            out += [f"{pid}: {p}" for p in counters.problems()]
        return out

    def below(self, threshold: float) -> list[str]:
        """The checks whose precision or recall is under ``threshold``."""
        return sorted(p for p, s in self.per_probe.items() if s.precision < threshold or s.recall < threshold)


def compare(
    expectations: dict[str, list[dict[str, Any]]],
    reported: Iterable[Reported],
    probes: Sequence[str],
    run_id: int = 0,
    families: dict[str, str] | None = None,
) -> CalibrationReport:
    """Score ``reported`` findings against the ground truth of each portal (pure); ``families``
    maps a portal to its style family (default :data:`DEFAULT_FAMILY`)."""
    family_of = families or {}
    wanted = set(probes)
    expected = {
        (pid, e["probe"], e["target"], e["code"])
        for pid, exps in expectations.items()
        for e in exps
        if e.get("status") == "fail" and e["probe"] in wanted
    }
    report = CalibrationReport(run_id)
    found: set[tuple[str, str, str, str]] = set()
    fail_rows: dict[tuple[str, str, str, str], Reported] = {}
    reported_rows = list(reported)
    for r in reported_rows:
        if r.probe not in wanted or r.portal_id not in expectations:
            continue
        if r.status == "error":
            report.errors.append(r)
        elif r.status == "fail" and r.code:
            key = (r.portal_id, r.probe, r.target, r.code)
            found.add(key)
            fail_rows[key] = r
    for probe in sorted(wanted):
        report.per_probe[probe] = Score()
    for pid in expectations:
        checks = report.per_family.setdefault(family_of.get(pid, DEFAULT_FAMILY), {})
        for probe in sorted(wanted):
            checks.setdefault(probe, Score())
    _score_errors(report, expectations, reported_rows, wanted)
    for key in sorted(expected | found):
        pid, probe, _, code = key
        family = report.per_family[family_of.get(pid, DEFAULT_FAMILY)][probe]
        scores = (report.per_code.setdefault((probe, code), Score()), report.per_probe[probe], family)
        if key in expected and key in found:
            kind = "tp"
        elif key in found:
            kind = "fp"
            report.false_positives.append(fail_rows[key])
        else:
            kind = "fn"
            report.false_negatives.append(key)
        for score in (*scores, report.overall):
            setattr(score, kind, getattr(score, kind) + 1)
    return report


def _score_errors(
    report: CalibrationReport,
    expectations: dict[str, list[dict[str, Any]]],
    reported: list[Reported],
    wanted: set[str],
) -> None:
    """Score each expected error against what was reported on its target (all statuses)."""
    on_target: dict[tuple[str, str, str], list[Reported]] = {}
    for r in reported:
        on_target.setdefault((r.portal_id, r.probe, r.target), []).append(r)
    for pid, exps in sorted(expectations.items()):
        for e in exps:
            if e.get("status") != "error" or e["probe"] not in wanted:
                continue
            probe, target, kind = e["probe"], e["target"], e["code"]
            score = report.per_error.setdefault(probe, ErrorScore())
            rows = on_target.get((pid, probe, target), [])
            verdicts = [r for r in rows if r.status in ("pass", "fail")]
            if verdicts:
                v = verdicts[0]
                score.verdict += 1
                got = f"{v.status}:{v.code}" if v.code else v.status
                report.error_mismatches.append(ErrorMismatch("verdict", pid, probe, target, kind, got))
            elif any(r.status == "error" and r.code == kind for r in rows):
                score.correct += 1
            elif rows:
                score.wrong_kind += 1
                got = ",".join(sorted({f"{r.status}:{r.code}" for r in rows}))
                report.error_mismatches.append(ErrorMismatch("wrong_kind", pid, probe, target, kind, got))
            elif e.get("required", True):
                score.missing += 1
                report.error_mismatches.append(ErrorMismatch("missing", pid, probe, target, kind, ""))


def load_ground_truth(directory: Path, portal_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each portal's expectations; a missing or malformed file is a :class:`ConfigError`."""
    out: dict[str, list[dict[str, Any]]] = {}
    for pid in portal_ids:
        path = directory / f"{pid}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            out[pid] = list(data["expectations"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(path, "expectations", f"cannot read the ground truth: {exc}") from exc
    return out


def load_families(directory: Path, portal_ids: Sequence[str]) -> dict[str, str]:
    """Each portal's style family as its ground truth names it."""
    out: dict[str, str] = {}
    for pid in portal_ids:
        data = json.loads((directory / f"{pid}.json").read_text(encoding="utf-8"))
        out[pid] = str(data.get("family") or DEFAULT_FAMILY)
    return out


def notes(directory: Path, portal_id: str) -> dict[str, Any]:
    data = json.loads((directory / f"{portal_id}.json").read_text(encoding="utf-8"))
    return dict(data.get("notes") or {})


def reported_findings(sf: sessionmaker[Session], run_id: int) -> list[Reported]:
    with sf() as session:
        rows = session.scalars(select(models.Finding).where(models.Finding.run_id == run_id))
        return [
            Reported(r.portal_id, r.probe, r.target, r.status, r.code, str((r.detail or {}).get("error", "")))
            for r in rows
        ]


def stand_in_logins(
    config: Config, portal_ids: Sequence[str], ground_truth_dir: Path, captcha_dir: Path
) -> list[str]:
    """Log in as "the person" on every captcha portal and save its session; returns their ids."""
    secrets = Secrets.for_config_dir(config.directory)
    chosen = [p for p in portal_ids if notes(ground_truth_dir, p).get("captcha_login")]
    if not chosen:
        return []

    async def go() -> None:
        async with AuditBrowser(config.settings.browser, config.settings.user_agent) as browser:
            for pid in chosen:
                portal = config.portal(pid)
                if portal.account is None or portal.account.password is None:
                    raise RunError(f"{pid}: the sandbox profile has no account to log in with")
                person = sandbox_person(
                    portal,
                    secrets.resolve(portal.account.username),
                    secrets.resolve(portal.account.password),
                    captcha_dir,
                )
                personal = secrets.personal_data(portal.account)
                path = await capture_session(
                    browser,
                    portal,
                    str(portal.home_url),
                    timeout_s=60,
                    person=person,
                    signs=name_signs(personal.get("name")),
                )
                log.info("stand-in person logged in on %s; session saved at %s", pid, path)

    asyncio.run(go())
    return chosen


def calibrate(
    config: Config,
    sf: sessionmaker[Session],
    *,
    ground_truth_dir: Path,
    captcha_dir: Path,
    probes: list[str] | None,
    db_url: str,
    progress: ProgressSink | None = None,
    portal_ids: list[str] | None = None,
) -> tuple[AuditResult, CalibrationReport]:
    """Audit the sandbox portals (default: all configured) with ``probes`` (default: all
    registered) and score the run against the ground truth."""
    portal_ids = sorted(portal_ids or config.portals)
    checks = select_checks(config, probes or sorted(config.check_registry))
    truth = load_ground_truth(ground_truth_dir, portal_ids)
    if any(s.logged_in for c in checks if (s := config.registry.check(c)) is not None):
        stand_in_logins(config, portal_ids, ground_truth_dir, captcha_dir)
    with (
        tempfile.TemporaryDirectory(prefix="zwaudit-calibrate-out-") as tmp,
        _captured_log(Path(tmp)) as log_file,
    ):
        since = time.time()
        result = run_audit(
            config,
            sf,
            portal_ids=portal_ids,
            probes=checks,
            trigger="calibrate",
            progress=progress,
            db_url=db_url,
            crawl_for_catalogue=True,
        )
        until = time.time()
        report = compare(
            truth,
            reported_findings(sf, result.run_id),
            checks,
            result.run_id,
            load_families(ground_truth_dir, portal_ids),
        )
        for pid in portal_ids:
            notes_of = notes(ground_truth_dir, pid).get("hostile")
            if notes_of:
                report.hostile[pid] = hostile.hostile_counters(
                    config,
                    sf,
                    pid,
                    result.run_id,
                    notes_of,
                    ground_truth_dir.parent,
                    (since, until),
                    Path(tmp),
                    log_file,
                )
    return result, report


@contextlib.contextmanager
def _captured_log(directory: Path) -> Iterator[Path]:
    """What the run logs (at the configured levels), kept to look for personal data in it."""
    path = directory / "run.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
