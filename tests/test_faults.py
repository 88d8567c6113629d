"""Fault injection: ``zwaudit nightly`` killed (SIGKILL, by pid) at each stage, its database cut
mid-run, its evidence disk full — and what the next run makes of it.

The nightly runs as a real process on the sandbox, restricted to one province and two checks (one
browser, one crawl) so that every stage runs in seconds. It pauses at a named stage
(``ZWAUDIT_FAULT_PAUSE_AT``, :mod:`zwaudit.app.faults`) and writes a marker; the test kills it there,
so the kill lands at a known point without sleeps.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults_support import Nightly, findings_of, restricted_config, runs, verify_bundle
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from tcp_proxy import CuttableProxy

from sandbox.server import Sandbox
from zwaudit.app.nightly import NightlyOptions, run_nightly
from zwaudit.config import load_config
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.evidence import EvidenceStorageError, sha256_file

STAGES = ("crawl", "probes", "score", "export")
# Every stage is killed on one backend or the other (each backend also takes over a stale lock
# and reruns): the sequence costs two nightly processes a stage, so the four are shared out.
STAGES_BY_BACKEND = {"sqlite": ("crawl", "score"), "postgresql": ("probes", "export")}
assert sorted(s for pair in STAGES_BY_BACKEND.values() for s in pair) == sorted(STAGES)


@pytest.fixture(scope="module")
def fault_config(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return restricted_config(sandbox.config_dir, tmp_path_factory.mktemp("faults") / "config")


def sessions_for(url: str) -> tuple[sessionmaker[Session], Engine]:
    engine = make_engine(url)
    upgrade(engine)
    return session_factory(engine), engine


@pytest.mark.long(40)
def test_nightly_killed_at_each_stage_is_taken_over_and_the_rerun_completes(
    db_url: str, fault_config: Path, tmp_path: Path
) -> None:
    """On SQLite a clean run comes first: the rerun must store exactly its findings, and the
    regression check must compare with it, never with a killed run. On PostgreSQL the killed runs
    come first (a clean run costs a nightly process): the rerun must store exactly what the run
    killed after the audit stored, and with no completed run before it, compare with nothing."""
    faults, out = tmp_path / "faults", tmp_path / "out"
    faults.mkdir()
    backend = make_url(db_url).get_backend_name()
    sf, engine = sessions_for(db_url)
    clean_first = backend == "sqlite"
    if clean_first:
        code, _out, err = Nightly(fault_config, db_url, out, faults).finish()
        assert code == 0, err

    stages = STAGES_BY_BACKEND[backend]
    for stage in stages:  # each run is killed; the next one finds the lock of a dead process
        Nightly(fault_config, db_url, out, faults, stage).kill_when_paused()
    code, stdout, err = Nightly(fault_config, db_url, out, faults).finish()
    assert code == 0, err
    assert "took over stale lock 'nightly'" in err

    statuses = runs(sf)
    *earlier, final = sorted(statuses)
    killed = earlier[1:] if clean_first else earlier
    assert len(killed) == len(stages)
    assert statuses[final] == "ok"
    assert [statuses[k] for k in killed] == ["interrupted"] * len(stages)
    got = findings_of(sf, final)
    assert got and max(got.values()) == 1  # nothing duplicated
    assert {k[1] for k in got} == {"auth_https", "guide_completeness"}
    if clean_first:
        clean_id = earlier[0]
        assert statuses[clean_id] == "ok"
        assert got == findings_of(sf, clean_id)  # nothing lost
        assert f"compared with run {clean_id} (the last completed nightly run)" in stdout
    else:
        assert "no completed earlier nightly run to compare with" in stdout  # not a killed one
    for run_id, stage in zip(killed, stages, strict=True):
        partial = findings_of(sf, run_id)
        assert max(partial.values(), default=1) == 1 and set(partial) <= set(got), stage
        if stage in ("score", "export"):  # killed after the audit: every finding was stored
            assert partial == got, stage
    assert verify_bundle(out / f"evidence-run{final}.zip") > 1
    # every evidence row of every run points at a whole file
    with sf() as session:
        for row in session.scalars(select(models.Evidence).where(models.Evidence.path.is_not(None))):
            path = Path(os.environ["ZWAUDIT_VAR"]) / "runs" / str(row.path)
            assert sha256_file(path) == row.sha256
    # the killed runs' crawl resume state was pruned
    jobs = Path(os.environ["ZWAUDIT_VAR"]) / "crawl-jobs"
    assert not (list(jobs.glob("run-*")) if jobs.exists() else [])
    engine.dispose()


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    engine = create_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield pg_database


@pytest.mark.long(30)
def test_postgresql_lost_mid_run_is_one_clear_error_then_a_clean_rerun(
    pg_url: str, fault_config: Path, tmp_path: Path
) -> None:
    """PostgreSQL "restarts" under a running nightly (a proxy between them resets every connection
    and refuses new ones; the machine's server is never touched)."""
    faults, out = tmp_path / "faults", tmp_path / "out"
    faults.mkdir()
    real = make_url(pg_url)
    proxy = CuttableProxy(real.host or "127.0.0.1", real.port or 5432).start()
    try:
        via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        run = Nightly(fault_config, via_proxy, out, faults, "probes")
        run.wait_paused()
        proxy.cut()
        run.release()
        code, _stdout, err = run.finish()
        last = err.strip().splitlines()[-1]
        assert code == 3, err
        assert last.startswith("zwaudit: error: nightly: the database was lost during the audit: "), err
        assert "Traceback" not in err
        proxy.restore()  # the server is back
        code, _stdout, err = Nightly(fault_config, via_proxy, out, faults).finish()
        assert code == 0, err
    finally:
        proxy.stop()
    sf, engine = sessions_for(pg_url)
    statuses = runs(sf)
    assert list(statuses.values()) == ["interrupted", "ok"]
    final = max(statuses)
    assert max(findings_of(sf, final).values()) == 1
    assert verify_bundle(out / f"evidence-run{final}.zip") > 1
    engine.dispose()


def mount_full_tmpfs(where: Path) -> bool:
    """A 1 MiB tmpfs filled to the last byte; False where mounting is not allowed."""
    where.mkdir(parents=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True, check=False
    )
    if done.returncode != 0:
        return False
    try:
        with (where / "filler").open("wb") as fh:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    (where / "runs").mkdir(exist_ok=True)  # a directory still fits; file contents do not
    return True


def assert_no_half_written_finding(sf: sessionmaker[Session], root: Path) -> None:
    with sf() as session:
        probes = set(session.scalars(select(models.Finding.probe)))
        for row in session.scalars(select(models.Evidence).where(models.Evidence.path.is_not(None))):
            assert sha256_file(root / str(row.path)) == row.sha256
    assert "auth_https" not in probes  # its evidence could not be written: none of it is stored


def test_evidence_disk_full_is_a_clear_error_naming_the_path(
    fault_config: Path, tmp_path: Path, sqlite_url: str
) -> None:
    """A real full disk (a tmpfs), where the machine lets us mount one."""
    disk = tmp_path / "disk"
    if not mount_full_tmpfs(disk):
        pytest.skip("mounting a tmpfs is not permitted here (the injected variant below still runs)")
    faults = tmp_path / "faults"
    faults.mkdir()
    try:
        run = Nightly(
            fault_config,
            sqlite_url,
            tmp_path / "out",
            faults,
            extra_env={"ZWAUDIT_EVIDENCE": str(disk / "runs")},
        )
        code, _stdout, err = run.finish()
        sf, engine = sessions_for(sqlite_url)
        assert_no_half_written_finding(sf, disk / "runs")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    last = err.strip().splitlines()[-1]
    assert code == 3, err
    assert last.startswith(f"zwaudit: error: evidence storage: cannot write {disk / 'runs'}/"), err
    assert "No space left on device" in last
    assert list(runs(sf).values()) == ["failed"]
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'faults.sqlite'}"


def test_evidence_disk_full_injected(
    fault_config: Path, tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same, everywhere: writes under the evidence root fail with ENOSPC after a few bytes."""
    root = tmp_path / "evidence"
    monkeypatch.setenv("ZWAUDIT_EVIDENCE", str(root))
    real_write = Path.write_text

    def full(self: Path, data: str, *args: object, **kwargs: object) -> int:
        if root in self.parents:
            real_write(self, data[:3], *args, **kwargs)  # type: ignore[arg-type]  # a partial file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write(self, data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full)
    sf, engine = sessions_for(sqlite_url)
    config = load_config(fault_config)
    options = NightlyOptions(portal_ids=["sbx-shu"], out=tmp_path / "out")
    with pytest.raises(EvidenceStorageError, match=f"cannot write {root}/.*: No space left on device"):
        run_nightly(config, sf, db_url=sqlite_url, options=options)
    assert_no_half_written_finding(sf, root)
    # the partial text file was removed (a screenshot written whole before the failure may stay)
    assert [p.name for p in root.rglob("*") if p.is_file() and p.suffix != ".png"] == []
    assert list(runs(sf).values()) == ["failed"]
    engine.dispose()
