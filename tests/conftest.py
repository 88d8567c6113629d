"""Shared fixtures.

Storage tests run against SQLite and PostgreSQL. Each pytest session creates its own PostgreSQL
database (``zwaudit_test_<pid>``) so concurrent runs never collide; with ``CI=true`` an unreachable
PostgreSQL is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.db.engine import make_engine, session_factory, upgrade

pytest_plugins = ["sandbox.pytest_plugin", "probe_fixtures"]

PG_ADMIN_URL = os.environ.get("ZWAUDIT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI a missing browser is a failure: the browser tests must run, never skip."""
    if IN_CI and not Path("/usr/bin/chromium").exists():
        raise pytest.UsageError("CI=true but /usr/bin/chromium is missing: run scripts/bootstrap.sh")


# the weight of a test neither measured nor marked ``long``: a browser test takes seconds, most
# others less
BROWSER_TEST_S = 3.0
DEFAULT_TEST_S = 0.1
#: each test's wall time in a run of the whole suite (bench/suite_cpu.py --durations): the weights
#: the units are sent by. Estimates alone sent the deadline tests (seconds of waiting, weighed as
#: three quick tests) last, to finish alone after every other worker was done.
DURATIONS = Path(__file__).with_name("durations.json")


def measured_durations(path: Path = DURATIONS) -> dict[str, float]:
    """``path``'s wall times by test id; none (estimates only) when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the suite for ``make test`` (xdist ``--dist loadgroup --no-loadscope-reorder``).

    A test marked ``long(seconds)`` is a work unit of its own; every other test stays with its
    file (so a module fixture starts once per file). Units are sent longest first: the suite is
    as long as its longest chain, so the long tests must start at once, side by side, not queue
    behind a worker's files, and the short ones fill the gaps at the end. A unit's length is the
    sum of its tests' measured times (``tests/durations.json``); a test not measured yet counts
    its ``long`` mark or an estimate. xdist's own order (most tests first) put the single 130 s
    calibration test last. Serially, the order is only regrouped; each file keeps its own order.
    """
    durations = measured_durations()
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        group = item.get_closest_marker("xdist_group")
        if group is not None:  # a test's own grouping stands
            unit = str(group.args[0] if group.args else group.kwargs.get("name", "default"))
        else:
            unit = item.nodeid if item.get_closest_marker("long") else item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group(unit))
        units.setdefault(unit, []).append(item)

    def estimate(item: pytest.Item) -> float:
        if item.nodeid in durations:
            return durations[item.nodeid]
        mark = item.get_closest_marker("long")
        if mark is not None:
            return float(mark.args[0])
        return BROWSER_TEST_S if item.get_closest_marker("browser") else DEFAULT_TEST_S

    def weight(unit: list[pytest.Item]) -> float:
        return sum(estimate(item) for item in unit)

    items[:] = [item for unit in sorted(units.values(), key=weight, reverse=True) for item in unit]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how the storage tests fared on each backend, so the CI log shows both ran."""
    counts: dict[str, dict[str, int]] = {"sqlite": {}, "postgresql": {}}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "call") != "call" and outcome == "passed":
                continue
            for backend, tally in counts.items():
                if f"[{backend}" in nodeid or f"-{backend}]" in nodeid or f"-{backend}-" in nodeid:
                    tally[outcome] = tally.get(outcome, 0) + 1
    parts = []
    for backend, tally in counts.items():
        shown = ", ".join(f"{n} {outcome}" for outcome, n in sorted(tally.items())) or "none ran"
        parts.append(f"{backend}: {shown}")
    terminalreporter.write_line("storage tests by backend -- " + "; ".join(parts))


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the developer's var/ and out/ from a test."""
    monkeypatch.setenv("ZWAUDIT_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("ZWAUDIT_OUT", str(tmp_path / "out"))
    monkeypatch.delenv("ZWAUDIT_DB", raising=False)
    monkeypatch.delenv("ZWAUDIT_CONFIG", raising=False)
    monkeypatch.delenv("ZWAUDIT_EVIDENCE", raising=False)
    monkeypatch.delenv("ZWAUDIT_SECRETS", raising=False)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, dropped afterwards."""
    name = f"zwaudit_test_{os.getpid()}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL of each backend (PostgreSQL: schema wiped per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    url: str = request.getfixturevalue("pg_database")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield url


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated database of each backend."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()
