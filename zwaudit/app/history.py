"""Run history: the list of runs, and what changed between two runs.

The diff is careful about what it does *not* know. Only (portal, probe) pairs examined in both
runs are compared — a rerun of one probe on one portal must not report every other finding as
"fixed". A fail is *fixed* only when the later run positively observed the target again (a pass,
or a fail for other reasons); a fail followed by an error or by silence is "not re-checked", never
fixed. New fails and indicator drops are the *regressions* that the nightly job and the webhook
report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zwaudit.db import models
from zwaudit.errors import UsageError
from zwaudit.outcomes import RunStatus

#: an indicator moving by less than this is noise from float arithmetic, not a move
EPSILON = 1e-6


@dataclass(frozen=True)
class RunInfo:
    id: int
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    host: str
    counts: dict[str, int]
    portals: int
    note: str = ""  # why it is not ok, or which deadlines it hit (run_note)

    @property
    def elapsed_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def run_infos(
    session: Session, *, limit: int = 20, trigger: str | None = None, run_id: int | None = None
) -> list[RunInfo]:
    """The newest runs (or just ``run_id``), with finding counts by status and portals touched."""
    stmt = select(models.Run).order_by(models.Run.id.desc()).limit(limit)
    if trigger:
        stmt = stmt.where(models.Run.trigger == trigger)
    if run_id is not None:
        stmt = stmt.where(models.Run.id == run_id)
    runs = list(session.scalars(stmt))
    if not runs:
        return []
    ids = [r.id for r in runs]
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    f = models.Finding
    for run_id, status, n in session.execute(
        select(f.run_id, f.status, func.count()).where(f.run_id.in_(ids)).group_by(f.run_id, f.status)
    ):
        counts[run_id][status] = int(n)
    portals = dict(
        session.execute(
            select(f.run_id, func.count(func.distinct(f.portal_id)))
            .where(f.run_id.in_(ids))
            .group_by(f.run_id)
        )
        .tuples()
        .all()
    )
    return [
        RunInfo(
            r.id,
            r.trigger,
            r.status,
            r.started_at,
            r.finished_at,
            r.host,
            counts.get(r.id, {}),
            int(portals.get(r.id, 0)),
            run_note(r.summary),
        )
        for r in runs
    ]


def run_note(summary: Any) -> str:
    """One short line from a run's summary: why it was interrupted or failed, or the deadlines
    it hit (a run cut by a deadline is ``ok``, with what it had)."""
    if not isinstance(summary, dict):
        return ""
    for key in ("interrupted", "error"):
        if isinstance(summary.get(key), str):
            return str(summary[key])
    if summary.get("derived_from") is not None:  # zwaudit rejudge
        skipped = len(summary.get("not_rejudged") or [])
        return f"rejudged from run {summary['derived_from']}" + (
            f" ({skipped} not rejudged)" if skipped else ""
        )
    stages = (summary.get("nightly") or {}).get("stages") or {}
    failed = [f"{stage}: {state}" for stage, state in stages.items() if state != "ok"]
    if failed:
        return failed[0]
    deadlines = summary.get("deadlines") or {}
    if deadlines:
        return "deadline hit: " + ", ".join(sorted(deadlines))
    return ""


def previous_run(
    session: Session, run_id: int, *, trigger: str | None = None, completed: bool = True
) -> int | None:
    """The newest run before ``run_id`` (of the same ``trigger`` when given) — only a completed
    (``ok``) one unless ``completed=False``: a run that was interrupted or failed half-way would
    report everything it did not reach as changed."""
    stmt = select(func.max(models.Run.id)).where(models.Run.id < run_id)
    if trigger:
        stmt = stmt.where(models.Run.trigger == trigger)
    if completed:
        stmt = stmt.where(models.Run.status == RunStatus.OK)
    found = session.scalar(stmt)
    return int(found) if found is not None else None


def comparison_run(session: Session, run_id: int) -> int | None:
    """The run that ``run_id``'s report and the nightly's diff compare with: for a rejudged run,
    the run it was derived from (what the changed rules changed); otherwise the newest completed
    run of the same trigger. Never a run of another kind: a calibration of two checks compared
    with a nightly of all of them would report every check it did not run as changed."""
    run = session.get(models.Run, run_id)
    if run is None:
        return None
    summary = run.summary if isinstance(run.summary, dict) else {}
    source = summary.get("derived_from")
    if isinstance(source, int) and session.get(models.Run, source) is not None:
        return source
    return previous_run(session, run_id, trigger=run.trigger)


def last_two_runs(session: Session) -> tuple[int, int]:
    """The two newest completed (``ok``) runs, older first."""
    stmt = (
        select(models.Run.id).where(models.Run.status == RunStatus.OK).order_by(models.Run.id.desc()).limit(2)
    )
    ids = list(session.scalars(stmt))
    if len(ids) < 2:
        raise UsageError("need at least two completed (ok) runs to compare (see 'zwaudit runs')")
    return ids[1], ids[0]


def incomplete(session: Session, run_ids: Iterable[int]) -> dict[int, str]:
    """The status of those of ``run_ids`` that are not complete (not ``ok``)."""
    found = session.execute(
        select(models.Run.id, models.Run.status).where(
            models.Run.id.in_(list(run_ids)), models.Run.status != RunStatus.OK
        )
    )
    return {int(i): str(s) for i, s in found}


# --- the diff -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """What one run concluded about one target: its statuses and fail codes."""

    statuses: frozenset[str]
    fail_codes: frozenset[str]
    error_codes: frozenset[str]

    @property
    def conclusive(self) -> bool:
        """Whether the target was actually judged (pass or fail), not just attempted."""
        return bool(self.statuses & {"pass", "fail"})

    def label(self) -> str:
        parts = [f"fail:{c}" for c in sorted(self.fail_codes)]
        parts += [f"error:{c}" for c in sorted(self.error_codes)]
        parts += sorted(s for s in self.statuses if s not in ("fail", "error"))
        return ",".join(parts) or "-"


@dataclass(frozen=True)
class FindingChange:
    portal_id: str
    probe: str
    target: str
    kind: str  # new, fixed, changed, unresolved
    code: str | None
    before: str
    after: str


@dataclass(frozen=True)
class IndicatorMove:
    portal_id: str
    framework: str
    indicator: str
    before: float | None
    after: float | None
    band_before: str | None
    band_after: str | None

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def dropped(self) -> bool:
        """A regression: the value fell, or a value that existed went missing."""
        if self.before is not None and self.after is None:
            return True
        d = self.delta
        return d is not None and d < -EPSILON


@dataclass
class RunDiff:
    run_a: int
    run_b: int
    changes: list[FindingChange] = field(default_factory=list)
    moves: list[IndicatorMove] = field(default_factory=list)
    #: (portal, probe) pairs present in only one run: not compared
    only_a: list[tuple[str, str]] = field(default_factory=list)
    only_b: list[tuple[str, str]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[FindingChange]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def regressions(self) -> tuple[list[FindingChange], list[IndicatorMove]]:
        return self.of_kind("new"), [m for m in self.moves if m.dropped]

    @property
    def regressed(self) -> bool:
        new, drops = self.regressions
        return bool(new or drops)

    def portals(self) -> list[str]:
        return sorted({c.portal_id for c in self.changes} | {m.portal_id for m in self.moves})

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary of the regressions per portal (the webhook payload's body)."""
        new, drops = self.regressions
        per_portal: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(
            lambda: {"new_fails": [], "indicator_drops": []}
        )
        for c in new:
            per_portal[c.portal_id]["new_fails"].append(
                {"probe": c.probe, "target": c.target, "code": c.code}
            )
        for m in drops:
            per_portal[m.portal_id]["indicator_drops"].append(
                {
                    "framework": m.framework,
                    "indicator": m.indicator,
                    "before": m.before,
                    "after": m.after,
                    "band_before": m.band_before,
                    "band_after": m.band_after,
                }
            )
        return {
            "run": self.run_b,
            "previous_run": self.run_a,
            "new_fails": len(new),
            "fixed": len(self.of_kind("fixed")),
            "indicator_drops": len(drops),
            "portals": dict(sorted(per_portal.items())),
        }


def _observations(session: Session, run_id: int) -> dict[tuple[str, str], dict[str, Observation]]:
    f = models.Finding
    raw: dict[tuple[str, str], dict[str, tuple[set[str], set[str], set[str]]]] = defaultdict(dict)
    stmt = select(f.portal_id, f.probe, f.target, f.status, f.code).where(f.run_id == run_id)
    for portal_id, probe, target, status, code in session.execute(stmt.execution_options(yield_per=5000)):
        statuses, fails, errors = raw[(portal_id, probe)].setdefault(target, (set(), set(), set()))
        statuses.add(status)
        if status == "fail" and code:
            fails.add(code)
        elif status == "error" and code:
            errors.add(code)
    return {
        pair: {
            t: Observation(frozenset(s), frozenset(fc), frozenset(ec)) for t, (s, fc, ec) in targets.items()
        }
        for pair, targets in raw.items()
    }


def compare_targets(
    portal_id: str, probe: str, before: dict[str, Observation], after: dict[str, Observation]
) -> Iterable[FindingChange]:
    """The changes on one (portal, probe) pair, target by target. Pure; unit-tested."""
    for target in sorted(before.keys() | after.keys()):
        a, b = before.get(target), after.get(target)
        a_label, b_label = (a.label() if a else "-"), (b.label() if b else "-")
        a_fails = a.fail_codes if a else frozenset()
        b_fails = b.fail_codes if b else frozenset()
        for code in sorted(b_fails - a_fails):
            yield FindingChange(portal_id, probe, target, "new", code, a_label, b_label)
        for code in sorted(a_fails - b_fails):
            kind = "fixed" if b is not None and b.conclusive else "unresolved"
            yield FindingChange(portal_id, probe, target, kind, code, a_label, b_label)
        if a_fails == b_fails and a_label != b_label:
            yield FindingChange(portal_id, probe, target, "changed", None, a_label, b_label)


def _indicators(session: Session, run_id: int) -> dict[tuple[str, str, str], tuple[float | None, str | None]]:
    iv = models.IndicatorValue
    stmt = select(iv.portal_id, iv.framework, iv.indicator, iv.value, iv.band).where(iv.run_id == run_id)
    return {(p, fw, ind): (v, band) for p, fw, ind, v, band in session.execute(stmt)}


def compare_indicators(
    before: dict[tuple[str, str, str], tuple[float | None, str | None]],
    after: dict[tuple[str, str, str], tuple[float | None, str | None]],
) -> list[IndicatorMove]:
    """Indicators whose value, presence or band changed (only portals scored in both runs)."""
    portals_a = {k[0] for k in before}
    portals_b = {k[0] for k in after}
    moves = []
    for key in sorted(before.keys() | after.keys()):
        if key[0] not in portals_a or key[0] not in portals_b:
            continue
        va, ba = before.get(key, (None, None))
        vb, bb = after.get(key, (None, None))
        same_value = (va is None and vb is None) or (
            va is not None and vb is not None and abs(va - vb) <= EPSILON
        )
        if not same_value or ba != bb:
            moves.append(IndicatorMove(key[0], key[1], key[2], va, vb, ba, bb))
    return moves


def diff_runs(session: Session, run_a: int, run_b: int) -> RunDiff:
    """What changed from ``run_a`` to ``run_b``."""
    for run_id in (run_a, run_b):
        if session.get(models.Run, run_id) is None:
            raise UsageError(f"run {run_id} does not exist (see 'zwaudit runs')")
    obs_a, obs_b = _observations(session, run_a), _observations(session, run_b)
    diff = RunDiff(run_a, run_b)
    diff.only_a = sorted(obs_a.keys() - obs_b.keys())
    diff.only_b = sorted(obs_b.keys() - obs_a.keys())
    for pair in sorted(obs_a.keys() & obs_b.keys()):
        diff.changes.extend(compare_targets(pair[0], pair[1], obs_a[pair], obs_b[pair]))
    diff.moves = compare_indicators(_indicators(session, run_a), _indicators(session, run_b))
    return diff
