"""``zwaudit calibrate``: audit the sandbox and print precision and recall against its ground truth."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.calibration import CalibrationReport, Score, calibrate
from zwaudit.app.cli.context import AppContext
from zwaudit.app.progress import LogProgress
from zwaudit.config.loader import load_config
from zwaudit.db.engine import default_url
from zwaudit.errors import EXIT_REGRESSION, UsageError


def report_tables(report: CalibrationReport) -> list[Table]:
    """Scores per check and reason code, then errors apart from TP/FP/FN."""
    scores = Table(title=f"calibration run {report.run_id}")
    for col in ("check", "code", "TP", "FP", "FN", "precision", "recall"):
        scores.add_column(
            col, justify="right" if col in ("TP", "FP", "FN", "precision", "recall") else "left"
        )
    for probe, total in sorted(report.per_probe.items()):
        for (p, code), s in sorted(report.per_code.items()):
            if p == probe:
                scores.add_row(
                    probe, code, str(s.tp), str(s.fp), str(s.fn), f"{s.precision:.2f}", f"{s.recall:.2f}"
                )
        scores.add_row(
            probe,
            "all",
            str(total.tp),
            str(total.fp),
            str(total.fn),
            f"{total.precision:.2f}",
            f"{total.recall:.2f}",
            style="bold",
        )
    tables = [scores, family_table(report)]
    if report.false_positives or report.false_negatives:
        misses = Table(title="false positives and false negatives")
        for col in ("kind", "portal", "check", "code", "target"):
            misses.add_column(col)
        for r in report.false_positives:
            misses.add_row("FP", r.portal_id, r.probe, r.code or "", r.target)
        for pid, probe, target, code in report.false_negatives:
            misses.add_row("FN", pid, probe, code, target)
        tables.append(misses)
    tables += hostile_tables(report)
    if report.errors:
        errors = Table(title=f"errors ({len(report.errors)}; never counted as TP)")
        for col in ("portal", "check", "kind", "target", "message"):
            errors.add_column(col)
        for r in report.errors:
            errors.add_row(r.portal_id, r.probe, r.code or "", r.target, r.message[:120])
        tables.append(errors)
    return tables


def family_table(report: CalibrationReport) -> Table:
    """Scores per style family and check, each family's total, and the overall total."""
    table = Table(title="per family (sandbox-1: the portals zwaudit was built against)")
    for col in ("family", "check", "TP", "FP", "FN", "precision", "recall"):
        table.add_column(col, justify="left" if col in ("family", "check") else "right")

    def cells(s: Score) -> list[str]:
        return [str(s.tp), str(s.fp), str(s.fn), f"{s.precision:.2f}", f"{s.recall:.2f}"]

    for family, checks in sorted(report.per_family.items()):
        total = Score()
        for probe, s in sorted(checks.items()):
            table.add_row(family, probe, *cells(s))
            total.tp, total.fp, total.fn = total.tp + s.tp, total.fp + s.fp, total.fn + s.fn
        table.add_row(family, "all", *cells(total), style="bold")
    table.add_row("overall", "all", *cells(report.overall), style="bold")
    return table


def chosen_provinces(provinces: tuple[str, ...], families: tuple[str, ...]) -> list[str] | None:
    """The sandbox provinces to calibrate on (None: all); ``--family`` narrows ``--province``."""
    from sandbox.provinces import FAMILIES, PROVINCES, family_of

    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise UsageError(f"unknown family {unknown[0]!r} (known: {', '.join(FAMILIES)})")
    if not families:
        return list(provinces) or None
    chosen = [p for p in (provinces or tuple(PROVINCES)) if p in PROVINCES and family_of(p) in families]
    if not chosen:
        raise UsageError(f"no sandbox province of family {', '.join(families)} among {', '.join(provinces)}")
    return chosen


def hostile_tables(report: CalibrationReport) -> list[Table]:
    """Expected errors per check, the hostile targets got wrong, and the politeness/safety counters."""
    tables: list[Table] = []
    if report.per_error:
        scores = Table(title="hostile targets: expected errors")
        for col in ("check", "right kind", "wrong kind", "verdict", "missing"):
            scores.add_column(col, justify="left" if col == "check" else "right")
        for probe, s in sorted(report.per_error.items()):
            scores.add_row(probe, str(s.correct), str(s.wrong_kind), str(s.verdict), str(s.missing))
        tables.append(scores)
    if report.error_mismatches:
        wrong = Table(title="hostile targets not reported as their kind of error")
        for col in ("problem", "portal", "check", "expected", "got", "target"):
            wrong.add_column(col)
        for m in report.error_mismatches:
            wrong.add_row(m.problem, m.portal_id, m.probe, m.expected, m.got, m.target)
        tables.append(wrong)
    for pid, c in sorted(report.hostile.items()):
        counters = Table(title=f"{pid}: politeness and data safety (want 0; traps at most {c.trap_bound})")
        counters.add_column("counter")
        counters.add_column("value", justify="right")
        rows = [
            ("requests to Disallow paths", c.disallowed_requests),
            ("Retry-After violations", c.retry_after_violations),
            (f"Crawl-delay violations (of {c.crawl_delay_pages} page requests)", c.crawl_delay_violations),
            ("  of which not counted: a redirect followed (one fetch)", c.crawl_delay_redirect_hops),
            *((f"trap pages fetched: {t}", n) for t, n in c.trap_pages.items()),
            ("unneutralised CSV cells", c.csv_unneutralised),
            ("unescaped payloads in the report", c.report_unescaped),
            *((f"test account's personal data: {w}", n) for w, n in c.personal_data.items()),
        ]
        for name, value in rows:
            counters.add_row(name, str(value))
        tables.append(counters)
    return tables


@click.command("calibrate")
@click.option(
    "--province",
    "provinces",
    multiple=True,
    metavar="ID",
    help="Calibrate on this province only (repeatable).",
)
@click.option(
    "--family",
    "families",
    multiple=True,
    metavar="NAME",
    help="Calibrate on the provinces of this style family only: sandbox-1, real-structure (repeatable).",
)
@click.option(
    "--probe", "probes", multiple=True, metavar="NAME", help="Calibrate this check only (repeatable)."
)
@click.option(
    "--hostile/--no-hostile",
    default=True,
    show_default=True,
    help="Include the hostile province sbx-xian when no --province is given (it adds about 13 "
    "minutes; the sandbox's own default set, the test fixture's and the demo's, leaves it out).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="Exit 1 when a check's precision or recall is below this.",
)
@click.pass_obj
def command(
    app: AppContext,
    provinces: tuple[str, ...],
    families: tuple[str, ...],
    probes: tuple[str, ...],
    hostile: bool,
    threshold: float,
) -> None:
    """Start the sandbox, audit it, and score every check against the ground truth, per check and
    per style family."""
    from sandbox import server

    chosen = chosen_provinces(provinces or (tuple(server.all_provinces()) if hostile else ()), families)
    sf = app.sessions()
    console = Console(width=None if sys.stdout.isatty() else 200)
    failing: list[str] = []
    problems: list[str] = []
    run_ids: list[int] = []
    for group in calibration_passes(chosen):
        report = _calibrate_pass(app, sf, group, probes)
        run_ids.append(report.run_id)
        for table in report_tables(report):
            console.print(table)
        failing += report.below(threshold)
        problems += report.hostile_problems()
    if failing:
        click.echo(f"below the threshold {threshold:.2f}: {', '.join(dict.fromkeys(failing))}", err=True)
    if problems:
        click.echo(f"hostile province: {len(problems)} problem(s): {'; '.join(problems[:10])}", err=True)
    if failing or problems:
        sys.exit(EXIT_REGRESSION)
    runs = ", ".join(str(r) for r in run_ids)
    click.echo(
        f"calibration run{'s' if len(run_ids) > 1 else ''} {runs}: every check at or above {threshold:.2f}"
    )


def calibration_passes(chosen: list[str] | None) -> list[list[str] | None]:
    """The sandbox provinces of each calibration pass: the opt-in hostile ones (sbx-xian) alone,
    after the others. Its tarpits, ``while(true){}`` page and ever-growing DOM in the same crawl
    browser and on the same cores starved the other provinces' script-drawn portals (sbx-zhe,
    sbx-min, sbx-zj stored no portal item in a run of all ten at once)."""
    from sandbox import server

    if chosen is None:
        return [None]
    hostile = [p for p in chosen if p not in server.default_provinces()]
    ordinary = [p for p in chosen if p not in hostile]
    return [group for group in (ordinary, hostile) if group]


def _calibrate_pass(
    app: AppContext, sf: sessionmaker[Session], provinces: list[str] | None, probes: tuple[str, ...]
) -> CalibrationReport:
    from sandbox import server

    with tempfile.TemporaryDirectory(prefix="zwaudit-calibrate-") as tmp:
        sb = server.start(provinces, base_port=0, directory=Path(tmp))
        try:
            config = load_config(sb.config_dir)
            _, report = calibrate(
                config,
                sf,
                ground_truth_dir=sb.ground_truth_dir,
                captcha_dir=sb.captcha_dir,
                probes=list(probes) or None,
                db_url=app.db_url or default_url(),
                progress=LogProgress(),
            )
        finally:
            sb.stop()
    return report
