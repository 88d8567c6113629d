"""Export memory and speed: one million findings into a temporary SQLite, exported to CSV.

Prints the peak RSS before the export and after it (``resource.getrusage``: the high-water mark
of the process), and rows per second — measured, not asserted. The claim under test: the export
streams, so its memory does not grow with the number of rows. The database is filled by a child
process, so the peak "before" is this process with zwaudit imported, and the growth is the
export's own.

    .venv/bin/python bench/export_bench.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from zwaudit.app.export import ExportFilter, export_csv
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade

PROBES = ("search_accuracy", "auth_https", "link_health", "guide_completeness")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def populate(sf_url: str, rows: int, batch: int = 20000) -> None:
    engine = make_engine(sf_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(models.Portal),
            [{"id": f"p{i:02d}", "name": f"门户{i:02d}", "home_url": "https://x/", "level": "province", "updated_at": now} for i in range(20)],
        )  # fmt: skip
        conn.execute(
            insert(models.Run),
            [{"id": 1, "trigger": "nightly", "status": "ok", "started_at": now, "host": "bench", "config_dir": "", "summary": {}}],
        )  # fmt: skip
    done = 0
    while done < rows:
        n = min(batch, rows - done)
        findings = []
        evidence = []
        for k in range(done, done + n):
            failing = k % 7 == 0
            findings.append(
                {
                    "id": k + 1,
                    "run_id": 1,
                    "portal_id": f"p{k % 20:02d}",
                    "probe": PROBES[k % len(PROBES)],
                    "target": f"=cmd|' /C calc'!A{k}" if k % 1000 == 0 else f"https://portal/item/{k}",
                    "status": "fail" if failing else "pass",
                    "code": "broken_link" if failing else None,
                    "detail": {"url": f"https://portal/item/{k}", "note": "办事指南缺少办理时限"},
                    "probe_version": "1.0.0",
                    "observed_at": now,
                }
            )
            if failing:
                evidence.append(
                    {
                        "finding_id": k + 1,
                        "kind": "screenshot",
                        "path": f"run-1/p/{k}.png",
                        "sha256": "0" * 64,
                        "media_type": "image/png",
                    }
                )
        with engine.begin() as conn:
            conn.execute(insert(models.Finding), findings)
            if evidence:
                conn.execute(insert(models.Evidence), evidence)
        done += n
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the database and CSV in this directory")
    parser.add_argument("--populate-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.populate_only:
        populate(f"sqlite:///{args.populate_only}", args.rows)
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="zw-export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.sqlite"
    url = f"sqlite:///{db}"
    t0 = time.perf_counter()
    # populated in a child process, so this process's peak RSS reflects the export alone
    subprocess.run(
        [sys.executable, __file__, "--rows", str(args.rows), "--populate-only", str(db)], check=True
    )
    t_insert = time.perf_counter() - t0
    before = peak_rss_mb()
    engine = make_engine(url)
    sf = session_factory(engine)
    out = work / "findings.csv"
    t1 = time.perf_counter()
    result = export_csv(sf, ExportFilter(1), out, collect_evidence=False)
    t_export = time.perf_counter() - t1
    after = peak_rss_mb()
    engine.dispose()
    report = {
        "rows": result.rows,
        "insert_s": round(t_insert, 1),
        "export_s": round(t_export, 1),
        "export_rows_per_s": round(result.rows / t_export) if t_export else None,
        "csv_mb": round(out.stat().st_size / 1e6, 1),
        "peak_rss_mb_before_export": round(before, 1),
        "peak_rss_mb_after_export": round(after, 1),
        "peak_rss_growth_mb": round(after - before, 1),
    }
    print(json.dumps(report, indent=2))
    if args.keep is None:
        out.unlink()
        for leftover in work.iterdir():
            leftover.unlink()
        os.rmdir(work)


if __name__ == "__main__":
    main()
