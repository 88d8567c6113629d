"""One audit of the hostile province sbx-xian: wall time, peak RSS of the whole process tree, and
what calibration counts there.

    .venv/bin/python bench/hostile_bench.py [--timeout 1800] [--probe NAME ...] [--quick] [--json OUT]

Self-contained: the sandbox (sbx-xian only) runs in this process on ephemeral ports in a temporary
directory; the audit runs as ``zwaudit --config … --db sqlite:///<tmp> -v audit --portal sbx-xian``
in a child process, so the tree sampled (every 0.2 s from ``/proc``: the CLI, the crawl subprocess,
Chromium and its helpers, Node) is the auditor's alone, never the sandbox's. Peak RSS is the
largest sum of ``VmRSS`` over that tree (shared pages counted once per process, as ``ps`` would).
A run past ``--timeout`` is killed (its process group, by id) and reported as such; what it stored
is still scored.

``--quick`` shortens the sandbox's delays and floods (a smoke test of the bench, not a
measurement). The defaults are the issue's: first byte after 90 s, 2 GiB gzip bomb, 300 MiB page.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from sandbox.provinces import xian, xian_hostile  # noqa: E402
from sandbox.server import start  # noqa: E402
from zwaudit.app.calibration import compare, load_ground_truth, reported_findings  # noqa: E402
from zwaudit.app.calibration_hostile import hostile_counters  # noqa: E402
from zwaudit.config.loader import load_config  # noqa: E402
from zwaudit.db.engine import make_engine, session_factory, upgrade  # noqa: E402

PID = xian.ID
QUICK = {
    "first_byte_delay_s": 5,
    "drip_interval_s": 0.2,
    "drip_bytes": 200,
    "bomb_inflated_mib": 64,
    "huge_page_mib": 16,
    "flood_links": 2000,
    "hang_s": 30,
}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="latin-1") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss_bytes(root: int) -> int:
    """VmRSS summed over ``root`` and all its descendants."""
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += tree.get(pid, [])
        try:
            with open(f"/proc/{pid}/status", encoding="latin-1") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


class PeakSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self.done.wait(self.interval)


def audit(
    config_dir: Path, db_url: str, env: dict[str, str], probes: list[str], timeout: float, log: Path
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-c",
        "from zwaudit.app.cli import main; main()",
        "--config",
        str(config_dir),
        "--db",
        db_url,
        "-v",
    ]
    cmd += ["audit", "--portal", PID, *(a for p in probes for a in ("--probe", p))]
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        sampler = PeakSampler(child.pid)
        sampler.start()
        timed_out = False
        try:
            code = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(child.pid, signal.SIGKILL)  # our own child's process group, by its id
            code = child.wait()
        sampler.done.set()
        sampler.join()
    return {
        "wall_s": round(time.monotonic() - started, 1),
        "peak_rss_mib": round(sampler.peak / 2**20),
        "exit_code": code,
        "timed_out": timed_out,
    }


def crawled_hostile_pages(sf: Any, run_id: int, expectations: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """What the crawler stored for each hostile link (status, error, content type): its own
    classification, visible even when the run's crawl checks could not conclude."""
    from sqlalchemy import select

    from zwaudit.db import models
    from zwaudit.targets import normalize_url

    wanted = {
        e["target"]: e["code"] for e in expectations if e["status"] == "error" and e["probe"] == "link_health"
    }
    out: dict[str, list[Any]] = {t: [] for t in wanted}
    with sf() as session:
        rows = session.execute(
            select(
                models.CrawledPage.url,
                models.CrawledPage.status_code,
                models.CrawledPage.error,
                models.CrawledPage.content_type,
            ).where(models.CrawledPage.run_id == run_id)
        )
        for url, status, error, ctype in rows:
            target = normalize_url(url)
            if target in out and len(out[target]) < 3:
                out[target].append([status, (error or "")[:160], (ctype or "")[:40]])
    return {f"{t} (want {wanted[t]})": v for t, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="kill the audit after this many seconds"
    )
    parser.add_argument("--probe", action="append", default=[], help="audit only this check (repeatable)")
    parser.add_argument("--quick", action="store_true", help="short delays and small floods (smoke test)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--log", type=Path, help="keep the audit's log (JSON lines) here")
    args = parser.parse_args()
    if args.quick:
        xian_hostile.configure(**QUICK)
    with tempfile.TemporaryDirectory(prefix="zwaudit-hostile-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = dict(os.environ)
        env.update(
            {
                "ZWAUDIT_VAR": str(tmp / "var"),
                "ZWAUDIT_EVIDENCE": str(tmp / "evidence"),
                "PYTHONPATH": os.pathsep.join([str(PROJECT), env.get("PYTHONPATH", "")]),
            }
        )
        os.environ["ZWAUDIT_EVIDENCE"] = env["ZWAUDIT_EVIDENCE"]  # the scoring below reads it
        db_url = f"sqlite:///{tmp / 'bench.sqlite'}"
        engine = make_engine(db_url)
        upgrade(engine)
        sf = session_factory(engine)
        sb = start([PID], base_port=0, directory=tmp / "sandbox")
        since = time.time()
        try:
            figures = audit(sb.config_dir, db_url, env, args.probe, args.timeout, tmp / "audit.log")
            until = time.time()
            config = load_config(sb.config_dir)
            with sf() as session:
                from sqlalchemy import func, select

                from zwaudit.db import models

                run_id = session.scalar(select(func.max(models.Run.id)))
            if run_id is None:
                print(f"no run was stored; see the log:\n{(tmp / 'audit.log').read_text()[-3000:]}")
                return 3
            if args.log:
                shutil.copyfile(tmp / "audit.log", args.log)
            truth = load_ground_truth(sb.ground_truth_dir, [PID])
            probes = args.probe or sorted(config.check_registry)
            report = compare(truth, reported_findings(sf, run_id), probes, run_id)
            notes = sb.ground_truth(PID)["notes"]["hostile"]
            counters = hostile_counters(
                config, sf, PID, run_id, notes, sb.directory, (since, until), tmp, tmp / "audit.log"
            )
            crawler_view = crawled_hostile_pages(sf, run_id, truth[PID])
            errors = sorted(
                [r.probe, r.code or "", r.target, r.message[:160]]
                for r in reported_findings(sf, run_id)
                if r.status == "error"
            )
        finally:
            sb.stop()
            engine.dispose()
    result = {
        **figures,
        "quick": args.quick,
        "checks": {p: {"tp": s.tp, "fp": s.fp, "fn": s.fn} for p, s in sorted(report.per_probe.items())},
        "false_positives": [[r.probe, r.code, r.target] for r in report.false_positives],
        "false_negatives": [[p, c, t] for _, p, t, c in report.false_negatives],
        "hostile_targets": {
            p: {
                "right_kind": s.correct,
                "wrong_kind": s.wrong_kind,
                "verdict": s.verdict,
                "missing": s.missing,
            }
            for p, s in sorted(report.per_error.items())
        },
        "hostile_mismatches": [
            [m.problem, m.probe, m.expected, m.got, m.target] for m in report.error_mismatches
        ],
        "errors": errors,
        "crawler_view_of_hostile_links": crawler_view,
        "counters": counters.as_dict(),
    }
    print(
        f"wall time        {result['wall_s']} s{' (killed at the timeout)' if figures['timed_out'] else ''}"
    )
    print(f"peak RSS (tree)  {result['peak_rss_mib']} MiB")
    print(
        json.dumps(
            {k: v for k, v in result.items() if k not in ("wall_s", "peak_rss_mib")},
            ensure_ascii=False,
            indent=1,
        )
    )
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
