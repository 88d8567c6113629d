"""The four browser probes over every sandbox province: the orchestrator beside a naive run.

    .venv/bin/python bench/probes_bench.py [--province sbx-shu ...] [--probe search_accuracy ...]

Both sides run in this one process against the same sandbox (started here on ephemeral ports):

* optimised — :func:`zwaudit.app.orchestrator.run_audit`: one Chromium for the audit, one context per portal,
  portals concurrently (``settings.audit.portal_concurrency``), checks in sequence per portal;
* naive — portals in sequence, and for every (portal, check) a freshly launched Chromium.

It prints the wall time of each, their ratio, and whether both sides reached the same verdicts
(a speed-up that changes the findings would be a bug, not a gain). The naive side runs first so
the optimised side cannot benefit from a warmed-up sandbox. The captcha province's stand-in
person logs in once beforehand (as in ``zwaudit calibrate``), for both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from sandbox.server import start  # noqa: E402
from zwaudit.app.calibration import LOGGED_IN_CHECKS, reported_findings, stand_in_logins  # noqa: E402
from zwaudit.app.check_runner import PortalCheckRunner  # noqa: E402
from zwaudit.app.orchestrator import run_audit  # noqa: E402
from zwaudit.browser import AuditBrowser  # noqa: E402
from zwaudit.config.loader import Config, load_config  # noqa: E402
from zwaudit.db.engine import make_engine, session_factory, upgrade  # noqa: E402
from zwaudit.secrets import Secrets  # noqa: E402

FOUR = ["search_accuracy", "auth_https", "name_masking", "duplicate_login"]

Verdicts = set[tuple[str, str, str, str, str | None]]


def naive(config: Config, portal_ids: list[str], probes: list[str], evidence: Path) -> Verdicts:
    """Portals one after another; every check launches its own Chromium."""
    secrets = Secrets.for_config_dir(config.directory)
    verdicts: Verdicts = set()

    async def one(pid: str, name: str) -> None:
        async with AuditBrowser(config.settings.browser, config.settings.user_agent) as browser:
            audit = PortalCheckRunner(
                config, config.portal(pid), 0, secrets=secrets, browser=browser, evidence_root=evidence
            )
            try:
                for f in await audit.run_check(name):
                    verdicts.add((pid, name, f.target, f.status.value, f.code))
            finally:
                await audit.close()

    for pid in portal_ids:
        for name in probes:
            asyncio.run(one(pid, name))
    return verdicts


def optimised(config: Config, portal_ids: list[str], probes: list[str], work: Path) -> Verdicts:
    db_url = f"sqlite:///{work / 'bench.sqlite'}"
    engine = make_engine(db_url)
    upgrade(engine)
    sf = session_factory(engine)
    try:
        result = run_audit(config, sf, portal_ids=portal_ids, probes=probes, trigger="bench", db_url=db_url)
        return {
            (r.portal_id, r.probe, r.target, r.status, r.code) for r in reported_findings(sf, result.run_id)
        }
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--province", action="append", help="sandbox province id (default: all)")
    parser.add_argument("--probe", action="append", help=f"probe (default: those of {FOUR} registered)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="probes-bench-") as tmp:
        work = Path(tmp)
        sandbox = start(args.province, base_port=0, directory=work / "sandbox")
        try:
            config = load_config(sandbox.config_dir)
            probes = args.probe or [p for p in FOUR if p in config.check_registry]
            portal_ids = sorted(sandbox.portal_ids)
            if LOGGED_IN_CHECKS & set(probes):
                stand_in_logins(config, portal_ids, sandbox.ground_truth_dir, sandbox.captcha_dir)
            print(f"provinces: {', '.join(portal_ids)}\nprobes: {', '.join(probes)}", flush=True)

            started = time.perf_counter()
            slow = naive(config, portal_ids, probes, work / "evidence-naive")
            naive_s = time.perf_counter() - started
            print(f"naive (fresh browser per check, portals in sequence): {naive_s:8.1f} s", flush=True)

            os.environ["ZWAUDIT_EVIDENCE"] = str(work / "evidence-optimised")
            started = time.perf_counter()
            fast = optimised(config, portal_ids, probes, work)
            optimised_s = time.perf_counter() - started
            concurrency = config.settings.audit.portal_concurrency
            print(f"optimised (run_audit, one browser, {concurrency} portals at once): {optimised_s:8.1f} s")
            print(f"ratio naive / optimised: {naive_s / optimised_s:.2f}x")
            same = slow == fast
            print(f"same verdicts on both sides: {'yes' if same else 'NO'}")
            if not same:
                for row in sorted(slow ^ fast, key=str)[:20]:
                    print(f"  {'naive only' if row in slow else 'optimised only'}: {row}")
            return 0 if same else 1
        finally:
            sandbox.stop()


if __name__ == "__main__":
    raise SystemExit(main())
