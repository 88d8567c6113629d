"""Helpers of the fault-injection tests: a restricted nightly on the sandbox run as a real process,
paused at a named stage (``zwaudit.app.faults``) and killed there; reading back what runs stored."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.db import models
from zwaudit.paths import PROJECT_ROOT

ZWAUDIT = [sys.executable, "-c", "from zwaudit.app.cli import main; main()"]
#: one province, one browser check and one crawl check: every stage runs, in seconds
CHECKS = "checks: [auth_https, guide_completeness]\n"
PORTAL = "sbx-shu"


def restricted_config(sandbox_config: Path, into: Path) -> Path:
    """The sandbox's config, two checks, and the province's portal channel alone (its department
    sites and mobile channel are left out of the profile), read without the browser (the profile's
    ``crawl.render: false``): what is killed and rerun here is the run's stages, not the breadth of
    a crawl or its rendering (tested in test_crawl_run, test_crawl_routes and the calibration).
    Without the crawl's Chromium a nightly here costs about 6.0 CPU-s instead of 7.7."""
    shutil.copytree(sandbox_config, into)
    (into / "secrets.yaml").chmod(0o600)
    (into / "settings.yaml").write_text(CHECKS, encoding="utf-8")
    profile = into / "portals" / f"{PORTAL}.yaml"
    data = yaml.safe_load(profile.read_text(encoding="utf-8"))
    data.pop("departments", None)
    data.pop("mobile", None)
    data.setdefault("crawl", {})["render"] = False
    profile.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return into


class Nightly:
    """``zwaudit nightly`` as a child process, optionally paused at ``stage``."""

    def __init__(
        self,
        config: Path,
        db_url: str,
        out: Path,
        faults: Path,
        stage: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.faults = faults
        self.stage = stage
        path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, ZWAUDIT_FAULT_DIR=str(faults), PYTHONPATH=path, **(extra_env or {}))
        env.pop("ZWAUDIT_FAULT_PAUSE_AT", None)
        if stage is not None:
            env["ZWAUDIT_FAULT_PAUSE_AT"] = stage
        for name in (f"{stage}.paused", f"{stage}.go"):
            (faults / name).unlink(missing_ok=True)
        cmd = [*ZWAUDIT, "--config", str(config), "--db", db_url, "--log-format", "text"]
        cmd += ["nightly", "--portal", PORTAL, "--out", str(out)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def wait_paused(self, timeout: float = 180) -> int:
        """The pid that reached the stage (then paused there)."""
        marker = self.faults / f"{self.stage}.paused"
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"nightly ended before {self.stage}: {out}\n{err[-3000:]}")
            assert time.monotonic() < deadline, f"nightly did not reach {self.stage}"
            time.sleep(0.05)
        return int(marker.read_text())

    def release(self) -> None:
        (self.faults / f"{self.stage}.go").write_text("go")

    def kill_when_paused(self) -> None:
        pid = self.wait_paused()
        assert pid == self.proc.pid  # the nightly process itself, not a child
        os.kill(pid, 9)  # SIGKILL: no cleanup of any kind
        self.proc.wait(30)

    def finish(self, timeout: float = 300) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


Key = tuple[str, str, str, str, str | None]


def findings_of(sf: sessionmaker[Session], run_id: int) -> Counter[Key]:
    f = models.Finding
    with sf() as session:
        rows = session.execute(
            select(f.portal_id, f.probe, f.target, f.status, f.code).where(f.run_id == run_id)
        ).all()
    return Counter((p, pr, t, s, c) for p, pr, t, s, c in rows)


def runs(sf: sessionmaker[Session]) -> dict[int, str]:
    with sf() as session:
        return {r.id: r.status for r in session.scalars(select(models.Run).order_by(models.Run.id))}


def verify_bundle(path: Path) -> int:
    """Check every file of an evidence bundle against SHA256SUMS and the manifest; files checked."""
    import json

    with zipfile.ZipFile(path) as zf:
        sums = zf.read("SHA256SUMS").decode()
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["missing"] == [] and manifest["mismatched"] == []
        checked = 0
        for line in io.StringIO(sums):
            digest, name = line.rstrip("\n").split("  ", 1)
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest, name
            checked += 1
    assert all(e.get("verified", True) for e in manifest["files"])
    return checked
