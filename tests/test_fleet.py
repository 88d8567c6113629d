"""The fleet end to end: worker processes and the coordinator on PostgreSQL against the sandbox.

The main test is issue 15's "done when": two ``zwaudit worker`` processes and ``zwaudit nightly``
(the coordinator) audit two sandbox provinces; one worker is SIGKILLed (by PID) in the middle of
a crawl job. The findings must equal a single-process run's, every job must end ``succeeded``
(the killed one on a later attempt), no finding row may be duplicated, the evidence bundle's
sha256 check must pass although the evidence was written on two "machines" (separate evidence
roots), and the sandbox must never have served a host more requests at once than the profiles'
``politeness.concurrency_per_host``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from aiohttp import ClientSession, web
from fleet_harness import (
    doing,
    fleet_config,
    job_rows,
    libpq,
    scratch_database,
    start_coordinator,
    start_worker,
    stop,
    wait_for,
    workers_alive,
)
from sqlalchemy import select

from sandbox.server import Sandbox, start
from sandbox.web.kit import Concurrency
from zwaudit.app.fleet.app import conninfo
from zwaudit.app.fleet.hosts import host_leases
from zwaudit.app.orchestrator import run_audit
from zwaudit.config import load_config
from zwaudit.db import models, store
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.errors import RunError
from zwaudit.evidence import EvidenceWriter
from zwaudit.evidence_store import DatabaseStore
from zwaudit.findings import Finding
from zwaudit.outcomes import Status

pytestmark = pytest.mark.postgres

PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "config"
PORTALS = ["sbx-shu", "sbx-jin"]
CHECKS = ["guide_completeness", "link_health", "auth_https"]  # two crawl-based, one browser


@pytest.fixture(scope="module")
def two_provinces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = start(PORTALS, base_port=0, directory=tmp_path_factory.mktemp("fleet-sandbox"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        with scratch_database() as url:
            yield url
    except psycopg.OperationalError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI and is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")


def finding_keys(url: str, run_id: int) -> list[tuple[str, str, str, str, str | None]]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.scalars(select(models.Finding).where(models.Finding.run_id == run_id))
            return [(f.portal_id, f.probe, f.target, f.status, f.code) for f in rows]
    finally:
        engine.dispose()


def worker_pid_of(job_worker: int, homes: list[Path]) -> int | None:
    """The PID of the worker process that logged it runs jobs as procrastinate worker ``job_worker``."""
    pattern = re.compile(rf"on worker {job_worker} pid (\d+)")
    for home in homes:
        match = pattern.search((home / "worker.log").read_text(errors="replace"))
        if match:
            return int(match.group(1))
    return None


@pytest.mark.browser
@pytest.mark.timeout(420)
@pytest.mark.long(90)
def test_two_workers_match_one_process_and_lose_nothing_to_a_sigkill(
    two_provinces: Sandbox, pg_url: str, tmp_path: Path
) -> None:
    cfg = fleet_config(
        two_provinces.config_dir,
        tmp_path / "cfg",
        portals=PORTALS,
        checks=CHECKS,
        portal_channel_only=True,
        render=False,
    )

    # the single-process reference (SQLite, the orchestrator as `zwaudit audit` runs it)
    ref_url = f"sqlite:///{tmp_path / 'ref.sqlite'}"
    ref_engine = make_engine(ref_url)
    upgrade(ref_engine)
    reference = run_audit(
        load_config(cfg), session_factory(ref_engine), portal_ids=None, probes=None, db_url=ref_url
    )
    ref_engine.dispose()
    expected = Counter(finding_keys(ref_url, reference.run_id))
    assert expected and any(k[3] == "fail" for k in expected)  # the comparison has teeth

    two_provinces.concurrency.reset()
    homes = [tmp_path / "w0", tmp_path / "w1"]
    workers = [start_worker(cfg, pg_url, home) for home in homes]
    coordinator = start_coordinator(cfg, pg_url, tmp_path / "coord")
    killed: dict[str, int] = {}
    try:
        assert wait_for(lambda: workers_alive(pg_url) == 2, 60)  # both workers up before one dies
        # a crawl job under way on some worker: kill that worker's process by PID
        assert wait_for(lambda: any(j["task"] == "zwaudit:crawl_portal" for j in doing(pg_url)), 90)
        job = next(j for j in doing(pg_url) if j["task"] == "zwaudit:crawl_portal")
        assert wait_for(lambda: worker_pid_of(job["worker_id"], homes) is not None, 10)
        pid = worker_pid_of(job["worker_id"], homes)
        assert pid is not None and pid in {w.pid for w in workers}
        os.kill(pid, signal.SIGKILL)
        killed = {"job": job["id"], "pid": pid}
        assert coordinator.wait(timeout=360) == 0, (tmp_path / "coord" / "nightly.log").read_text()[-3000:]
    finally:
        stop([coordinator, *workers])

    jobs = job_rows(pg_url)
    assert len(jobs) == len(PORTALS) * (1 + len(CHECKS))
    assert {j["status"] for j in jobs} == {"succeeded"}, jobs
    retried = next(j for j in jobs if j["id"] == killed["job"])
    assert retried["attempts"] >= 2  # the killed job ran again, to the end
    assert len({j["key"] for j in jobs}) == len(jobs)

    engine = make_engine(pg_url)
    sf = session_factory(engine)
    with sf() as session:
        run = session.scalars(select(models.Run)).one()
        assert run.trigger == "nightly" and run.status == "ok"
        assert killed["job"] in run.summary["fleet"]["retried_stalled"]
    got = finding_keys(pg_url, run.id)
    assert len(got) == len(set(got))  # no duplicated finding rows
    assert Counter(got) == expected
    # a two-phase check's observation is recorded and published, so the run can be rejudged
    with sf() as session:
        observed = list(
            session.scalars(select(models.Observation).where(models.Observation.run_id == run.id))
        )
        assert observed
        for row in observed:
            blob = session.get(models.EvidenceBlob, row.path)
            assert blob is not None and blob.sha256 == row.sha256

    # the bundle proves every evidence file, although two separate roots received them
    bundle = tmp_path / "coord" / "out" / f"evidence-run{run.id}.zip"
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["missing"] == [] and manifest["mismatched"] == []
        files = [e for e in manifest["files"] if e["kind"] == "evidence"]
        assert files and all(e["verified"] for e in files)
        for line in zf.read("SHA256SUMS").decode().splitlines():
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest
    written = {
        p.relative_to(h / "evidence").as_posix()
        for h in homes
        for p in (h / "evidence").rglob("*")
        if p.is_file()
    }
    assert {e["path"].removeprefix("evidence/") for e in files} <= written
    engine.dispose()

    # politeness held across processes: no listener ever served more at once than allowed
    limit = load_config(cfg).portals["sbx-shu"].politeness.concurrency_per_host
    peaks = two_provinces.concurrency.peaks()
    assert peaks and max(peaks.values()) <= limit, peaks


def one_crawl_job_config(sandbox: Sandbox, dest: Path) -> Path:
    """The smallest run with a crawl job: sbx-shu's portal channel, crawled without the browser,
    and guide_completeness (what the tests using it test is the run's jobs and workers)."""
    return fleet_config(
        sandbox.config_dir,
        dest,
        portals=["sbx-shu"],
        checks=["guide_completeness"],
        portal_channel_only=True,
        render=False,
    )


@pytest.mark.timeout(240)
@pytest.mark.long(15)
def test_a_restarted_coordinator_resumes_its_run(two_provinces: Sandbox, pg_url: str, tmp_path: Path) -> None:
    """The coordinator dies after planning; the next nightly finishes that run, enqueueing nothing
    twice. On the way, a worker stopped with SIGTERM mid-job finishes that job before it exits.
    The portal channel alone: what is tested is the run's jobs, not the breadth of a crawl."""
    cfg = one_crawl_job_config(two_provinces, tmp_path / "cfg")
    first = start_coordinator(cfg, pg_url, tmp_path / "c1")  # no worker yet: the jobs wait
    try:
        assert wait_for(lambda: len(_safe_jobs(pg_url)) == 2, 60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop([first])
    graceful = start_worker(cfg, pg_url, tmp_path / "w1")
    second = start_coordinator(cfg, pg_url, tmp_path / "c2")
    worker = None
    try:
        # SIGTERM in the middle of the crawl: the worker finishes that job, takes no other, exits 0
        assert wait_for(lambda: any(j["task"] == "zwaudit:crawl_portal" for j in doing(pg_url)), 60)
        graceful.send_signal(signal.SIGTERM)
        assert graceful.wait(timeout=120) == 0
        crawl, check = job_rows(pg_url)
        assert (crawl["status"], crawl["attempts"]) == ("succeeded", 1)
        assert check["status"] == "todo"
        worker = start_worker(cfg, pg_url, tmp_path / "w2")
        assert second.wait(timeout=200) == 0, (tmp_path / "c2" / "nightly.log").read_text()[-3000:]
    finally:
        stop([second, graceful, *([worker] if worker else [])])
    jobs = job_rows(pg_url)
    assert [(j["status"], j["attempts"]) for j in jobs] == [("succeeded", 1), ("succeeded", 1)]
    assert "resuming nightly run 1" in (tmp_path / "c2" / "nightly.log").read_text()
    engine = make_engine(pg_url)
    with session_factory(engine)() as session:
        runs = session.scalars(select(models.Run)).all()
        assert [(r.id, r.status) for r in runs] == [(1, "ok")]
        assert runs[0].summary["fleet"]["resumed"] is True
    engine.dispose()


def _safe_jobs(url: str) -> list[dict[str, object]]:
    try:
        return job_rows(url)
    except psycopg.errors.UndefinedTable:
        return []


def test_evidence_in_the_database_round_trips_with_its_sha256(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    sf = session_factory(engine)
    run_id = store.start_run(sf, "nightly")
    run_dir = store.evidence_run_dir(sf, run_id)
    writer = EvidenceWriter(run_id, "p", "c", root=tmp_path / "worker", run_dir=run_dir)
    ref = writer.text("dom_excerpt", "page.html", "<p>名单</p>")
    finding = Finding("c", "t", Status.PASS, evidence=[ref])
    assert DatabaseStore(tmp_path / "worker", sf).publish([finding]) == 1
    coordinator = DatabaseStore(tmp_path / "coordinator", sf)
    assert coordinator.materialise(run_dir) == 1
    copied = tmp_path / "coordinator" / str(ref.path)
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == ref.sha256
    assert coordinator.materialise(run_dir) == 0  # already there, same bytes
    (tmp_path / "worker" / str(ref.path)).write_text("altered")
    with pytest.raises(RunError, match="changed after it was recorded"):
        DatabaseStore(tmp_path / "worker", sf).publish([finding])
    engine.dispose()


def test_run_directories_follow_the_database_not_its_url(pg_url: str) -> None:
    """Two workers reaching one PostgreSQL by different host names name a run's files alike."""
    upgrade(make_engine(pg_url))
    other = (
        pg_url.replace("@127.0.0.1:", "@localhost:")
        if "@127.0.0.1:" in pg_url
        else pg_url.replace("@localhost:", "@127.0.0.1:")
    )
    if other == pg_url:
        pytest.skip("the test database is reached by neither 127.0.0.1 nor localhost")
    first, second = session_factory(make_engine(pg_url)), session_factory(make_engine(other))
    run_id = store.start_run(first, "nightly")
    assert store.evidence_run_dir(first, run_id) == store.evidence_run_dir(second, run_id)


def test_host_leases_exclude_across_connections(pg_url: str) -> None:
    """Two jobs sharing a host never hold it at once; a holder that vanishes frees it."""
    info = conninfo(pg_url)
    spans: list[tuple[str, float, float]] = []

    async def job(name: str, hosts: list[str]) -> None:
        async with host_leases(info, hosts):
            begin = time.monotonic()
            await asyncio.sleep(0.3)
            spans.append((name, begin, time.monotonic()))

    async def main() -> None:
        await asyncio.gather(job("a", ["x:1", "auth:443"]), job("b", ["auth:443", "y:1"]), job("c", ["z:1"]))

    asyncio.run(main())
    by = {name: (begin, end) for name, begin, end in spans}
    (a0, a1), (b0, b1) = by["a"], by["b"]
    assert a1 <= b0 or b1 <= a0  # a and b share auth:443: one after the other
    c0, _ = by["c"]
    assert c0 < max(a1, b1) - 0.2  # c shares nothing: it did not wait for them

    with psycopg.connect(libpq(pg_url), autocommit=True) as conn:  # a holder that dies
        from zwaudit.app.fleet.app import advisory_key

        conn.execute("SELECT pg_advisory_lock(%s)", (advisory_key("zwaudit-host:auth:443"),))

        async def blocked() -> bool:
            try:
                await asyncio.wait_for(job("d", ["auth:443"]), 1.0)
            except TimeoutError:
                return True
            return False

        assert asyncio.run(blocked())
    asyncio.run(asyncio.wait_for(job("e", ["auth:443"]), 3.0))  # the connection closed: free again


def test_the_sandbox_counts_requests_in_flight_per_listener() -> None:
    """The counter the politeness assertion relies on does see concurrency when there is some."""
    counter = Concurrency()

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application(middlewares=[counter.middleware()])
        app.router.add_get("/", slow)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with ClientSession() as http:
            await asyncio.gather(*(http.get(f"http://127.0.0.1:{port}/") for _ in range(3)))
            await http.get(f"http://127.0.0.1:{port}/")
        await runner.cleanup()

    asyncio.run(main())
    ((host, peak),) = counter.peaks().items()
    assert host.startswith("127.0.0.1:") and peak == 3
    assert counter.requests()[host] == 4


def test_sqlite_stays_single_machine(tmp_path: Path) -> None:
    """`queue:` in settings changes nothing on SQLite; asking for workers there is a usage error."""
    from click.testing import CliRunner

    from zwaudit.app.cli import cli
    from zwaudit.app.cli.nightly import distributed

    cfg = tmp_path / "cfg"
    (cfg / "portals").mkdir(parents=True)
    (cfg / "portals" / "p.yaml").write_text(
        "id: p\nname: P\nhome_url: https://127.0.0.1:9/\n", encoding="utf-8"
    )
    (cfg / "settings.yaml").write_text("queue: {stalled_after_s: 5}\n", encoding="utf-8")
    config = load_config(cfg)
    sqlite = f"sqlite:///{tmp_path / 'z.sqlite'}"
    assert distributed(config, sqlite, None) is False
    assert distributed(config, "postgresql+psycopg://u@h/d", None) is True
    assert distributed(load_config(PROJECT_CONFIG), "postgresql+psycopg://u@h/d", None) is False
    assert distributed(load_config(PROJECT_CONFIG), "postgresql+psycopg://u@h/d", 0) is True
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(cfg), "--db", sqlite, "nightly", "--workers", "2"])
    assert result.exit_code == 2 and "--workers needs a PostgreSQL database" in result.output
    result = runner.invoke(cli, ["--config", str(cfg), "--db", sqlite, "worker"])
    assert result.exit_code == 2 and "needs a PostgreSQL database" in result.output


@pytest.mark.timeout(240)
@pytest.mark.long(40)
def test_nightly_workers_option_runs_a_fleet_of_its_own(
    two_provinces: Sandbox, pg_url: str, tmp_path: Path
) -> None:
    """`nightly --workers 1` with no `queue:` in settings: the coordinator starts a local worker,
    the run completes through the queue, and the worker is stopped afterwards."""
    cfg = one_crawl_job_config(two_provinces, tmp_path / "cfg")
    (cfg / "settings.yaml").write_text("checks: [guide_completeness]\n", encoding="utf-8")
    coordinator = start_coordinator(cfg, pg_url, tmp_path / "c", "--workers", "1")
    try:
        assert coordinator.wait(timeout=200) == 0, (tmp_path / "c" / "nightly.log").read_text()[-3000:]
    finally:
        stop([coordinator])
    assert [(j["task"], j["status"]) for j in job_rows(pg_url)] == [
        ("zwaudit:crawl_portal", "succeeded"),
        ("zwaudit:run_check", "succeeded"),
    ]
    assert workers_alive(pg_url) == 0  # the local worker stopped cleanly (it unregisters)
    keys = finding_keys(pg_url, 1)
    assert keys and {k[1] for k in keys} == {"guide_completeness"}
